package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, path string) *store.Bolt {
	t.Helper()
	b, err := store.OpenBolt(store.BoltConfig{Path: path}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func save(t *testing.T, s store.Store, k store.Kind, key, val string) {
	t.Helper()
	done := make(chan error, 1)
	s.Save(k, key, []byte(val), func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSaveLoadDeleteAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db", "b2bua.db")
	s := open(t, path)
	save(t, s, "reg", "sip:a@x", "one")
	save(t, s, "reg", "sip:b@x", "two")
	save(t, s, "reg", "sip:a@x", "three")
	done := make(chan error, 1)
	s.Delete("reg", "sip:b@x", func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	defer s.Close()
	tests := []struct {
		key  string
		want string
		err  error
	}{
		{"sip:a@x", "three", nil},
		{"sip:b@x", "", store.ErrNotFound},
		{"sip:c@x", "", store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			v, err := s.Load("reg", tc.key)
			if !errors.Is(err, tc.err) || string(v) != tc.want {
				t.Fatalf("Load = %q, %v; want %q, %v", v, err, tc.want, tc.err)
			}
		})
	}
	if _, err := s.Load("nokind", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown bucket: %v", err)
	}
}

// TestGroupCommitKeepsOrder checks that concurrent writers are all answered,
// and that the last write queued for a key is the one that stays.
func TestGroupCommitKeepsOrder(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "b.db"))
	defer s.Close()
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			for i := range each {
				inner.Add(1)
				s.Save("k", fmt.Sprintf("w%d", w), []byte(fmt.Sprint(i)), func(err error) {
					if err != nil {
						t.Error(err)
					}
					inner.Done()
				})
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	n := 0
	err := s.Scan("k", func(key string, val []byte) error {
		n++
		if string(val) != fmt.Sprint(each-1) {
			t.Errorf("%s = %s, want the last write %d", key, val, each-1)
		}
		return nil
	})
	if err != nil || n != writers {
		t.Fatalf("scan: %d records, %v", n, err)
	}
}

func TestWriteAfterCloseFails(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "c.db"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var got error
	s.Save("k", "a", []byte("v"), func(err error) { got = err })
	if !errors.Is(got, store.ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", got)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestSecondOpenTimesOut documents bbolt's single-writer lock: a second
// process (or a second open) on the same data directory waits, then fails.
func TestSecondOpenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	s := open(t, path)
	defer s.Close()
	start := time.Now()
	_, err := store.OpenBolt(store.BoltConfig{Path: path, OpenTimeout: 100 * time.Millisecond}, zap.NewNop())
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("second open did not honour its timeout")
	}
}

func BenchmarkSaveGroupCommit(b *testing.B) {
	for _, fsync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) {
			s, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(b.TempDir(), "e.db"), Fsync: fsync}, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			val := make([]byte, 200)
			b.SetParallelism(64) // many requests in flight, as under load
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				done := make(chan error, 1)
				i := 0
				for pb.Next() {
					i++
					s.Save("reg", fmt.Sprintf("sip:user%d@localhost", i%100000), val, func(err error) { done <- err })
					<-done
				}
			})
		})
	}
}

// TestPanickingCallbackDoesNotStopTheStore: a writer's callback that panics
// is logged; the store goes on answering the others.
func TestPanickingCallbackDoesNotStopTheStore(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	s.Save("k", "bad", []byte("v"), func(error) { panic("writer bug") })
	save(t, s, "k", "good", "v")
	if v, err := s.Load("k", "bad"); err != nil || string(v) != "v" {
		t.Fatalf("the write of the panicking writer: %q %v", v, err)
	}
}

// TestFullQueueRefusesAtOnce: a write that finds the queue full is failed
// with ErrBusy before Save returns, instead of blocking the caller (an
// actor's Receive).
func TestFullQueueRefusesAtOnce(t *testing.T) {
	b, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(t.TempDir(), "db"), Queue: 1, MaxBatch: 1}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m := store.NewMetrics(nil)
	b.SetMetrics(m)
	busy := 0
	for i := range 2000 {
		refused := false
		b.Save("k", fmt.Sprint(i), []byte("v"), func(err error) {
			if errors.Is(err, store.ErrBusy) {
				refused = true // synchronous: before Save returns
			}
		})
		if refused {
			busy++
		}
	}
	if busy == 0 {
		t.Fatal("2000 writes into a queue of one: none refused")
	}
}

func TestScanPrefixSeesQueuedWrites(t *testing.T) {
	b := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer b.Close()
	done := make(chan error, 8)
	for _, k := range []string{"a\x00x", "a\x00y", "a\x00z", "b\x00x", "a"} {
		b.Save("w", k, []byte(k), func(err error) { done <- err })
	}
	for range 5 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	b.Delete("w", "a\x00y", func(error) {})
	b.Save("w", "a\x00q", []byte{}, func(error) {})
	got := map[string]string{}
	if err := b.ScanPrefix("w", "a\x00", func(k string, v []byte) error { got[k] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a\x00x": "a\x00x", "a\x00z": "a\x00z", "a\x00q": ""}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
