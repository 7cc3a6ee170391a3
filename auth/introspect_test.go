package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Client credentials of the test introspection endpoint; the secret needs
// form-urlencoding (RFC 6749 §2.3.1).
const (
	introClientID = "sip-edge"
	introSecret   = "s3cret:with%odd chars"
)

// introspectionServer is an RFC 7662 endpoint: it checks the client's
// Basic credentials and answers from a token → response table.
type introspectionServer struct {
	*httptest.Server
	tokens map[string]map[string]any
	calls  atomic.Int32
}

func newIntrospectionServer(t *testing.T, tokens map[string]map[string]any) *introspectionServer {
	s := &introspectionServer{tokens: tokens}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *introspectionServer) handle(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	user, pass, ok := r.BasicAuth()
	id, _ := url.QueryUnescape(user)
	secret, _ := url.QueryUnescape(pass)
	if !ok || id != introClientID || secret != introSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="introspection"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		r.PostFormValue("token_type_hint") != "access_token" {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	resp, ok := s.tokens[r.PostFormValue("token")]
	if !ok {
		resp = map[string]any{"active": false} // RFC 7662 §2.2: nothing else
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func introConfig(clock *fakeClock, endpoint string) BearerConfig {
	cfg := testConfig(clock, nil)
	cfg.LocalKeys = nil
	cfg.Introspection = &IntrospectionConfig{URL: endpoint, ClientID: introClientID, ClientSecret: introSecret}
	return cfg
}

func TestIntrospection(t *testing.T) {
	exp := testEpoch.Add(time.Hour).Unix()
	active := func(kv ...any) map[string]any {
		m := map[string]any{"active": true, "sub": "alice", "scope": "sip:register sip:presence", "exp": exp,
			"iss": testIssuer, "aud": testAudience, "client_id": "phone"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	srv := newIntrospectionServer(t, map[string]map[string]any{
		"good":       active(),
		"jti":        active("jti", "j-42"),
		"username":   active("sub", nil, "username", "bob"),
		"inactive":   {"active": false},
		"active-str": active("active", "true"),
		"expired":    active("exp", testEpoch.Add(-time.Minute).Unix()),
		"future":     active("nbf", testEpoch.Add(time.Hour).Unix()),
		"other-iss":  active("iss", "https://evil.example"),
		"other-aud":  active("aud", []string{"x", "y"}),
		"aud-list":   active("aud", []string{"x", testAudience}),
		"no-sub":     active("sub", nil),
	})
	b := newTestBearer(t, introConfig(newFakeClock(), srv.URL))
	cases := []struct {
		token string
		want  error
		uri   string
	}{
		{"good", nil, "sip:alice@example.org"},
		{"jti", nil, "sip:alice@example.org"},
		{"username", nil, "sip:bob@example.org"},
		{"aud-list", nil, "sip:alice@example.org"},
		{"inactive", ErrInvalidToken, ""},
		{"unknown", ErrInvalidToken, ""},
		{"active-str", ErrInvalidToken, ""},
		{"expired", ErrInvalidToken, ""},
		{"future", ErrInvalidToken, ""},
		{"other-iss", ErrInvalidToken, ""},
		{"other-aud", ErrInvalidToken, ""},
		{"no-sub", ErrInvalidToken, ""},
	}
	for _, tc := range cases {
		t.Run(tc.token, func(t *testing.T) {
			id, err := b.Verify(context.Background(), tc.token)
			if !errors.Is(err, tc.want) || (err == nil && id.URI != tc.uri) {
				t.Fatalf("Verify = %+v, %v; want %s, %v", id, err, tc.uri, tc.want)
			}
			if err != nil {
				return
			}
			if !slices.Equal(id.Scopes, []string{ScopeRegister, ScopePresence}) || !id.Expires.Equal(time.Unix(exp, 0)) || id.Method != "bearer" {
				t.Errorf("identity = %+v", id)
			}
			if tc.token == "jti" && id.TokenID != "j-42" {
				t.Errorf("TokenID = %q, want the jti", id.TokenID)
			}
		})
	}
}

func TestIntrospectionCache(t *testing.T) {
	srv := newIntrospectionServer(t, map[string]map[string]any{
		"long":  {"active": true, "sub": "alice", "exp": testEpoch.Add(time.Hour).Unix()},
		"short": {"active": true, "sub": "alice", "exp": testEpoch.Add(20 * time.Second).Unix()},
	})
	clock := newFakeClock()
	b := newTestBearer(t, introConfig(clock, srv.URL))
	verify := func(token string, wantCalls int32) {
		t.Helper()
		if _, err := b.Verify(context.Background(), token); err != nil {
			t.Fatal(err)
		}
		if n := srv.calls.Load(); n != wantCalls {
			t.Fatalf("%s: %d introspection calls, want %d", token, n, wantCalls)
		}
	}
	verify("long", 1)
	verify("long", 1) // cached
	verify("short", 2)
	clock.Advance(30 * time.Second)
	verify("long", 2)               // still cached
	verify("short", 3)              // cached only until its exp; within the leeway it is still good
	clock.Advance(31 * time.Second) // 61 s: the 60 s bound ends the entry
	verify("long", 4)
}

func TestIntrospectionUnavailable(t *testing.T) {
	down := newIntrospectionServer(t, nil)
	down.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>"))
	}))
	defer notJSON.Close()
	good := newIntrospectionServer(t, map[string]map[string]any{"t-SECRET": {"active": true, "sub": "alice"}})
	cases := []struct {
		name, url, secret string
	}{
		{"connection refused", down.URL, introSecret},
		{"503", failing.URL, introSecret},
		{"not JSON", notJSON.URL, introSecret},
		{"wrong client secret", good.URL, "guess"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := introConfig(newFakeClock(), tc.url)
			cfg.Introspection.ClientSecret = tc.secret
			b := newTestBearer(t, cfg)
			id, err := b.Verify(context.Background(), "t-SECRET")
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Verify = %+v, %v; want ErrUnavailable", id, err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error %q quotes the token", err)
			}
		})
	}
}

func TestIntrospectionOfJWTs(t *testing.T) {
	jwt := sign(t, keyES, "at+jwt", claims(testEpoch))
	srv := newIntrospectionServer(t, map[string]map[string]any{jwt: {"active": false}})
	cfg := introConfig(newFakeClock(), srv.URL)
	cfg.LocalKeys = func() jwk.Set { return keySet(t, keyES) }

	b := newTestBearer(t, cfg)
	if _, err := b.Verify(context.Background(), jwt); err != nil || srv.calls.Load() != 0 {
		t.Fatalf("JWT with local keys: %v, %d introspection calls; want local verification", err, srv.calls.Load())
	}
	cfg.Introspection.Always = true
	b = newTestBearer(t, cfg)
	if _, err := b.Verify(context.Background(), jwt); !errors.Is(err, ErrInvalidToken) || srv.calls.Load() != 1 {
		t.Fatalf("Always: %v, %d calls; want the revoked JWT refused by introspection", err, srv.calls.Load())
	}
}
