package digest

import (
	"crypto/md5" //nolint:gosec // the algorithm under test
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/auth"
)

const (
	testRealm  = "example.com"
	testUser   = "alice"
	testPass   = "s3cr3t!"
	testMethod = "REGISTER"
	testURI    = "sip:example.com;transport=tcp"
	testCNonce = "6e83c1a3f9"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// fixture is a Server with a settable clock and a users table.
type fixture struct {
	t     testing.TB
	srv   *Server
	now   time.Time
	users map[string]string // username → password
}

func newFixture(t testing.TB, mutate func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, now: time.Unix(1_700_000_000, 0), users: map[string]string{testUser: testPass}}
	cfg := Config{
		Realm:      testRealm,
		Secret:     testSecret,
		Algorithms: []string{AlgorithmSHA256, AlgorithmMD5, AlgorithmSHA256Sess, AlgorithmMD5Sess},
		Now:        func() time.Time { return f.now },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.srv = srv
	return f
}

// ha1 is the HA1Func of the fixture's users table.
func (f *fixture) ha1(user, realm, alg string) (string, error) {
	pass, ok := f.users[user]
	if !ok {
		return "", fmt.Errorf("user %q: %w", user, auth.ErrBadCredentials)
	}
	return HA1(alg, user, realm, pass), nil
}

// nonce returns the nonce of a fresh challenge.
func (f *fixture) nonce() string {
	f.t.Helper()
	p := challengeParams(f.t, f.srv.Challenges(false)[0])
	return p["nonce"]
}

// answer returns alice's right answer to nonce for REGISTER with qop=auth.
func (f *fixture) answer(alg, nonce, nc string) *Credentials {
	c := &Credentials{
		Username: testUser, Realm: testRealm, Nonce: nonce, URI: testURI,
		Algorithm: alg, CNonce: testCNonce, QOP: "auth", NC: nc,
	}
	c.Response = clientResponse(c, testPass, testMethod)
	return c
}

// clientResponse computes the response as a client does, written apart
// from the server's code so the two check each other.
func clientResponse(c *Credentials, password, method string) string {
	h := func(s string) string {
		if strings.HasPrefix(strings.ToUpper(c.Algorithm), "SHA-256") {
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:])
		}
		sum := md5.Sum([]byte(s)) //nolint:gosec // see import
		return hex.EncodeToString(sum[:])
	}
	ha1 := h(c.Username + ":" + c.Realm + ":" + password)
	if strings.HasSuffix(strings.ToLower(c.Algorithm), "-sess") {
		ha1 = h(ha1 + ":" + c.Nonce + ":" + c.CNonce)
	}
	ha2 := h(method + ":" + c.URI)
	if c.QOP == "" {
		return h(ha1 + ":" + c.Nonce + ":" + ha2)
	}
	return h(strings.Join([]string{ha1, c.Nonce, c.NC, c.CNonce, c.QOP, ha2}, ":"))
}

// challengeParams parses a challenge value with the package's scanner.
func challengeParams(t testing.TB, challenge string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(challenge, "Digest ")
	if !ok {
		t.Fatalf("challenge %q does not start with Digest", challenge)
	}
	params := map[string]string{}
	p := newParamScanner(rest)
	for {
		name, value, ok, err := p.next()
		if err != nil {
			t.Fatalf("challenge %q: %v", challenge, err)
		}
		if !ok {
			return params
		}
		if _, dup := params[name]; dup {
			t.Fatalf("challenge %q: duplicate %s", challenge, name)
		}
		params[name] = value
	}
}
