package digest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/b2bua/b2bua/auth"
)

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		config  func(*Config)
		answer  func(f *fixture) *Credentials // alice's answer, maybe spoilt
		method  string                        // default testMethod
		wantErr error                         // nil: accepted
	}{
		{name: "MD5", answer: right(AlgorithmMD5)},
		{name: "SHA-256", answer: right(AlgorithmSHA256)},
		{name: "MD5-sess", answer: right(AlgorithmMD5Sess)},
		{name: "SHA-256-sess", answer: right(AlgorithmSHA256Sess)},
		{name: "algorithm omitted means MD5", answer: right("")},
		{name: "algorithm in lower case", answer: right("sha-256")},
		{name: "qop in upper case", answer: spoil(AlgorithmMD5, func(c *Credentials) { c.QOP = "AUTH" })},
		{name: "response in upper case", answer: func(f *fixture) *Credentials {
			c := right(AlgorithmSHA256)(f)
			c.Response = strings.ToUpper(c.Response)
			return c
		}},
		{name: "RFC 2069 answer, MD5", answer: noQOP(AlgorithmMD5)},
		{name: "RFC 2069 answer refused with RequireQOP", answer: noQOP(AlgorithmMD5),
			config: func(c *Config) { c.RequireQOP = true }, wantErr: auth.ErrInvalidRequest},
		{name: "RFC 2069 answer, SHA-256", answer: noQOP(AlgorithmSHA256), wantErr: auth.ErrInvalidRequest},
		{name: "RFC 2069 answer, MD5-sess", answer: noQOP(AlgorithmMD5Sess), wantErr: auth.ErrInvalidRequest},
		{name: "wrong password", answer: spoil(AlgorithmSHA256, nil, "guess"), wantErr: auth.ErrBadCredentials},
		{name: "wrong password, MD5", answer: spoil(AlgorithmMD5, nil, "guess"), wantErr: auth.ErrBadCredentials},
		{name: "unknown user", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.Username = "mallory" }),
			wantErr: auth.ErrBadCredentials},
		{name: "answer for another method", answer: right(AlgorithmSHA256), method: "INVITE",
			wantErr: auth.ErrBadCredentials},
		{name: "empty response", answer: func(f *fixture) *Credentials {
			c := right(AlgorithmMD5)(f)
			c.Response = ""
			return c
		}, wantErr: auth.ErrBadCredentials},
		{name: "realm mismatch", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.Realm = "example.org" }),
			wantErr: auth.ErrBadCredentials},
		{name: "realm differs in case", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.Realm = "Example.com" }),
			wantErr: auth.ErrBadCredentials},
		{name: "algorithm not offered", answer: right(AlgorithmMD5),
			config: func(c *Config) { c.Algorithms = []string{AlgorithmSHA256} }, wantErr: auth.ErrBadCredentials},
		{name: "algorithm unknown", answer: spoil("SHA-512-256", nil), wantErr: auth.ErrBadCredentials},
		{name: "qop auth-int", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.QOP = "auth-int" }),
			wantErr: auth.ErrInvalidRequest},
		{name: "qop unknown", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.QOP = "auth,auth-int" }),
			wantErr: auth.ErrInvalidRequest},
		{name: "nc zero", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.NC = "00000000" }),
			wantErr: auth.ErrInvalidRequest},
		{name: "nc not hex", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.NC = "0000000g" }),
			wantErr: auth.ErrInvalidRequest},
		{name: "nc too short", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.NC = "1" }),
			wantErr: auth.ErrInvalidRequest},
		{name: "cnonce missing", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.CNonce = "" }),
			wantErr: auth.ErrInvalidRequest},
		{name: "uri missing", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.URI = "" }),
			wantErr: auth.ErrInvalidRequest},
		{name: "username missing", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.Username = "" }),
			wantErr: auth.ErrInvalidRequest},
		{name: "userhash", answer: spoil(AlgorithmSHA256, func(c *Credentials) { c.UserHash = true }),
			wantErr: auth.ErrInvalidRequest},
		{name: "nil credentials", answer: func(*fixture) *Credentials { return nil }, wantErr: auth.ErrNoCredentials},
		{name: "forged nonce", answer: withNonce("AAAAAGVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWU"),
			wantErr: auth.ErrBadCredentials},
		{name: "tampered nonce", answer: withNonceFrom(func(f *fixture) string {
			n := []byte(f.nonce())
			n[3] ^= 1 // still base64url, another timestamp
			return string(n)
		}), wantErr: auth.ErrBadCredentials},
		{name: "non-canonical nonce", answer: withNonceFrom(func(f *fixture) string {
			n := []byte(f.nonce())
			n[len(n)-1] ^= 1 // changes only padding bits
			return string(n)
		}), wantErr: auth.ErrBadCredentials},
		{name: "nonce of another secret", answer: withNonceFrom(func(f *fixture) string {
			return otherServer(f, testRealm, []byte("another secret, 32 bytes long..."))
		}), wantErr: auth.ErrBadCredentials},
		{name: "nonce of another realm, same secret", answer: withNonceFrom(func(f *fixture) string {
			return otherServer(f, "example.org", testSecret)
		}), wantErr: auth.ErrBadCredentials},
		{name: "nonce not base64", answer: withNonce(strings.Repeat("!", nonceLen)), wantErr: auth.ErrBadCredentials},
		{name: "nonce empty", answer: withNonce(""), wantErr: auth.ErrBadCredentials},
		{name: "stale nonce", answer: aged(DefaultNonceTTL+time.Second, ""), wantErr: auth.ErrStaleNonce},
		{name: "stale nonce, RFC 2069 answer", answer: func(f *fixture) *Credentials {
			c := noQOP(AlgorithmMD5)(f)
			f.now = f.now.Add(DefaultNonceTTL + time.Second)
			return c
		}, wantErr: auth.ErrStaleNonce},
		{name: "stale nonce, wrong password", answer: aged(DefaultNonceTTL+time.Second, "guess"),
			wantErr: auth.ErrBadCredentials},
		{name: "nonce just within TTL", answer: aged(DefaultNonceTTL, "")},
		{name: "nonce TTL configured", answer: aged(2*time.Minute, ""),
			config: func(c *Config) { c.NonceTTL = time.Minute }, wantErr: auth.ErrStaleNonce},
		{name: "nonce from the near future", answer: aged(-maxClockSkew, "")},
		{name: "nonce from the far future", answer: aged(-maxClockSkew-time.Second, ""), wantErr: auth.ErrStaleNonce},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.config)
			c := tc.answer(f)
			method := tc.method
			if method == "" {
				method = testMethod
			}
			id, err := f.srv.Verify(method, c, f.ha1)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Verify() error = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if id != nil {
					t.Errorf("Verify() = %+v with an error", id)
				}
				return
			}
			if id.Subject != testUser || id.URI != "sip:alice@example.com" || id.Method != "digest" {
				t.Errorf("Verify() = %+v", id)
			}
		})
	}
}

// right answers a fresh nonce correctly with algorithm.
func right(alg string) func(*fixture) *Credentials {
	return func(f *fixture) *Credentials { return f.answer(alg, f.nonce(), "00000001") }
}

// spoil answers with password (default the right one) after mutate has
// changed the credentials.
func spoil(alg string, mutate func(*Credentials), password ...string) func(*fixture) *Credentials {
	return func(f *fixture) *Credentials {
		c := f.answer(alg, f.nonce(), "00000001")
		if mutate != nil {
			mutate(c)
		}
		pass := testPass
		if len(password) > 0 {
			pass = password[0]
		}
		if c.NC != "" || c.QOP == "" {
			c.Response = clientResponse(c, pass, testMethod)
		}
		return c
	}
}

// noQOP answers RFC 2069 style, without qop, cnonce and nc.
func noQOP(alg string) func(*fixture) *Credentials {
	return spoil(alg, func(c *Credentials) { c.QOP, c.CNonce, c.NC = "", "", "" })
}

func withNonce(nonce string) func(*fixture) *Credentials {
	return withNonceFrom(func(*fixture) string { return nonce })
}

func withNonceFrom(nonce func(*fixture) string) func(*fixture) *Credentials {
	return func(f *fixture) *Credentials { return f.answer(AlgorithmSHA256, nonce(f), "00000001") }
}

// aged answers a nonce minted age ago (in the future if negative).
func aged(age time.Duration, password string) func(*fixture) *Credentials {
	return func(f *fixture) *Credentials {
		c := spoil(AlgorithmSHA256, nil, cmpOr(password, testPass))(f)
		f.now = f.now.Add(age)
		return c
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// otherServer returns a nonce minted by a server with another realm or
// secret, at the fixture's time.
func otherServer(f *fixture, realm string, secret []byte) string {
	s, err := New(Config{Realm: realm, Secret: secret, Now: func() time.Time { return f.now }}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return challengeParams(f.t, s.Challenges(false)[0])["nonce"]
}

func TestVerifyNonceCount(t *testing.T) {
	f := newFixture(t, nil)
	nonce, other := f.nonce(), f.nonce()
	steps := []struct {
		nonce, alg, nc, password string
		wantErr                  error
	}{
		{nonce, AlgorithmSHA256, "00000001", testPass, nil},
		{nonce, AlgorithmSHA256, "00000001", testPass, auth.ErrReplay},
		{nonce, AlgorithmMD5, "00000001", testPass, auth.ErrReplay}, // the count is per nonce, not per algorithm
		{nonce, AlgorithmSHA256, "00000002", testPass, nil},
		{nonce, AlgorithmSHA256, "ffffffff", "guess", auth.ErrBadCredentials}, // must not burn the count
		{nonce, AlgorithmMD5, "00000003", testPass, nil},
		{nonce, AlgorithmSHA256, "0000000A", testPass, nil}, // gaps are fine (RFC 7616 §3.4)
		{nonce, AlgorithmSHA256, "00000009", testPass, auth.ErrReplay},
		{other, AlgorithmSHA256, "00000001", testPass, nil}, // another nonce counts on its own
		{nonce, AlgorithmSHA256, "0000000b", testPass, nil},
	}
	for i, s := range steps {
		c := f.answer(s.alg, s.nonce, s.nc)
		c.Response = clientResponse(c, s.password, testMethod)
		_, err := f.srv.Verify(testMethod, c, f.ha1)
		if !errors.Is(err, s.wantErr) || (err == nil) != (s.wantErr == nil) {
			t.Errorf("step %d (nc=%s): error = %v, want %v", i, s.nc, err, s.wantErr)
		}
	}
}

// TestVerifyEviction: once the replay cache drops a nonce, that nonce and
// unused older ones are stale (a fresh round trip), never replayable.
func TestVerifyEviction(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxNonces = 2 })
	var nonces []string
	for range 4 {
		nonces = append(nonces, f.nonce())
		f.now = f.now.Add(time.Second)
	}
	unusedOld := nonces[0]
	steps := []struct {
		nonce, nc string
		wantErr   error
	}{
		{nonces[1], "00000001", nil},
		{nonces[2], "00000001", nil},
		{nonces[3], "00000001", nil},                // evicts nonces[1]
		{nonces[1], "00000001", auth.ErrStaleNonce}, // a replay, caught
		{nonces[1], "00000002", auth.ErrStaleNonce},
		{unusedOld, "00000001", auth.ErrStaleNonce}, // never used, but older: stale too
		{nonces[3], "00000002", nil},
		{nonces[2], "00000001", auth.ErrReplay}, // still cached
	}
	for i, s := range steps {
		_, err := f.srv.Verify(testMethod, f.answer(AlgorithmMD5, s.nonce, s.nc), f.ha1)
		if !errors.Is(err, s.wantErr) || (err == nil) != (s.wantErr == nil) {
			t.Errorf("step %d: error = %v, want %v", i, err, s.wantErr)
		}
	}
	if _, err := f.srv.Verify(testMethod, f.answer(AlgorithmMD5, f.nonce(), "00000001"), f.ha1); err != nil {
		t.Errorf("a nonce minted after the eviction: %v", err)
	}
}

// TestVerifyConcurrentReplay races the same answer: exactly one wins.
func TestVerifyConcurrentReplay(t *testing.T) {
	f := newFixture(t, nil)
	c := f.answer(AlgorithmSHA256, f.nonce(), "00000001")
	var accepted, replayed atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := f.srv.Verify(testMethod, c, f.ha1)
			switch {
			case err == nil:
				accepted.Add(1)
			case errors.Is(err, auth.ErrReplay):
				replayed.Add(1)
			default:
				t.Errorf("Verify: %v", err)
			}
		})
	}
	wg.Wait()
	if accepted.Load() != 1 || replayed.Load() != 15 {
		t.Errorf("accepted %d, replayed %d; want 1 and 15", accepted.Load(), replayed.Load())
	}
}

func TestVerifyIdentity(t *testing.T) {
	tests := []struct{ realm, user, wantURI string }{
		{"example.com", "alice", "sip:alice@example.com"},
		{"Example.COM", "Alice", "sip:Alice@example.com"},
		{"example.com", "+15551234;ext=9", "sip:+15551234;ext=9@example.com"},
		{"example.com", "bob@evil.com", "sip:bob%40evil.com@example.com"},
		{"example.com", "a b<c>:d\"", "sip:a%20b%3Cc%3E%3Ad%22@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.Realm = tc.realm })
			c := &Credentials{
				Username: tc.user, Realm: tc.realm, Nonce: f.nonce(), URI: testURI,
				Algorithm: AlgorithmSHA256, CNonce: testCNonce, QOP: "auth", NC: "00000001",
			}
			c.Response = clientResponse(c, "pw", testMethod)
			id, err := f.srv.Verify(testMethod, c, func(user, realm, alg string) (string, error) {
				return strings.ToUpper(HA1(alg, user, realm, "pw")), nil // stored upper case
			})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := auth.Identity{Subject: tc.user, URI: tc.wantURI, Method: "digest",
				TokenID: id.TokenID, Expires: f.now.Add(DefaultNonceTTL)}
			if !strings.HasPrefix(id.TokenID, "nonce:") || fmt.Sprint(*id) != fmt.Sprint(want) {
				t.Errorf("Verify() = %+v, want %+v", *id, want)
			}
		})
	}
}

func TestVerifyHA1Errors(t *testing.T) {
	tests := []struct {
		name    string
		ha1     HA1Func
		wantErr error
	}{
		{"store down", func(string, string, string) (string, error) {
			return "", fmt.Errorf("users: %w", auth.ErrUnavailable)
		}, auth.ErrUnavailable},
		{"disabled user", func(string, string, string) (string, error) {
			return "", fmt.Errorf("disabled: %w", auth.ErrBadCredentials)
		}, auth.ErrBadCredentials},
		{"stored HA1 too short", func(string, string, string) (string, error) { return "abc", nil },
			auth.ErrBadCredentials},
		{"stored HA1 not hex", func(string, string, string) (string, error) {
			return strings.Repeat("z", 64), nil
		}, auth.ErrBadCredentials},
		{"MD5 HA1 given for SHA-256", func(_, _, _ string) (string, error) {
			return HA1(AlgorithmMD5, testUser, testRealm, testPass), nil
		}, auth.ErrBadCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			_, err := f.srv.Verify(testMethod, right(AlgorithmSHA256)(f), tc.ha1)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Verify() error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestVerifyHA1Arguments(t *testing.T) {
	for _, alg := range []string{AlgorithmMD5, AlgorithmMD5Sess, AlgorithmSHA256, AlgorithmSHA256Sess} {
		f := newFixture(t, nil)
		var got []string
		_, err := f.srv.Verify(testMethod, right(alg)(f), func(user, realm, a string) (string, error) {
			got = append(got, user, realm, a)
			return f.ha1(user, realm, a)
		})
		want := []string{testUser, testRealm, strings.TrimSuffix(alg, "-sess")}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: HA1Func called with %q (err %v), want %q", alg, got, err, want)
		}
	}
}

// TestVerifyLogs: usernames and realms are logged; the password, HA1 and
// response never are.
func TestVerifyLogs(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	f := newFixture(t, nil)
	srv, err := New(Config{Realm: testRealm, Secret: testSecret, Now: func() time.Time { return f.now }}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	good := right(AlgorithmSHA256)(f)
	bad := spoil(AlgorithmSHA256, nil, "guess")(f)
	badHA1 := func(string, string, string) (string, error) { return "nothex", nil }
	for _, c := range []*Credentials{good, bad} {
		_, _ = srv.Verify(testMethod, c, f.ha1)
	}
	_, _ = srv.Verify(testMethod, right(AlgorithmSHA256)(f), badHA1)

	// accepted, rejected, and for the bad HA1 a warning for the operator
	// besides the rejection.
	if logs.Len() != 4 {
		t.Fatalf("%d log entries, want 4", logs.Len())
	}
	secrets := []string{testPass, "guess", good.Response, bad.Response,
		HA1(AlgorithmSHA256, testUser, testRealm, testPass), "nothex"}
	for _, e := range logs.All() {
		fields := fmt.Sprint(e.Message, e.ContextMap())
		if !strings.Contains(fields, testUser) || !strings.Contains(fields, testRealm) {
			t.Errorf("entry %q lacks username or realm: %s", e.Message, fields)
		}
		for _, s := range secrets {
			if strings.Contains(fields, s) {
				t.Errorf("entry %q reveals %q: %s", e.Message, s, fields)
			}
		}
	}
}
