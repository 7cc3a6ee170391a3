package ua

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// tokenServer is a small RFC 6749 token endpoint shaped like the
// server's (auth/users): password and refresh grants with rotation.
type tokenServer struct {
	mu       sync.Mutex
	n        int
	refresh  map[string]bool // usable refresh tokens
	grants   []string        // grant_type of each request
	fail500  bool
	clientID string
}

func newTokenServer(t *testing.T) (*tokenServer, string) {
	ts := &tokenServer{refresh: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(srv.Close)
	return ts, srv.URL + "/oauth/token"
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.fail500 {
		http.Error(w, "<html>proxy error</html>", http.StatusBadGateway)
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	gt := r.PostForm.Get("grant_type")
	ts.grants = append(ts.grants, gt)
	ts.clientID = r.PostForm.Get("client_id")
	fail := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	switch gt {
	case "password":
		if r.PostForm.Get("username") != "alice" || r.PostForm.Get("password") != "pw" {
			fail("invalid_grant", "invalid username or password")
			return
		}
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if !ts.refresh[rt] {
			fail("invalid_grant", "refresh token invalid")
			return
		}
		delete(ts.refresh, rt) // rotation
	default:
		fail("unsupported_grant_type", "grant_type not supported")
		return
	}
	ts.n++
	rt := fmt.Sprintf("r%d", ts.n)
	ts.refresh[rt] = true
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("a%d", ts.n), "token_type": "Bearer",
		"expires_in": 300, "refresh_token": rt, "scope": "sip:register sip:presence"})
}

func TestPasswordGrant(t *testing.T) {
	ctx := testCtx(t)
	ts, url := newTokenServer(t)
	src := PasswordGrant(url, "sipua", "alice", "pw")
	steps := []struct {
		name     string
		rejected string
		revoke   bool // the server forgets every refresh token first
		want     string
		grant    string
	}{
		{"log in", "", false, "a1", "password"},
		{"refresh a rejected token", "a1", false, "a2", "refresh_token"},
		{"refresh near expiry", "", false, "a3", "refresh_token"},
		{"refresh refused: log in again", "a3", true, "a4", "password"},
	}
	for _, s := range steps {
		ts.mu.Lock()
		if s.revoke {
			clear(ts.refresh)
		}
		ts.mu.Unlock()
		tok, err := src(ctx, s.rejected)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		ts.mu.Lock()
		last := ts.grants[len(ts.grants)-1]
		client := ts.clientID
		ts.mu.Unlock()
		if tok.AccessToken != s.want || last != s.grant || client != "sipua" {
			t.Fatalf("%s: token %q by %s (client %q); want %q by %s", s.name, tok.AccessToken, last, client, s.want, s.grant)
		}
		if left := time.Until(tok.Expiry); left < 290*time.Second || left > 300*time.Second {
			t.Errorf("%s: expiry in %v", s.name, left)
		}
	}
}

func TestGrantErrors(t *testing.T) {
	ctx := testCtx(t)
	ts, url := newTokenServer(t)
	for _, tc := range []struct {
		name    string
		src     TokenSource
		fail500 bool
		auth    bool   // errors.Is(err, ErrAuth)
		text    string // in the error
	}{
		{"wrong password", PasswordGrant(url, "", "alice", "nope"), false, true, "ua: oauth: invalid_grant: invalid username or password (HTTP 400)"},
		{"unknown refresh token", RefreshGrant(url, "sipua", "r-unknown"), false, true, "invalid_grant: refresh token invalid"},
		{"not an OAuth answer", PasswordGrant(url, "", "alice", "pw"), true, false, "http_error: <html>proxy error</html> (HTTP 502)"},
		{"no server", PasswordGrant("http://127.0.0.1:1/oauth/token", "", "alice", "pw"), false, false, "ua: oauth: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.mu.Lock()
			ts.fail500 = tc.fail500
			ts.mu.Unlock()
			_, err := tc.src(ctx, "")
			if err == nil || errors.Is(err, ErrAuth) != tc.auth || !strings.Contains(err.Error(), tc.text) ||
				strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q (ErrAuth %v), want %q (ErrAuth %v)", err, errors.Is(err, ErrAuth), tc.text, tc.auth)
			}
		})
	}
	// A refresh grant keeps the rotated refresh token.
	ts.mu.Lock()
	ts.fail500 = false
	ts.refresh["kept"] = true
	ts.mu.Unlock()
	src := RefreshGrant(url, "sipua", "kept")
	for range 3 {
		if _, err := src(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
}
