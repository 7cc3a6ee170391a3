package digest

import (
	"testing"
	"time"
)

// answers returns n right answers with distinct nonces and algorithm alg.
// A nonce count may be used once, so a benchmark cannot repeat one answer.
// The clock moves on a microsecond per nonce, as a real one would.
func answers(f *fixture, alg string, n int) []*Credentials {
	out := make([]*Credentials, n)
	for i := range out {
		f.now = f.now.Add(time.Microsecond)
		out[i] = f.answer(alg, f.nonce(), "00000001")
	}
	return out
}

// storedHA1 answers like a users service with the HA1 at hand.
func storedHA1(f *fixture) HA1Func {
	ha1 := map[string]string{
		AlgorithmMD5:    HA1(AlgorithmMD5, testUser, testRealm, testPass),
		AlgorithmSHA256: HA1(AlgorithmSHA256, testUser, testRealm, testPass),
	}
	return func(_, _, alg string) (string, error) { return ha1[alg], nil }
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{AlgorithmMD5, AlgorithmSHA256, AlgorithmSHA256Sess} {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, nil)
			ha1 := storedHA1(f)
			const batch = 4096
			var creds []*Credentials
			b.ReportAllocs()
			for b.Loop() {
				if len(creds) == 0 {
					b.StopTimer()
					creds = answers(f, alg, batch)
					b.StartTimer()
				}
				if _, err := f.srv.Verify(testMethod, creds[0], ha1); err != nil {
					b.Fatal(err)
				}
				creds = creds[1:]
			}
		})
	}
}

func BenchmarkChallenges(b *testing.B) {
	f := newFixture(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		_ = f.srv.Challenges(false)
	}
}

func BenchmarkParseCredentials(b *testing.B) {
	params := rfcVectors[2].header
	b.SetBytes(int64(len(params)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCredentials(params); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyAllocs pins the allocations of an accepted answer: the
// Identity, its URI, its TokenID and the replay cache's entry.
func TestVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds allocations")
	}
	f := newFixture(t, nil)
	ha1 := storedHA1(f)
	const runs = 100
	creds := answers(f, AlgorithmSHA256, runs+1)
	allocs := testing.AllocsPerRun(runs, func() {
		if _, err := f.srv.Verify(testMethod, creds[0], ha1); err != nil {
			t.Fatal(err)
		}
		creds = creds[1:]
	})
	if allocs > 4 {
		t.Errorf("Verify allocates %v times, want at most 4", allocs)
	}
}
