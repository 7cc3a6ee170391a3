package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLoadTokens(t *testing.T) {
	tests := []struct {
		name string
		file string
		err  error
		// want maps user number and name to the expected header.
		want map[string]string
	}{
		{name: "list in turn", file: "a\n\n# comment\nb\n",
			want: map[string]string{"0 user0": "a", "1 user1": "b", "2 user2": "a"}},
		{name: "by user", file: "user1\ttok1\nuser7\ttok7\n",
			want: map[string]string{"1 user1": "tok1", "7 user7": "tok7", "2 user2": ""}},
		{name: "mixed", file: "default\nuser3\tthree\n",
			want: map[string]string{"3 user3": "three", "4 user4": "default"}},
		{name: "empty", file: "\n# nothing\n", err: ErrToken},
		{name: "bad pair", file: "user1\t\n", err: ErrToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := LoadTokens(strings.NewReader(tc.file))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			for key, want := range tc.want {
				var n int
				var name string
				parts := strings.Fields(key)
				name = parts[1]
				for _, c := range parts[0] {
					n = n*10 + int(c-'0')
				}
				got := string(tok.header(n, []byte(name)))
				if want == "" && got != "" || want != "" && got != "Authorization: Bearer "+want+"\r\n" {
					t.Errorf("%s: header %q, want token %q", key, got, want)
				}
			}
		})
	}
}

// tokenServer is an RFC 6749 §4.3 token endpoint accepting password "pw".
func tokenServer(t *testing.T, tokenType string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request"})
			return
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		f := r.PostForm
		if f.Get("grant_type") != "password" || f.Get("client_id") != "sipua" || f.Get("password") != "pw" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "bad credentials"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "at-" + f.Get("username"), "token_type": tokenType, "expires_in": 3600,
		})
	}))
}

func TestPasswordGrant(t *testing.T) {
	tests := []struct {
		name      string
		tokenType string
		password  string
		clientID  string
		err       error
	}{
		{name: "ok", tokenType: "Bearer", password: "pw", clientID: "sipua"},
		{name: "lower-case type", tokenType: "bearer", password: "pw", clientID: "sipua"},
		{name: "wrong password", tokenType: "Bearer", password: "nope", clientID: "sipua", err: ErrToken},
		{name: "no client id", tokenType: "Bearer", password: "pw", err: ErrToken},
		{name: "not bearer", tokenType: "mac", password: "pw", clientID: "sipua", err: ErrToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := tokenServer(t, tc.tokenType)
			defer srv.Close()
			g := &PasswordGrant{URL: srv.URL, ClientID: tc.clientID, Client: srv.Client(), Parallel: 2}
			tok, err := g.FetchAll(context.Background(), []string{"user0", "user1", "user2"}, tc.password)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if tok.Len() != 3 || string(tok.header(1, []byte("user1"))) != "Authorization: Bearer at-user1\r\n" {
				t.Fatalf("tokens %+v", tok)
			}
		})
	}
}

func TestPasswordGrantDown(t *testing.T) {
	srv := tokenServer(t, "Bearer")
	url := srv.URL
	srv.Close()
	g := &PasswordGrant{URL: url, ClientID: "sipua"}
	if _, err := g.Fetch(context.Background(), "u", "pw"); !errors.Is(err, ErrToken) {
		t.Fatalf("err = %v", err)
	}
}
