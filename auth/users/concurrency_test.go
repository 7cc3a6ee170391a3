package users

import (
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentUse runs what HTTP goroutines and the CLI do at once, for
// the race detector, and checks the outcomes that need serialization.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw")
	rt := f.login(t, "alice", "pw", "").str("refresh_token")

	const n = 8
	var refreshed, added atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Not f.refresh: it may call t.Fatal, which must not run
			// off the test goroutine.
			resp, err := f.srv.Client().PostForm(f.srv.URL+PathToken, url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				refreshed.Add(1)
			}
		})
		wg.Go(func() {
			err := f.svc.AddUser("bob", "pw", nil)
			if err == nil {
				added.Add(1)
			} else if !errors.Is(err, ErrUserExists) {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if i%4 == 0 {
				if _, err := f.svc.RotateKeys(); err != nil {
					t.Error(err)
				}
			}
			if f.svc.PublicKeys().Len() == 0 {
				t.Error("empty JWK set")
			}
			if _, _, err := f.svc.IssueAccessToken("alice", nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if refreshed.Load() != 1 || added.Load() != 1 {
		t.Fatalf("%d refreshes and %d AddUser succeeded, want 1 each", refreshed.Load(), added.Load())
	}
	if got := f.svc.PublicKeys().Len(); got != 3 {
		t.Fatalf("JWK set has %d keys after two rotations, want 3", got)
	}
}
