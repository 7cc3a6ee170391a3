package auth

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkVerifyCold is a verification that misses the token cache: header
// checks, key lookup, signature and claims. Tokens are signed up front and
// the cache is bypassed, so every iteration is a fresh token.
func BenchmarkVerifyCold(b *testing.B) {
	for _, k := range []testKey{keyES, keyEd, keyRS} {
		b.Run(k.alg, func(b *testing.B) {
			bearer := newTestBearer(b, testConfig(newFakeClock(), keySet(b, k)))
			tokens := make([]string, 256)
			for i := range tokens {
				tokens[i] = sign(b, k, "at+jwt", with("jti", fmt.Sprint("jti-", i)))
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tok := tokens[i%len(tokens)]
				i++
				if err := checkToken(tok); err != nil {
					b.Fatal(err)
				}
				if _, _, err := bearer.verifyUncached(ctx, tok, tokenKey(tok)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyCached is the steady state: a phone re-registering with
// the token it registered with.
func BenchmarkVerifyCached(b *testing.B) {
	bearer := newTestBearer(b, testConfig(newFakeClock(), keySet(b, keyES)))
	tok := sign(b, keyES, "at+jwt", claims(testEpoch))
	ctx := context.Background()
	if _, err := bearer.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bearer.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel measures the cache under contention.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	bearer := newTestBearer(b, testConfig(newFakeClock(), keySet(b, keyES)))
	tokens := make([]string, 64)
	for i := range tokens {
		tokens[i] = sign(b, keyES, "at+jwt", with("jti", fmt.Sprint("jti-", i)))
		if _, err := bearer.Verify(context.Background(), tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx, i := context.Background(), 0
		for pb.Next() {
			if _, err := bearer.Verify(ctx, tokens[i%len(tokens)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
