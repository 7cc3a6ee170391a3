// Package config is the server's configuration: defaults < YAML file <
// B2BUA_* environment < command-line flags (the flags are applied by
// cmd/b2bua). The defaults run a working server.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is everything `b2bua serve` needs.
type Config struct {
	Listen    []string `yaml:"listen"`  // "udp:HOST:PORT", "tcp:HOST:PORT"
	Data      string   `yaml:"data"`    // data directory; the store is <data>/b2bua.db
	Domain    string   `yaml:"domain"`  // SIP domain served
	Aliases   []string `yaml:"aliases"` // more names for the domain
	HTTP      string   `yaml:"http"`    // health, metrics and (later) OAuth and admin
	Auth      string   `yaml:"auth"`    // "bearer", "digest", "bearer,digest" or "none"
	LogLevel  string   `yaml:"log_level"`
	LogFormat string   `yaml:"log_format"` // "json", "console" or "auto" (console on a terminal)
	Fsync     bool     `yaml:"fsync"`      // fsync every group commit (power-loss safety)
	// MaxInFlight bounds requests waiting for an actor; past it: 503.
	MaxInFlight int       `yaml:"max_inflight"`
	Registrar   Registrar `yaml:"registrar"`
	Tokens      Tokens    `yaml:"tokens"`
	// DigestAlgorithms are offered in this order, one challenge each (RFC
	// 8760 §2.4). MD5 comes first by default: many phones and tools read
	// only the first challenge and know only MD5 (sipsak fails on a
	// SHA-256 one). A fleet of RFC 8760 clients should say "SHA-256,MD5"
	// or "SHA-256".
	DigestAlgorithms []string `yaml:"digest_algorithms"`

	// ClientTimeout bounds a request the server sends (a forwarded
	// OPTIONS, later NOTIFY and MESSAGE): no final response by then is a
	// 408 upstream. Default 32s (64*T1, RFC 3261 Timer F).
	ClientTimeout time.Duration `yaml:"client_timeout"`
}

// Tokens configures bearer verification and the built-in authorization
// server.
type Tokens struct {
	Issuer        string        `yaml:"issuer"`         // iss of our tokens and required of any; default http://<http>
	Audience      string        `yaml:"audience"`       // aud; default sip:<domain>
	IdentityClaim string        `yaml:"identity_claim"` // claim naming the SIP user; default sub
	JWKSURI       string        `yaml:"jwks_uri"`       // an external JWKS (key rotation without restart)
	Introspection Introspection `yaml:"introspection"`
	AccessTTL     time.Duration `yaml:"access_ttl"`  // default 15m
	RefreshTTL    time.Duration `yaml:"refresh_ttl"` // default 720h
	// Algorithms is the allow-list of token signature algorithms;
	// default ES256, RS256, EdDSA. none and HMAC are never accepted.
	Algorithms []string `yaml:"algorithms"`
	// Leeway is the clock skew allowed for exp, nbf and iat; default 30s.
	Leeway time.Duration `yaml:"leeway"`
	// Scopes maps a SIP method to the scope its bearer token needs; it
	// replaces the default map (REGISTER: sip:register, ...) when given.
	Scopes map[string]string `yaml:"scopes"`
	// Clients are OAuth clients besides the built-in public "sipua".
	Clients []Client `yaml:"clients"`
}

// Client is an OAuth 2.0 client of the built-in authorization server.
type Client struct {
	ID     string   `yaml:"id"`
	Secret string   `yaml:"secret"` // confidential when set; "$argon2id$..." is taken as a hash
	Grants []string `yaml:"grants"` // default client_credentials (confidential) or password, refresh_token
	Scopes []string `yaml:"scopes"`
}

// Introspection is an RFC 7662 endpoint for opaque tokens.
type Introspection struct {
	URL          string `yaml:"url"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
}

// AuthSchemes returns the schemes --auth turns on: bearer, digest or none.
func (c *Config) AuthSchemes() (bearer, digest bool) {
	for _, s := range splitList(c.Auth) {
		switch strings.ToLower(s) {
		case "bearer":
			bearer = true
		case "digest":
			digest = true
		}
	}
	return bearer, digest
}

// Registrar holds the binding rules.
type Registrar struct {
	MinExpires     int `yaml:"min_expires"`
	MaxExpires     int `yaml:"max_expires"`
	DefaultExpires int `yaml:"default_expires"`
	MaxContacts    int `yaml:"max_contacts"`
	Shards         int `yaml:"shards"` // 0: 8 × GOMAXPROCS
}

// Default returns the embedded defaults: UDP and TCP on 0.0.0.0:5060,
// domain localhost, data in ./data, HTTP on 127.0.0.1:8080, Bearer and
// Digest authentication required.
func Default() Config {
	return Config{
		Listen:           []string{"udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"},
		Data:             "./data",
		Domain:           "localhost",
		HTTP:             "127.0.0.1:8080",
		Auth:             "bearer,digest",
		DigestAlgorithms: []string{"MD5", "SHA-256"},
		LogLevel:         "info",
		LogFormat:        "auto",
		ClientTimeout:    32 * time.Second,
		Registrar:        Registrar{MinExpires: 60, MaxExpires: 7200, DefaultExpires: 3600, MaxContacts: 32},
	}
}

// Load returns the defaults overlaid with the YAML file at path (when not
// empty) and then with the environment read through getenv.
func Load(path string, getenv func(string) (string, bool)) (Config, error) {
	c := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // empty file: defaults
			return c, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return c, err
	}
	return c, nil
}

// applyEnv overlays B2BUA_* variables. Lists are comma-separated.
func (c *Config) applyEnv(getenv func(string) (string, bool)) error {
	strs := map[string]*string{
		"B2BUA_DATA": &c.Data, "B2BUA_DOMAIN": &c.Domain, "B2BUA_HTTP": &c.HTTP, "B2BUA_AUTH": &c.Auth,
		"B2BUA_LOG_LEVEL": &c.LogLevel, "B2BUA_LOG_FORMAT": &c.LogFormat,
		"B2BUA_TOKEN_ISSUER": &c.Tokens.Issuer, "B2BUA_TOKEN_AUDIENCE": &c.Tokens.Audience,
		"B2BUA_IDENTITY_CLAIM": &c.Tokens.IdentityClaim, "B2BUA_JWKS_URI": &c.Tokens.JWKSURI,
		"B2BUA_INTROSPECTION_URL": &c.Tokens.Introspection.URL, "B2BUA_INTROSPECTION_CLIENT_ID": &c.Tokens.Introspection.ClientID,
		"B2BUA_INTROSPECTION_CLIENT_SECRET": &c.Tokens.Introspection.ClientSecret,
	}
	for k, p := range strs {
		if v, ok := getenv(k); ok {
			*p = v
		}
	}
	lists := map[string]*[]string{"B2BUA_LISTEN": &c.Listen, "B2BUA_ALIASES": &c.Aliases, "B2BUA_DIGEST_ALGORITHMS": &c.DigestAlgorithms}
	for k, p := range lists {
		if v, ok := getenv(k); ok {
			*p = splitList(v)
		}
	}
	ints := map[string]*int{
		"B2BUA_MIN_EXPIRES": &c.Registrar.MinExpires, "B2BUA_MAX_EXPIRES": &c.Registrar.MaxExpires,
		"B2BUA_DEFAULT_EXPIRES": &c.Registrar.DefaultExpires, "B2BUA_MAX_CONTACTS": &c.Registrar.MaxContacts,
		"B2BUA_SHARDS": &c.Registrar.Shards, "B2BUA_MAX_INFLIGHT": &c.MaxInFlight,
	}
	for k, p := range ints {
		if v, ok := getenv(k); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("config: %s=%q: not a number", k, v)
			}
			*p = n
		}
	}
	if v, ok := getenv("B2BUA_CLIENT_TIMEOUT"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("config: B2BUA_CLIENT_TIMEOUT=%q: not a duration", v)
		}
		c.ClientTimeout = d
	}
	if v, ok := getenv("B2BUA_FSYNC"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("config: B2BUA_FSYNC=%q: not a boolean", v)
		}
		c.Fsync = b
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Validate reports settings that cannot work, before anything starts.
func (c *Config) Validate() error {
	if c.Registrar.Shards == 0 {
		c.Registrar.Shards = 8 * runtime.GOMAXPROCS(0)
	}
	switch {
	case len(c.Listen) == 0:
		return errors.New("config: no listen address")
	case c.Data == "":
		return errors.New("config: data directory is empty")
	case c.Domain == "":
		return errors.New("config: domain is empty")
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	switch c.LogFormat {
	case "json", "console", "auto":
	default:
		return fmt.Errorf("config: log format %q: want json, console or auto", c.LogFormat)
	}
	return nil
}

func (c *Config) validateAuth() error {
	schemes := splitList(c.Auth)
	if len(schemes) == 0 {
		return errors.New("config: auth is empty: want bearer, digest, bearer,digest or none")
	}
	for _, s := range schemes {
		switch strings.ToLower(s) {
		case "bearer", "digest":
		case "none":
			if len(schemes) > 1 {
				return errors.New("config: auth none cannot be combined with a scheme")
			}
		default:
			return fmt.Errorf("config: auth scheme %q: want bearer, digest or none", s)
		}
	}
	if c.Tokens.Issuer == "" {
		c.Tokens.Issuer = "http://" + c.HTTP
	}
	if c.Tokens.Audience == "" {
		c.Tokens.Audience = "sip:" + c.Domain
	}
	if c.Tokens.IdentityClaim == "" {
		c.Tokens.IdentityClaim = "sub"
	}
	if c.Tokens.AccessTTL == 0 {
		c.Tokens.AccessTTL = 15 * time.Minute
	}
	if c.Tokens.RefreshTTL == 0 {
		c.Tokens.RefreshTTL = 30 * 24 * time.Hour
	}
	for _, a := range c.DigestAlgorithms {
		switch strings.ToUpper(a) {
		case "MD5", "SHA-256", "MD5-SESS", "SHA-256-SESS":
		default:
			return fmt.Errorf("config: digest algorithm %q: want SHA-256 or MD5", a)
		}
	}
	if len(c.DigestAlgorithms) == 0 {
		return errors.New("config: no digest algorithm")
	}
	for _, a := range c.Tokens.Algorithms {
		switch a {
		case "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA":
		default:
			return fmt.Errorf("config: token algorithm %q: want an asymmetric JWS algorithm such as ES256, RS256 or EdDSA", a)
		}
	}
	for _, cl := range c.Tokens.Clients {
		if cl.ID == "" {
			return errors.New("config: a token client has no id")
		}
	}
	in := c.Tokens.Introspection
	if in.URL != "" && (in.ClientID == "" || in.ClientSecret == "") {
		return errors.New("config: introspection needs client_id and client_secret")
	}
	return nil
}
