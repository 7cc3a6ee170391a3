package users

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a Service over a real bbolt store, served over real HTTP.
type fixture struct {
	svc   *Service
	st    *store.Bolt
	srv   *httptest.Server
	clock *clock
	cfg   Config
}

// cheapHash keeps tests fast under -race (argon2id at the OWASP cost takes
// about 200 ms there); BenchmarkPasswordGrant measures the real cost.
var cheapHash = HashParams{MemoryKiB: 64, Time: 1, Threads: 1}

// adminClient is the confidential client of the fixtures.
var adminClient = Client{ID: "admin", Secret: "s3cret", Grants: []string{GrantClientCredentials},
	Scopes: []string{"users:admin", "sip:presence"}}

func newFixture(tb testing.TB, log *zap.Logger, tune func(*Config)) *fixture {
	tb.Helper()
	st, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(tb.TempDir(), "b2bua.db")}, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	srv := httptest.NewUnstartedServer(nil)
	c := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	cfg := Config{Issuer: "http://" + srv.Listener.Addr().String(), Domain: "localhost",
		Clients: []Client{adminClient}, Hash: cheapHash, Now: c.Now}
	if tune != nil {
		tune(&cfg)
	}
	if log == nil {
		log = zap.NewNop()
	}
	svc, err := New(st, cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	srv.Config.Handler = svc.Handler()
	srv.Start()
	tb.Cleanup(srv.Close)
	return &fixture{svc: svc, st: st, srv: srv, clock: c, cfg: cfg}
}

// addUser adds a user; no scopes means the default ones.
func (f *fixture) addUser(tb testing.TB, name, password string, scopes ...string) {
	tb.Helper()
	if err := f.svc.AddUser(name, password, scopes); err != nil {
		tb.Fatal(err)
	}
}

// reply is a decoded JSON response.
type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r reply) str(key string) string { s, _ := r.body[key].(string); return s }

// post sends form to path; basic is "id:secret" for HTTP Basic, or "".
func (f *fixture) post(tb testing.TB, path string, form url.Values, basic string) reply {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id, secret, ok := strings.Cut(basic, ":"); ok {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return f.do(tb, req)
}

func (f *fixture) get(tb testing.TB, path string) reply {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return f.do(tb, req)
}

func (f *fixture) do(tb testing.TB, req *http.Request) reply {
	tb.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(b, &r.body); err != nil {
		tb.Fatalf("%s %s: %d, body not JSON: %q", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	return r
}

// login runs a password grant of sipua.
func (f *fixture) login(tb testing.TB, name, password, scope string) reply {
	tb.Helper()
	form := url.Values{"grant_type": {"password"}, "client_id": {PublicClientID},
		"username": {name}, "password": {password}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return f.post(tb, PathToken, form, "")
}

func (f *fixture) refresh(tb testing.TB, token string) reply {
	tb.Helper()
	return f.post(tb, PathToken, url.Values{"grant_type": {"refresh_token"},
		"client_id": {PublicClientID}, "refresh_token": {token}}, "")
}

// jwks fetches the served JWK set.
func (f *fixture) jwks(tb testing.TB) jwk.Set {
	tb.Helper()
	resp, err := f.srv.Client().Get(f.srv.URL + PathJWKS)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	set, err := jwk.ParseReader(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

// verify checks token against the served JWK set as the SIP edge would.
func (f *fixture) verify(tb testing.TB, token string) (jwt.Token, error) {
	tb.Helper()
	return jwt.ParseString(token, jwt.WithKeySet(f.jwks(tb)), jwt.WithValidate(true),
		jwt.WithIssuer(f.cfg.Issuer), jwt.WithAudience("sip:localhost"),
		jwt.WithClock(jwt.ClockFunc(f.clock.Now)))
}

func wantOAuthError(tb testing.TB, r reply, status int, code string) {
	tb.Helper()
	if r.status != status || r.str("error") != code {
		tb.Fatalf("got %d %v, want %d error=%s", r.status, r.body, status, code)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		tb.Errorf("Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
	}
}
