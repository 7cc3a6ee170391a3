package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/store"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "b2bua.yaml")
	yaml := "domain: example.org\nlisten: [\"udp:127.0.0.1:5070\"]\nfsync: true\nmax_inflight: 77\n" +
		"registrar:\n  min_expires: 30\n  idle: 5m\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		path  string
		env   map[string]string
		check func(t *testing.T, c Config)
		err   bool
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c, Default()) || c.Auth != "bearer,digest" {
				t.Fatalf("got %+v", c)
			}
		}},
		{name: "file over defaults", path: file, check: func(t *testing.T, c Config) {
			if c.Edge.Domain != "example.org" || c.Registrar.MinExpires != 30 || c.Registrar.MaxExpires != 7200 || len(c.Listen) != 1 ||
				!c.Store.Fsync || c.Edge.MaxInFlight != 77 || c.Registrar.Idle != 5*time.Minute {
				t.Fatalf("got %+v", c)
			}
		}},
		{name: "env over file", path: file, env: map[string]string{"B2BUA_DOMAIN": "env.org", "B2BUA_LISTEN": "udp:1.2.3.4:5060, tcp:1.2.3.4:5060",
			"B2BUA_MIN_EXPIRES": "10", "B2BUA_FSYNC": "false", "B2BUA_IDLE": "90s", "B2BUA_INTROSPECTION_CLIENT_ID": "me"},
			check: func(t *testing.T, c Config) {
				if c.Edge.Domain != "env.org" || c.Registrar.MinExpires != 10 || len(c.Listen) != 2 || c.Listen[1] != "tcp:1.2.3.4:5060" ||
					c.Store.Fsync || c.Registrar.Idle != 90*time.Second || c.Tokens.Introspection.ClientID != "me" {
					t.Fatalf("got %+v", c)
				}
			}},
		{name: "challenge rules from env", env: map[string]string{"B2BUA_AUTH_CHALLENGES": "ua:MyApp/*=full, default=phone"},
			check: func(t *testing.T, c Config) {
				if len(c.AuthChallenges) != 2 || c.AuthChallenges[0] != "ua:MyApp/*=full" || c.AuthChallenges[1] != "default=phone" {
					t.Fatalf("got %q", c.AuthChallenges)
				}
			}},
		{name: "bad number in env", env: map[string]string{"B2BUA_MAX_EXPIRES": "lots"}, err: true},
		{name: "client timeout from env", env: map[string]string{"B2BUA_CLIENT_TIMEOUT": "300ms"}, check: func(t *testing.T, c Config) {
			if c.Edge.ClientTimeout != 300*time.Millisecond {
				t.Fatalf("got %v", c.Edge.ClientTimeout)
			}
		}},
		{name: "client concurrency from env", env: map[string]string{"B2BUA_CLIENT_CONCURRENCY": "20000"}, check: func(t *testing.T, c Config) {
			if c.Edge.ClientConcurrency != 20000 {
				t.Fatalf("got %d", c.Edge.ClientConcurrency)
			}
		}},
		{name: "bad duration in env", env: map[string]string{"B2BUA_IDLE": "soon"}, err: true},
		{name: "bad boolean in env", env: map[string]string{"B2BUA_FSYNC": "maybe"}, err: true},
		{name: "missing file", path: filepath.Join(dir, "nope.yaml"), err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.path, env(tc.env))
			if tc.err {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestUnknownYAMLKeyIsAnError(t *testing.T) {
	for _, y := range []string{"domian: typo.org\n", "registrar:\n  now: 1\n", "path: /tmp/x.db\n", "reply_timeout: 1s\n"} {
		file := filepath.Join(t.TempDir(), "c.yaml")
		_ = os.WriteFile(file, []byte(y), 0o600)
		if _, err := Load(file, env(nil)); err == nil {
			t.Fatalf("%q accepted", y)
		}
	}
}

// TestDefaultsComeFromThePackages: one defaults table, the packages' own.
func TestDefaultsComeFromThePackages(t *testing.T) {
	d := Default()
	if !reflect.DeepEqual(d.Registrar, registrar.DefaultConfig()) {
		t.Errorf("registrar defaults %+v, package says %+v", d.Registrar, registrar.DefaultConfig())
	}
	if !reflect.DeepEqual(d.Edge, edge.DefaultConfig()) {
		t.Errorf("edge defaults %+v, package says %+v", d.Edge, edge.DefaultConfig())
	}
	if !reflect.DeepEqual(d.Store, store.DefaultBoltConfig()) {
		t.Errorf("store defaults %+v, package says %+v", d.Store, store.DefaultBoltConfig())
	}
}

func TestValidateDoesNotChangeTheConfig(t *testing.T) {
	for _, name := range []string{"defaults", "resolved", "invalid"} {
		t.Run(name, func(t *testing.T) {
			c := Default()
			c.Tokens.Clients = []Client{{ID: "pbx", Secret: "x"}}
			switch name {
			case "resolved":
				c.Resolve()
			case "invalid":
				c.Registrar.Shards, c.Edge.MaxInFlight = 0, 0
			}
			before := c
			before.Listen = append([]string(nil), c.Listen...)
			_ = c.Validate()
			if !reflect.DeepEqual(c, before) {
				t.Fatalf("Validate changed the config:\n%+v\nwas\n%+v", c, before)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	c := Default()
	c.HTTP, c.Edge.Domain = "127.0.0.1:9090", "example.org"
	c.Registrar.Shards, c.Edge.MaxInFlight = 0, 0
	c.Resolve()
	if c.Tokens.Issuer != "http://127.0.0.1:9090" || c.Tokens.Audience != "sip:example.org" {
		t.Fatalf("issuer %q, audience %q", c.Tokens.Issuer, c.Tokens.Audience)
	}
	if c.Registrar.Shards != registrar.DefaultConfig().Shards || c.Edge.MaxInFlight != edge.DefaultConfig().MaxInFlight {
		t.Fatalf("shards %d, max inflight %d", c.Registrar.Shards, c.Edge.MaxInFlight)
	}
	c.Tokens.Issuer, c.Tokens.Audience, c.Registrar.Shards = "https://idp.example", "sip:other", 3
	c.Resolve()
	if c.Tokens.Issuer != "https://idp.example" || c.Tokens.Audience != "sip:other" || c.Registrar.Shards != 3 {
		t.Fatalf("Resolve overwrote explicit settings: %+v", c.Tokens)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string // "" = valid; else a part of the error
	}{
		{"defaults", func(*Config) {}, ""},
		{"no listener", func(c *Config) { c.Listen = nil }, "no listen address"},
		{"no domain", func(c *Config) { c.Edge.Domain = "" }, "domain is empty"},
		{"listener network", func(c *Config) { c.Listen = []string{"sctp:1.2.3.4:5060"} }, "want udp:HOST:PORT"},
		{"listener without port", func(c *Config) { c.Listen = []string{"udp:1.2.3.4"} }, "missing port"},
		{"listener port out of range", func(c *Config) { c.Listen = []string{"tcp:127.0.0.1:99999"} }, "invalid port"},
		{"listener any port", func(c *Config) { c.Listen = []string{"udp:127.0.0.1:0", "tcp:[::1]:5060"} }, ""},
		{"http without port", func(c *Config) { c.HTTP = "localhost" }, "missing port"},
		{"http port out of range", func(c *Config) { c.HTTP = "127.0.0.1:70000" }, "invalid port"},
		{"zero shards unresolved", func(c *Config) { c.Registrar.Shards = 0 }, "shards"},
		{"min above max expires", func(c *Config) { c.Registrar.MinExpires = 9000 }, "min expires"},
		{"negative idle", func(c *Config) { c.Registrar.Idle = -time.Second }, "idle"},
		{"negative max inflight", func(c *Config) { c.Edge.MaxInFlight = -1 }, "max inflight"},
		{"zero client concurrency", func(c *Config) { c.Edge.ClientConcurrency = 0 }, "client concurrency"},
		{"bearer", func(c *Config) { c.Auth = "bearer" }, ""},
		{"digest and bearer", func(c *Config) { c.Auth = "digest, bearer" }, ""},
		{"none", func(c *Config) { c.Auth = "none" }, ""},
		{"none with a scheme", func(c *Config) { c.Auth = "none,bearer" }, "cannot be combined"},
		{"unknown scheme", func(c *Config) { c.Auth = "basic" }, "auth scheme"},
		{"empty auth", func(c *Config) { c.Auth = "" }, "auth is empty"},
		{"unknown digest algorithm", func(c *Config) { c.DigestAlgorithms = []string{"SHA-1"} }, "digest algorithm"},
		{"introspection without client", func(c *Config) { c.Tokens.Introspection.URL = "http://127.0.0.1:9/introspect" }, "introspection"},
		{"HMAC algorithm refused", func(c *Config) { c.Tokens.Algorithms = []string{"HS256"} }, "token algorithm"},
		{"alg none refused", func(c *Config) { c.Tokens.Algorithms = []string{"none"} }, "token algorithm"},
		{"ES256 only", func(c *Config) { c.Tokens.Algorithms = []string{"ES256"} }, ""},
		{"client without id", func(c *Config) { c.Tokens.Clients = []Client{{Secret: "x"}} }, "no id"},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, "log format"},
		{"challenge rules", func(c *Config) { c.AuthChallenges = []string{"ua:MyApp/*=full", "default=phone"} }, ""},
		{"bad challenge rule", func(c *Config) { c.AuthChallenges = []string{"ua:MyApp/*=bearer"} }, "auth_challenges"},
		{"memory limit none", func(c *Config) { c.MemoryLimit = "none" }, ""},
		{"memory limit size", func(c *Config) { c.MemoryLimit = "2GiB" }, ""},
		{"bad memory limit", func(c *Config) { c.MemoryLimit = "lots" }, "memory limit"},
		{"gc off with the automatic limit", func(c *Config) { c.GCPercent = -1 }, ""},
		{"gc off without a limit", func(c *Config) { c.GCPercent, c.MemoryLimit = -1, "none" }, "needs a memory limit"},
		{"gc percent below -1", func(c *Config) { c.GCPercent = -2 }, "gc percent"},
		{"block profile", func(c *Config) { c.BlockProfileRate, c.MutexProfileFraction = 10*time.Microsecond, 100 }, ""},
		{"negative block profile rate", func(c *Config) { c.BlockProfileRate = -time.Second }, "block profile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mod(&c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(c Config) bool
	}{
		{"none given: file and environment stay", nil, func(c Config) bool { return c.Edge.Domain == "from-file" && c.Registrar.Shards == 3 }},
		{"given flags win", []string{"--domain", "flag.org", "--shards", "5", "--idle", "30s", "--fsync", "--max-inflight", "9"},
			func(c Config) bool {
				return c.Edge.Domain == "flag.org" && c.Registrar.Shards == 5 && c.Registrar.Idle == 30*time.Second && c.Store.Fsync && c.Edge.MaxInFlight == 9
			}},
		{"repeatable and comma lists", []string{"--listen", "udp:127.0.0.1:1", "--listen", "tcp:127.0.0.1:2", "--digest-algorithms", "SHA-256,MD5"},
			func(c Config) bool {
				return reflect.DeepEqual(c.Listen, []string{"udp:127.0.0.1:1", "tcp:127.0.0.1:2"}) && reflect.DeepEqual(c.DigestAlgorithms, []string{"SHA-256", "MD5"})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			overlay := AddFlags(fs, Default())
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			c := Default()
			c.Edge.Domain, c.Registrar.Shards = "from-file", 3
			overlay(&c)
			if !tc.check(c) {
				t.Fatalf("got %+v", c)
			}
		})
	}
}

// TestFlagsShowTheRealDefaults: --help prints each flag's default, so no
// flag may show a zero standing for another value.
func TestFlagsShowTheRealDefaults(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	AddFlags(fs, Default())
	for name, want := range map[string]string{"max-inflight": "5000", "shards": strconv.Itoa(registrar.DefaultConfig().Shards), "idle": "30s",
		"identity-claim": "sub", "http": "127.0.0.1:8080", "domain": "localhost"} {
		if got := fs.Lookup(name).DefValue; got != want {
			t.Errorf("--%s shows default %q, want %q", name, got, want)
		}
	}
	fs = pflag.NewFlagSet("user", pflag.ContinueOnError)
	AddFlags(fs, Default(), "data", "http")
	if fs.Lookup("data") == nil || fs.Lookup("http") == nil || fs.Lookup("domain") != nil {
		t.Fatal("AddFlags with names registered the wrong flags")
	}
}
