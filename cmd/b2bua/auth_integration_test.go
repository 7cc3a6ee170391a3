package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/b2bua/b2bua/sip/siptest"
)

// cli runs a b2bua admin command against dir, feeding stdin.
func cli(t *testing.T, dir, httpAddr, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--data", dir, "--http", httpAddr)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("b2bua %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// passwordGrant gets an access token from the server's token endpoint.
func passwordGrant(t *testing.T, httpAddr, user, password, scope string) (int, map[string]any) {
	t.Helper()
	return passwordGrantAt(t, "http://"+httpAddr+"/oauth/token", user, password, scope)
}

// passwordGrantAt is passwordGrant at a token endpoint's URL (as a bearer
// client learns it from authz_server, RFC 8898 §2.3).
func passwordGrantAt(t *testing.T, endpoint, user, password, scope string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "client_id": {"sipua"}, "username": {user}, "password": {password}}
	if scope != "" {
		form.Set("scope", scope)
	}
	res, err := http.PostForm(endpoint, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("token endpoint answered %d %q", res.StatusCode, raw)
	}
	return res.StatusCode, body
}

// registerWith sends one REGISTER for user over UDP with the given
// Authorization header values and returns the response.
func registerWith(t *testing.T, addr, user string, authz ...string) string {
	t.Helper()
	c, err := siptest.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	lines := []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP " + c.LocalAddr() + ";branch=z9hG4bK-" + id,
		"From: <sip:" + user + "@localhost>;tag=" + id,
		"To: <sip:" + user + "@localhost>",
		"Call-ID: " + id,
		"CSeq: 1 REGISTER",
		"Contact: <sip:" + user + "@" + c.LocalAddr() + ">",
		"Expires: 600",
	}
	for _, a := range authz {
		lines = append(lines, "Authorization: "+a)
	}
	res, err := c.Do(siptest.Lines(append(lines, "Content-Length: 0")...), 3*time.Second)
	if err != nil {
		t.Fatalf("REGISTER %s: %v", user, err)
	}
	return res
}

func expectStatus(t *testing.T, res string, code int, contains ...string) {
	t.Helper()
	if siptest.Status(res) != code {
		t.Fatalf("status %d, want %d:\n%s", siptest.Status(res), code, res)
	}
	for _, c := range contains {
		if !strings.Contains(res, c) {
			t.Fatalf("response lacks %q:\n%s", c, res)
		}
	}
}

func TestBearerRegistrationOverRealHTTPAndSIP(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "--auth", "bearer,digest")
	cli(t, dir, p.http, "s3cret-alice\n", "user", "add", "alice", "--password-stdin")
	cli(t, dir, p.http, "s3cret-bob\n", "user", "add", "bob", "--password-stdin", "--scopes", "sip:presence")

	code, tok := passwordGrant(t, p.http, "alice", "s3cret-alice", "sip:register sip:presence")
	if code != 200 || tok["access_token"] == nil {
		t.Fatalf("password grant: %d %v", code, tok)
	}
	access := tok["access_token"].(string)

	t.Run("valid token registers", func(t *testing.T) {
		expectStatus(t, registerWith(t, p.udp, "alice", "Bearer "+access), 200, "Contact: <sip:alice@")
	})
	t.Run("no credentials is challenged", func(t *testing.T) {
		res := registerWith(t, p.udp, "alice")
		expectStatus(t, res, 401, `WWW-Authenticate: Bearer realm="localhost"`, "authz_server=", `scope="sip:register"`, "WWW-Authenticate: Digest")
		if strings.Contains(res, "error=") {
			t.Fatalf("a challenge without credentials carries an error:\n%s", res)
		}
	})
	t.Run("garbage token", func(t *testing.T) {
		expectStatus(t, registerWith(t, p.udp, "alice", "Bearer not.a.token"), 401, `error="invalid_token"`)
	})
	t.Run("tampered token", func(t *testing.T) {
		parts := strings.Split(access, ".")
		forged := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]
		expectStatus(t, registerWith(t, p.udp, "alice", "Bearer "+forged), 401, `error="invalid_token"`)
	})
	t.Run("token of alice for bob", func(t *testing.T) {
		expectStatus(t, registerWith(t, p.udp, "bob", "Bearer "+access), 403)
	})
	t.Run("missing scope", func(t *testing.T) {
		_, bobTok := passwordGrant(t, p.http, "bob", "s3cret-bob", "")
		expectStatus(t, registerWith(t, p.udp, "bob", "Bearer "+bobTok["access_token"].(string)), 403,
			`error="insufficient_scope"`, `scope="sip:register"`)
	})
	t.Run("wrong password", func(t *testing.T) {
		if code, body := passwordGrant(t, p.http, "alice", "wrong", ""); code != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("wrong password: %d %v", code, body)
		}
	})
	t.Run("cli token works", func(t *testing.T) {
		expectStatus(t, registerWith(t, p.udp, "alice", "Bearer "+cli(t, dir, p.http, "", "token", "alice")), 200)
	})
	t.Run("keys rotate on a running server", func(t *testing.T) {
		kid := cli(t, dir, p.http, "", "keys", "rotate")
		if kid == "" {
			t.Fatal("no kid printed")
		}
		expectStatus(t, registerWith(t, p.udp, "alice", "Bearer "+access), 200) // old key still valid
		fresh := cli(t, dir, p.http, "", "token", "alice")
		hdr, err := jws.Parse([]byte(fresh))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := hdr.Signatures()[0].ProtectedHeaders().KeyID(); got != kid {
			t.Fatalf("new token signed with %q, want the rotated key %q", got, kid)
		}
		expectStatus(t, registerWith(t, p.udp, "alice", "Bearer "+fresh), 200)
	})
	if strings.Contains(p.logs.String(), access) || strings.Contains(p.logs.String(), "s3cret") {
		t.Fatal("a token or password appears in the server's logs")
	}
}

// issuer is an external authorization server for the tests: an ES256 key
// set served as a JWKS that can be rotated, and an introspection endpoint.
type issuer struct {
	mu     sync.Mutex
	keys   []jwk.Key // private; the last one signs
	active map[string]bool
	srv    *httptest.Server
}

func newIssuer(t *testing.T) *issuer {
	is := &issuer{active: map[string]bool{}}
	is.rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		is.mu.Lock()
		defer is.mu.Unlock()
		set := jwk.NewSet()
		for _, k := range is.keys {
			pub, _ := k.PublicKey()
			_ = set.AddKey(pub)
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_ = json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("/introspect", func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != "b2bua" || pw != "introspect-secret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_ = r.ParseForm()
		is.mu.Lock()
		active := is.active[r.Form.Get("token")]
		is.mu.Unlock()
		resp := map[string]any{"active": active}
		if active {
			resp["sub"], resp["scope"], resp["exp"] = "carol", "sip:register", time.Now().Add(time.Hour).Unix()
		}
		_ = json.NewEncoder(w).Encode(resp)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) rotate(t *testing.T) string {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	kid := fmt.Sprintf("ext-%d", time.Now().UnixNano())
	_ = k.Set(jwk.KeyIDKey, kid)
	_ = k.Set(jwk.AlgorithmKey, jwa.ES256())
	is.mu.Lock()
	is.keys = append(is.keys, k)
	is.mu.Unlock()
	return kid
}

func (is *issuer) sign(t *testing.T, sub string, exp time.Time, aud string) string {
	tok, err := jwt.NewBuilder().Issuer("https://idp.example").Subject(sub).Audience([]string{aud}).
		IssuedAt(time.Now().Add(-time.Minute)).Expiration(exp).Claim("scope", "sip:register sip:presence").Build()
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	key := is.keys[len(is.keys)-1]
	is.mu.Unlock()
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func TestRemoteJWKSRotationAndIntrospection(t *testing.T) {
	is := newIssuer(t)
	cfg := filepath.Join(t.TempDir(), "b2bua.yaml")
	yaml := "tokens:\n  introspection:\n    url: " + is.srv.URL + "/introspect\n    client_id: b2bua\n    client_secret: introspect-secret\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, t.TempDir(), "--auth", "bearer", "--config", cfg, "--jwks-uri", is.srv.URL+"/jwks.json",
		"--token-issuer", "https://idp.example", "--token-audience", "sip:localhost")

	expectStatus(t, registerWith(t, p.udp, "carol", "Bearer "+is.sign(t, "carol", time.Now().Add(time.Hour), "sip:localhost")), 200)
	t.Run("expired", func(t *testing.T) {
		expectStatus(t, registerWith(t, p.udp, "carol", "Bearer "+is.sign(t, "carol", time.Now().Add(-10*time.Minute), "sip:localhost")), 401, `error="invalid_token"`)
	})
	t.Run("wrong audience", func(t *testing.T) {
		expectStatus(t, registerWith(t, p.udp, "carol", "Bearer "+is.sign(t, "carol", time.Now().Add(time.Hour), "sip:elsewhere")), 401, `error="invalid_token"`)
	})
	t.Run("rotated key is fetched on an unknown kid", func(t *testing.T) {
		is.rotate(t)
		expectStatus(t, registerWith(t, p.udp, "carol", "Bearer "+is.sign(t, "carol", time.Now().Add(time.Hour), "sip:localhost")), 200)
	})
	t.Run("opaque token introspected", func(t *testing.T) {
		is.mu.Lock()
		is.active["opaque-good"] = true
		is.mu.Unlock()
		expectStatus(t, registerWith(t, p.udp, "carol", "Bearer opaque-good"), 200)
		expectStatus(t, registerWith(t, p.udp, "carol", "Bearer opaque-revoked"), 401, `error="invalid_token"`)
	})
}

func TestDigestRegistrationWithSIPp(t *testing.T) {
	dir := t.TempDir()
	// SIPp answers the first challenge it reads and knows MD5 only: the
	// default order, MD5 first, is what lets it in.
	p := start(t, dir, "--auth", "digest")
	cli(t, dir, p.http, "pw-phone\n", "user", "add", "phone", "--password-stdin")
	sipp(t, "register_digest.xml", p.udp, 50, 50, "-s", "phone", "-au", "phone", "-ap", "pw-phone")
	// SHA-256 is the preferred default; a wrong password must not register.
	res := registerWith(t, p.udp, "phone", `Digest username="phone", realm="localhost", nonce="x", uri="sip:localhost", response="00000000000000000000000000000000"`)
	expectStatus(t, res, 401, "WWW-Authenticate: Digest")
}

// TestUserCommands runs user add|list|passwd|disable|enable|del on a stopped server's data
// directory (direct) and then through a running server (admin API), and
// checks the effect over real HTTP.
func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	httpAddr := "127.0.0.1:1" // nothing listens: direct mode must not need it
	cli(t, dir, httpAddr, "first-pw\n", "user", "add", "dave", "--password-stdin", "--scopes", "sip:register")
	if out := cli(t, dir, httpAddr, "", "user", "list"); !strings.Contains(out, "dave") || !strings.Contains(out, "sip:register") {
		t.Fatalf("user list:\n%s", out)
	}
	cmd := exec.Command(binary, "user", "add", "dave", "--password-stdin", "--data", dir)
	cmd.Stdin = strings.NewReader("again\n")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "exists") {
		t.Fatalf("duplicate user: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "b2bua.db"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "first-pw") {
		t.Fatal("the store holds a plain password")
	}

	p := start(t, dir, "--auth", "bearer")
	if code, _ := passwordGrant(t, p.http, "dave", "first-pw", ""); code != 200 {
		t.Fatalf("password grant after direct add: %d", code)
	}
	if out := cli(t, dir, p.http, "second-pw\n", "user", "passwd", "dave", "--password-stdin"); out != "changed the password of user dave through the server at http://"+p.http {
		t.Fatalf("user passwd through the server said %q", out)
	}
	if code, _ := passwordGrant(t, p.http, "dave", "first-pw", ""); code != 400 {
		t.Fatalf("old password still accepted: %d", code)
	}
	if code, _ := passwordGrant(t, p.http, "dave", "second-pw", ""); code != 200 {
		t.Fatalf("new password refused: %d", code)
	}
	cli(t, dir, p.http, "", "user", "disable", "dave")
	if code, _ := passwordGrant(t, p.http, "dave", "second-pw", ""); code != 400 {
		t.Fatalf("disabled user got a token: %d", code)
	}
	if out := cli(t, dir, p.http, "", "user", "list"); !strings.Contains(out, "true") {
		t.Fatalf("disabled user not shown as disabled:\n%s", out)
	}
	cli(t, dir, p.http, "", "user", "enable", "dave")
	if code, _ := passwordGrant(t, p.http, "dave", "second-pw", ""); code != 200 {
		t.Fatalf("enabled user refused: %d", code)
	}
	cli(t, dir, p.http, "", "user", "del", "dave")
	if out := cli(t, dir, p.http, "", "user", "list"); strings.Contains(out, "dave") {
		t.Fatalf("deleted user listed:\n%s", out)
	}
	if code, _ := passwordGrant(t, p.http, "dave", "second-pw", ""); code != 400 {
		t.Fatalf("deleted user got a token: %d", code)
	}
}

// TestConfiguredClientsAndScopes: a confidential client from the YAML file
// gets a token with client_credentials and registers as itself; a custom
// scope map changes what REGISTER needs.
func TestConfiguredClientsAndScopes(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "b2bua.yaml")
	yaml := `tokens:
  algorithms: [ES256]
  leeway: 5s
  scopes: {register: "sip:trunk"}
  clients:
    - {id: pbx, secret: pbx-secret, scopes: ["sip:trunk", "sip:register"]}
    - {id: monitor, secret: mon-secret, scopes: ["sip:register"]}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, t.TempDir(), "--auth", "bearer", "--config", cfg)
	grant := func(id, secret string) string {
		form := url.Values{"grant_type": {"client_credentials"}}
		req, _ := http.NewRequest("POST", "http://"+p.http+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		tok, _ := body["access_token"].(string)
		if res.StatusCode != 200 || tok == "" {
			t.Fatalf("client_credentials for %s: %d %v", id, res.StatusCode, body)
		}
		return tok
	}
	expectStatus(t, registerWith(t, p.udp, "pbx", "Bearer "+grant("pbx", "pbx-secret")), 200)
	expectStatus(t, registerWith(t, p.udp, "monitor", "Bearer "+grant("monitor", "mon-secret")), 403, `scope="sip:trunk"`)
}

// TestOfflineTokenRegisters: `b2bua token` on a stopped server opens the
// store itself; its token must carry the user's scopes just as one issued
// through a running server does, so a REGISTER made with it gets 200.
func TestOfflineTokenRegisters(t *testing.T) {
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t)) // the issuer is http://<--http>: the same offline and served
	cli(t, dir, httpAddr, "pw-erin\n", "user", "add", "erin", "--password-stdin")
	tok := cli(t, dir, httpAddr, "", "token", "erin")
	p := start(t, dir, "--auth", "bearer", "--http", httpAddr)
	expectStatus(t, registerWith(t, p.udp, "erin", "Bearer "+tok), 200)
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
