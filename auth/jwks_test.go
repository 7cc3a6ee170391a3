package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"go.uber.org/zap"
)

// jwksServer serves a JWK set that a test swaps to rotate keys.
type jwksServer struct {
	*httptest.Server
	body         atomic.Pointer[[]byte]
	cacheControl atomic.Pointer[string]
	status       atomic.Int32 // 0 = 200
	fetches      atomic.Int32
	hold         atomic.Pointer[chan struct{}] // when set, answers wait for it to close
}

func newJWKSServer(t *testing.T, set jwk.Set, cacheControl string) *jwksServer {
	s := &jwksServer{}
	s.serve(t, set)
	s.cacheControl.Store(&cacheControl)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if hold := s.hold.Load(); hold != nil {
			<-*hold
		}
		if code := s.status.Load(); code != 0 {
			w.WriteHeader(int(code))
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		if cc := *s.cacheControl.Load(); cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// serve makes the server answer with set from now on.
func (s *jwksServer) serve(t *testing.T, set jwk.Set) {
	body, err := json.Marshal(set)
	must(t, err)
	s.body.Store(&body)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// remoteBearer is a Bearer on srv's JWKS alone, after its first fetch.
func remoteBearer(t *testing.T, srv *jwksServer, clock *fakeClock) *Bearer {
	cfg := testConfig(clock, nil)
	cfg.LocalKeys, cfg.JWKSURI = nil, srv.URL
	b := newTestBearer(t, cfg)
	waitFor(t, "the first JWKS fetch", func() bool { _, gen, _ := b.remote.snapshot(); return gen > 0 })
	return b
}

func TestJWKSRotation(t *testing.T) {
	r1, r2, r3 := testKey{"r1", "ES256", nil}, testKey{"r2", "EdDSA", nil}, testKey{"r3", "RS256", nil}
	srv := newJWKSServer(t, keySet(t, r1), "max-age=3600")
	clock := newFakeClock()
	b := remoteBearer(t, srv, clock)
	ctx := context.Background()
	verify := func(k testKey) error {
		_, err := b.Verify(ctx, sign(t, k, "at+jwt", with("jti", k.kid)))
		return err
	}
	must(t, verify(r1))

	srv.serve(t, keySet(t, r2)) // rotation: r2 is unknown until a refresh
	must(t, verify(r2))
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d after the first unknown kid, want 2", n)
	}

	srv.serve(t, keySet(t, r3))
	if err := verify(r3); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("within 10 s of the last refresh: %v, want ErrInvalidToken", err)
	}
	if err := verify(testKey{"r4", "ES256", nil}); !errors.Is(err, ErrInvalidToken) || srv.fetches.Load() != 2 {
		t.Fatalf("unknown kids caused %d fetches, want 2 (rate limit)", srv.fetches.Load())
	}
	clock.Advance(11 * time.Second)
	must(t, verify(r3))
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	k := testKey{"k1", "ES256", nil}
	srv := newJWKSServer(t, keySet(t), "")
	clock := newFakeClock()
	b := remoteBearer(t, srv, clock)
	srv.status.Store(http.StatusBadGateway)
	if _, err := b.Verify(context.Background(), sign(t, k, "", claims(testEpoch))); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("JWKS answering 502: %v, want ErrUnavailable", err)
	}
	srv.status.Store(0)
	srv.serve(t, keySet(t, k))
	clock.Advance(10 * time.Second)
	if _, err := b.Verify(context.Background(), sign(t, k, "", claims(testEpoch))); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestJWKSDown(t *testing.T) {
	srv := newJWKSServer(t, keySet(t), "")
	srv.Close()
	cfg := testConfig(newFakeClock(), nil)
	cfg.LocalKeys, cfg.JWKSURI = nil, srv.URL
	b := newTestBearer(t, cfg)
	if _, err := b.Verify(context.Background(), sign(t, keyES, "", claims(testEpoch))); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("JWKS down: %v, want ErrUnavailable", err)
	}
}

func TestJWKSSlow(t *testing.T) {
	srv := newJWKSServer(t, keySet(t, keyES), "")
	b := remoteBearer(t, srv, newFakeClock())
	hold := make(chan struct{})
	srv.hold.Store(&hold)
	defer close(hold)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Verify(ctx, sign(t, testKey{"new", "ES256", nil}, "", claims(testEpoch))); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("JWKS refresh outlasting the request: %v, want ErrUnavailable", err)
	}
	if _, err := b.Verify(context.Background(), sign(t, keyES, "", claims(testEpoch))); err != nil {
		t.Fatalf("known kid while the JWKS is slow: %v", err)
	}
}

func TestLocalAndRemoteKeys(t *testing.T) {
	remote := testKey{"remote-1", "RS256", nil}
	srv := newJWKSServer(t, keySet(t, remote), "max-age=600")
	cfg := testConfig(newFakeClock(), keySet(t, keyES))
	cfg.JWKSURI = srv.URL
	b := newTestBearer(t, cfg)
	for _, k := range []testKey{keyES, remote, keyES} {
		if _, err := b.Verify(context.Background(), sign(t, k, "", with("jti", k.kid))); err != nil {
			t.Fatalf("%s: %v", k.kid, err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1: local kids never ask the remote set", n)
	}
}

func TestJWKSCacheControl(t *testing.T) {
	cases := []struct {
		name, cacheControl, age string
		want                    time.Duration
	}{
		{"max-age", "max-age=300", "", 5 * time.Minute},
		{"public, max-age", "public, max-age=7200", "", 2 * time.Hour},
		{"quoted", `max-age="120"`, "", 2 * time.Minute},
		{"minus Age", "max-age=600", "100", 500 * time.Second},
		{"below the floor", "max-age=5", "", time.Minute},
		{"above the ceiling", "max-age=99999999999", "", 24 * time.Hour},
		{"no-cache", "no-cache", "", time.Minute},
		{"no-store wins", "max-age=600, no-store", "", time.Minute},
		{"absent", "", "", jwksDefaultRefresh},
		{"malformed", "max-age=soon", "", jwksDefaultRefresh},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.cacheControl != "" {
				h.Set("Cache-Control", tc.cacheControl)
			}
			if tc.age != "" {
				h.Set("Age", tc.age)
			}
			if got := refreshAfter(h, jwksMinRefresh, jwksMaxRefresh); got != tc.want {
				t.Fatalf("refreshAfter = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("served", func(t *testing.T) {
		srv := newJWKSServer(t, keySet(t, keyES), "public, max-age=7200")
		b := remoteBearer(t, srv, newFakeClock())
		b.remote.mu.Lock()
		next := b.remote.next
		b.remote.mu.Unlock()
		if next != 2*time.Hour {
			t.Fatalf("next refresh in %v, want 2h", next)
		}
	})
}

func TestJWKSBackgroundRefresh(t *testing.T) {
	a, b := testKey{"bg-a", "ES256", nil}, testKey{"bg-b", "ES256", nil}
	srv := newJWKSServer(t, keySet(t, a), "max-age=0")
	r := newRemoteKeys(srv.URL, srv.Client(), newFakeClock().Now, zap.NewNop())
	r.minRefresh = 10 * time.Millisecond // max-age=0 clamps to this
	r.start()
	defer r.stop()
	waitFor(t, "key a", func() bool { s, _, _ := r.snapshot(); return hasKid(s, a.kid) })
	srv.serve(t, keySet(t, b))
	waitFor(t, "key b without any token asking", func() bool { s, _, _ := r.snapshot(); return hasKid(s, b.kid) })
}
