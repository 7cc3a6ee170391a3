package users

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwt"
)

// FuzzTokenRequest posts arbitrary form bodies and Authorization headers to
// the token endpoint. Whatever comes in, the answer is JSON with either an
// access token that verifies against the service's own keys or an RFC 6749
// §5.2 error, never a 5xx. The seeds are in testdata/fuzz/FuzzTokenRequest.
func FuzzTokenRequest(f *testing.F) {
	fx := newFixture(f, nil, nil)
	fx.addUser(f, "alice", "pw")
	h := fx.svc.Handler()
	f.Add("grant_type=password&client_id=sipua&username=alice&password=pw&scope=sip%3Aregister", "")
	f.Add("grant_type=client_credentials", "Basic YWRtaW46czNjcmV0")
	f.Fuzz(func(t *testing.T, body, authorization string) {
		req := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var resp map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("body not JSON (%v): %q", err, rec.Body)
		}
		token, _ := resp["access_token"].(string)
		code, _ := resp["error"].(string)
		switch {
		case token != "" && code == "" && rec.Code == http.StatusOK:
			if _, err := jwt.ParseString(token, jwt.WithKeySet(fx.svc.PublicKeys()), jwt.WithValidate(true),
				jwt.WithClock(jwt.ClockFunc(fx.clock.Now))); err != nil {
				t.Fatalf("issued token does not verify: %v", err)
			}
		case token == "" && code != "" && rec.Code >= 400:
		default:
			t.Fatalf("%d %v: want access_token or error", rec.Code, resp)
		}
	})
}
