package digest

import (
	"strings"
	"testing"
	"time"
)

func TestChallenges(t *testing.T) {
	for _, stale := range []bool{false, true} {
		f := newFixture(t, func(c *Config) { c.Algorithms = nil }) // the default
		got := f.srv.Challenges(stale)
		if len(got) != 2 {
			t.Fatalf("Challenges(%v) = %q, want 2", stale, got)
		}
		var nonce string
		for i, wantAlg := range []string{"SHA-256", "MD5"} { // preferred first (RFC 8760 §2.4)
			p := challengeParams(t, got[i])
			want := map[string]string{"realm": testRealm, "nonce": p["nonce"], "algorithm": wantAlg, "qop": "auth"}
			if stale {
				want["stale"] = "true"
			}
			if len(p) != len(want) {
				t.Errorf("challenge %q: params %v, want %v", got[i], p, want)
			}
			for k, v := range want {
				if p[k] != v {
					t.Errorf("challenge %q: %s=%q, want %q", got[i], k, p[k], v)
				}
			}
			if _, ok := f.srv.mac.open(p["nonce"]); !ok {
				t.Errorf("challenge %q: nonce does not open", got[i])
			}
			if i > 0 && p["nonce"] != nonce {
				t.Errorf("challenges carry different nonces")
			}
			nonce = p["nonce"]
		}
	}
}

func TestChallengesQuoteRealm(t *testing.T) {
	realm := `weird "realm" \ here`
	f := newFixture(t, func(c *Config) { c.Realm, c.Algorithms = realm, []string{"md5-SESS"} })
	got := f.srv.Challenges(false)
	want := `Digest realm="weird \"realm\" \\ here", nonce="`
	if len(got) != 1 || !strings.HasPrefix(got[0], want) || !strings.Contains(got[0], "algorithm=MD5-sess,") {
		t.Fatalf("Challenges() = %q", got)
	}
	if p := challengeParams(t, got[0]); p["realm"] != realm {
		t.Errorf("realm parsed back as %q", p["realm"])
	}
}

func TestNoncesDiffer(t *testing.T) {
	f := newFixture(t, nil)
	seen := map[string]bool{}
	for range 1000 {
		n := f.nonce()
		if seen[n] || len(n) != nonceLen {
			t.Fatalf("nonce %q repeated or of length %d", n, len(n))
		}
		seen[n] = true
	}
}

func TestNewConfig(t *testing.T) {
	valid := func() Config { return Config{Realm: testRealm, Secret: testSecret} }
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"all algorithms", func(c *Config) {
			c.Algorithms = []string{"md5", "MD5-sess", "sha-256", "SHA-256-SESS"}
		}, true},
		{"empty realm", func(c *Config) { c.Realm = "" }, false},
		{"realm with CRLF", func(c *Config) { c.Realm = "a\r\nb" }, false},
		{"short secret", func(c *Config) { c.Secret = c.Secret[:MinSecretLen-1] }, false},
		{"no secret", func(c *Config) { c.Secret = nil }, false},
		{"negative TTL", func(c *Config) { c.NonceTTL = -time.Second }, false},
		{"negative MaxNonces", func(c *Config) { c.MaxNonces = -1 }, false},
		{"unknown algorithm", func(c *Config) { c.Algorithms = []string{"SHA-512-256"} }, false},
		{"algorithm twice", func(c *Config) { c.Algorithms = []string{"MD5", "md5"} }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.mutate(&cfg)
			s, err := New(cfg, nil)
			if (err == nil) != tc.ok {
				t.Fatalf("New() error = %v, want ok=%v", err, tc.ok)
			}
			if err == nil && (s.ttl != DefaultNonceTTL || s.seen == nil) {
				t.Errorf("defaults not applied: ttl %v", s.ttl)
			}
		})
	}
}

// TestNewCopiesSecret: changing the caller's slice later changes nothing.
func TestNewCopiesSecret(t *testing.T) {
	secret := append([]byte(nil), testSecret...)
	f := newFixture(t, func(c *Config) { c.Secret = secret })
	nonce := f.nonce()
	secret[0] ^= 0xff
	if _, err := f.srv.Verify(testMethod, f.answer(AlgorithmMD5, nonce, "00000001"), f.ha1); err != nil {
		t.Errorf("Verify after the caller changed the secret: %v", err)
	}
}
