package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "b2bua.yaml")
	if err := os.WriteFile(file, []byte("domain: example.org\nlisten: [\"udp:127.0.0.1:5070\"]\nregistrar:\n  min_expires: 30\n"), 0o600); err != nil {
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
			if c.Domain != "example.org" || c.Registrar.MinExpires != 30 || c.Registrar.MaxExpires != 7200 || len(c.Listen) != 1 {
				t.Fatalf("got %+v", c)
			}
		}},
		{name: "env over file", path: file, env: map[string]string{"B2BUA_DOMAIN": "env.org", "B2BUA_LISTEN": "udp:1.2.3.4:5060, tcp:1.2.3.4:5060", "B2BUA_MIN_EXPIRES": "10", "B2BUA_FSYNC": "true"},
			check: func(t *testing.T, c Config) {
				if c.Domain != "env.org" || c.Registrar.MinExpires != 10 || len(c.Listen) != 2 || c.Listen[1] != "tcp:1.2.3.4:5060" || !c.Fsync {
					t.Fatalf("got %+v", c)
				}
			}},
		{name: "bad number in env", env: map[string]string{"B2BUA_MAX_EXPIRES": "lots"}, err: true},
		{name: "client timeout from env", env: map[string]string{"B2BUA_CLIENT_TIMEOUT": "300ms"}, check: func(t *testing.T, c Config) {
			if c.ClientTimeout != 300*time.Millisecond {
				t.Fatalf("got %v", c.ClientTimeout)
			}
		}},
		{name: "bad duration in env", env: map[string]string{"B2BUA_CLIENT_TIMEOUT": "soon"}, err: true},
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
	file := filepath.Join(t.TempDir(), "c.yaml")
	_ = os.WriteFile(file, []byte("domian: typo.org\n"), 0o600)
	if _, err := Load(file, env(nil)); err == nil {
		t.Fatal("typo accepted")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"no listener", func(c *Config) { c.Listen = nil }, false},
		{"no domain", func(c *Config) { c.Domain = "" }, false},
		{"bearer", func(c *Config) { c.Auth = "bearer" }, true},
		{"digest and bearer", func(c *Config) { c.Auth = "digest, bearer" }, true},
		{"none", func(c *Config) { c.Auth = "none" }, true},
		{"none with a scheme", func(c *Config) { c.Auth = "none,bearer" }, false},
		{"unknown scheme", func(c *Config) { c.Auth = "basic" }, false},
		{"empty auth", func(c *Config) { c.Auth = "" }, false},
		{"introspection without client", func(c *Config) { c.Tokens.Introspection.URL = "http://127.0.0.1:9/introspect" }, false},
		{"HMAC algorithm refused", func(c *Config) { c.Tokens.Algorithms = []string{"HS256"} }, false},
		{"alg none refused", func(c *Config) { c.Tokens.Algorithms = []string{"none"} }, false},
		{"ES256 only", func(c *Config) { c.Tokens.Algorithms = []string{"ES256"} }, true},
		{"client without id", func(c *Config) { c.Tokens.Clients = []Client{{Secret: "x"}} }, false},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mod(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate = %v", err)
			}
		})
	}
}
