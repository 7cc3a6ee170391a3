package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// setting gives one field of Config its flag and its B2BUA_* variable. The
// field's YAML key is its yaml tag and its default is in Default (that is,
// in its package's DefaultConfig), so a new setting is: the field, with a
// yaml tag, in its package's Config; its default in that DefaultConfig;
// and one row here.
type setting struct {
	flag  string // "" = no flag
	env   string // "" = no environment variable
	usage string
	// repeat makes a list flag take one value per use (--listen a --listen
	// b); other list flags take comma-separated values. Variables are
	// always comma-separated.
	repeat bool
	// field points into c. Its type picks the parser: *string, *[]string,
	// *int, *bool or *time.Duration.
	field func(c *Config) any
}

var settings = []setting{
	{flag: "listen", env: "B2BUA_LISTEN", repeat: true, usage: "SIP listener udp:HOST:PORT or tcp:HOST:PORT (repeatable)",
		field: func(c *Config) any { return &c.Listen }},
	{flag: "data", env: "B2BUA_DATA", usage: "data directory; the store is DIR/b2bua.db",
		field: func(c *Config) any { return &c.Data }},
	{flag: "domain", env: "B2BUA_DOMAIN", usage: "SIP domain served (also the Digest realm)",
		field: func(c *Config) any { return &c.Edge.Domain }},
	{flag: "domain-alias", env: "B2BUA_ALIASES", repeat: true, usage: "another name of the domain (repeatable; default none)",
		field: func(c *Config) any { return &c.Edge.Aliases }},
	{flag: "http", env: "B2BUA_HTTP", usage: "HTTP address: /healthz, /readyz, /metrics, pprof, OAuth and the admin API (used by user, token and keys on a running server)",
		field: func(c *Config) any { return &c.HTTP }},
	{flag: "auth", env: "B2BUA_AUTH", usage: "authentication: bearer, digest, bearer,digest or none",
		field: func(c *Config) any { return &c.Auth }},
	{flag: "digest-algorithms", env: "B2BUA_DIGEST_ALGORITHMS", usage: "Digest algorithms offered, preferred first",
		field: func(c *Config) any { return &c.DigestAlgorithms }},
	{flag: "auth-challenge", env: "B2BUA_AUTH_CHALLENGES", repeat: true,
		usage: "challenges of a 401 per request, first match wins: ua:PATTERN=PROFILE, domain:NAME=PROFILE, default=PROFILE;\n" +
			"profiles phone (one Digest), full (all Digest, then Bearer), auto (full without User-Agent) (repeatable; default default=auto)",
		field: func(c *Config) any { return &c.AuthChallenges }},
	{flag: "client-timeout", env: "B2BUA_CLIENT_TIMEOUT", usage: "how long a request the server sends (a forwarded OPTIONS) waits for its final response (408 past it)",
		field: func(c *Config) any { return &c.Edge.ClientTimeout }},
	{flag: "client-concurrency", env: "B2BUA_CLIENT_CONCURRENCY", usage: "requests the server sends (NOTIFY, forwarded OPTIONS) in flight at once; past it they fail as 503",
		field: func(c *Config) any { return &c.Edge.ClientConcurrency }},
	{flag: "token-issuer", env: "B2BUA_TOKEN_ISSUER", usage: "iss of our tokens, required of every token (default http://<--http>)",
		field: func(c *Config) any { return &c.Tokens.Issuer }},
	{flag: "token-audience", env: "B2BUA_TOKEN_AUDIENCE", usage: "aud required of every token (default sip:<--domain>)",
		field: func(c *Config) any { return &c.Tokens.Audience }},
	{flag: "identity-claim", env: "B2BUA_IDENTITY_CLAIM", usage: "token claim naming the SIP user: sub, sip_uri, preferred_username",
		field: func(c *Config) any { return &c.Tokens.IdentityClaim }},
	{flag: "jwks-uri", env: "B2BUA_JWKS_URI", usage: "a remote JWKS to verify tokens of an external authorization server (default none)",
		field: func(c *Config) any { return &c.Tokens.JWKSURI }},
	{flag: "introspection-url", env: "B2BUA_INTROSPECTION_URL", usage: "RFC 7662 endpoint for opaque tokens (default none; client id and secret: B2BUA_INTROSPECTION_CLIENT_ID/_SECRET or YAML)",
		field: func(c *Config) any { return &c.Tokens.Introspection.URL }},
	{env: "B2BUA_INTROSPECTION_CLIENT_ID", field: func(c *Config) any { return &c.Tokens.Introspection.ClientID }},
	{env: "B2BUA_INTROSPECTION_CLIENT_SECRET", field: func(c *Config) any { return &c.Tokens.Introspection.ClientSecret }},
	{flag: "log-level", env: "B2BUA_LOG_LEVEL", usage: "debug, info, warn or error",
		field: func(c *Config) any { return &c.LogLevel }},
	{flag: "log-format", env: "B2BUA_LOG_FORMAT", usage: "json, console or auto (console on a terminal)",
		field: func(c *Config) any { return &c.LogFormat }},
	{flag: "fsync", env: "B2BUA_FSYNC", usage: "fsync every store commit: survives power loss, slower (default off)",
		field: func(c *Config) any { return &c.Store.Fsync }},
	{flag: "max-inflight", env: "B2BUA_MAX_INFLIGHT", usage: "requests waiting for an actor before the edge answers 503 + Retry-After",
		field: func(c *Config) any { return &c.Edge.MaxInFlight }},
	{flag: "min-expires", env: "B2BUA_MIN_EXPIRES", usage: "shortest registration accepted, seconds (423 below)",
		field: func(c *Config) any { return &c.Registrar.MinExpires }},
	{flag: "max-expires", env: "B2BUA_MAX_EXPIRES", usage: "longest registration, seconds (clamped above)",
		field: func(c *Config) any { return &c.Registrar.MaxExpires }},
	{flag: "default-expires", env: "B2BUA_DEFAULT_EXPIRES", usage: "registration time when the client gives none, seconds",
		field: func(c *Config) any { return &c.Registrar.DefaultExpires }},
	{flag: "max-contacts", env: "B2BUA_MAX_CONTACTS", usage: "bindings per address-of-record",
		field: func(c *Config) any { return &c.Registrar.MaxContacts }},
	{flag: "shards", env: "B2BUA_SHARDS", usage: "registrar shard actors, 8 per CPU by default (0: that default)",
		field: func(c *Config) any { return &c.Registrar.Shards }},
	{flag: "idle", env: "B2BUA_IDLE", usage: "how long a registration actor stays resident without a message before it passivates",
		field: func(c *Config) any { return &c.Registrar.Idle }},
	{flag: "presence-policy", env: "B2BUA_PRESENCE_POLICY", usage: "who may watch a user who set no policy: open, same-domain or approve",
		field: func(c *Config) any { return &c.Presence.Policy }},
	{flag: "presence-visibility", env: "B2BUA_PRESENCE_VISIBILITY", usage: "what a watcher sees when its owner set no level: full or basic",
		field: func(c *Config) any { return &c.Presence.Visibility }},
	{flag: "min-notify-interval", env: "B2BUA_MIN_NOTIFY_INTERVAL", usage: "shortest time between two NOTIFYs of one subscription (changes in between are merged)",
		field: func(c *Config) any { return &c.Presence.MinNotifyInterval }},
	{flag: "max-watchers", env: "B2BUA_MAX_WATCHERS", usage: "subscriptions one presentity may have (503 past it)",
		field: func(c *Config) any { return &c.Presence.MaxWatchers }},
	{flag: "memory-limit", env: "B2BUA_MEMORY_LIMIT", usage: "soft memory limit of the Go runtime, e.g. 800MiB or 2GiB, or none (default: GOMEMLIMIT, else 3/4 of the cgroup's or the machine's memory)",
		field: func(c *Config) any { return &c.MemoryLimit }},
	{flag: "gc-percent", env: "B2BUA_GC_PERCENT", usage: "the Go collector's GOGC: heap growth in percent that starts a collection; -1 off (needs a memory limit) (default: GOGC, else 400)",
		field: func(c *Config) any { return &c.GCPercent }},
	{flag: "block-profile-rate", env: "B2BUA_BLOCK_PROFILE_RATE", usage: "sample Go's block profile (/debug/pprof/block): one event per this much time blocked, e.g. 10us (default 0: off)",
		field: func(c *Config) any { return &c.BlockProfileRate }},
	{flag: "mutex-profile-fraction", env: "B2BUA_MUTEX_PROFILE_FRACTION", usage: "sample one in N contended mutex events for /debug/pprof/mutex (default 0: off)",
		field: func(c *Config) any { return &c.MutexProfileFraction }},
	{flag: "media", env: "B2BUA_MEDIA", usage: "what calls do with media: relay (the server relays RTP/SRTP between the legs) or passthrough (the SDP goes through untouched)",
		field: func(c *Config) any { return &c.Calls.Media }},
	{flag: "rtp-ports", env: "B2BUA_RTP_PORTS", usage: "the relay's UDP port range LO-HI: even ports RTP, odd ports RTCP",
		field: func(c *Config) any { return &c.Media.Ports }},
	{flag: "media-address", env: "B2BUA_MEDIA_ADDRESS", usage: "IP the relay binds and puts in SDP (default: the first SIP listener's, 127.0.0.1 for a wildcard)",
		field: func(c *Config) any { return &c.Media.Address }},
	{flag: "media-timeout", env: "B2BUA_MEDIA_TIMEOUT", usage: "end a call (BYE both legs) when no RTP came from either side for this long, unless on hold; 0: never",
		field: func(c *Config) any { return &c.Media.Timeout }},
	{flag: "srtp", env: "B2BUA_SRTP", usage: "what the callee's leg speaks: mirror (what the caller offered), rtp (plain RTP) or srtp (SDES-SRTP)",
		field: func(c *Config) any { return &c.Media.SRTP }},
	{flag: "outbound", env: "B2BUA_OUTBOUND", usage: "outbound proxy (sip:host:port) for calls to other domains (default none: they get 404)",
		field: func(c *Config) any { return &c.Calls.Outbound }},
	{flag: "no-answer", env: "B2BUA_NO_ANSWER", usage: "how long a call rings before the caller gets 480",
		field: func(c *Config) any { return &c.Calls.NoAnswer }},
	{flag: "session-expires", env: "B2BUA_SESSION_EXPIRES", usage: "session timer interval asked of calls (RFC 4028; 0: only when a caller asks)",
		field: func(c *Config) any { return &c.Calls.SessionExpires }},
	{flag: "min-se", env: "B2BUA_MIN_SE", usage: "shortest session interval taken (422 below; at least 90s)",
		field: func(c *Config) any { return &c.Calls.MinSE }},
}

// applyEnv overlays the B2BUA_* variables read through getenv.
func (c *Config) applyEnv(getenv func(string) (string, bool)) error {
	for _, s := range settings {
		v, ok := getenv(s.env)
		if s.env == "" || !ok {
			continue
		}
		if err := parseInto(s.field(c), v); err != nil {
			return fmt.Errorf("config: %s=%q: %w", s.env, v, err)
		}
	}
	return nil
}

// parseInto sets the field p points to from the text v.
func parseInto(p any, v string) error {
	switch p := p.(type) {
	case *string:
		*p = v
	case *[]string:
		*p = splitList(v)
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not a boolean")
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration such as 90s or 2m")
		}
		*p = d
	default:
		return fmt.Errorf("config: unsupported setting type %T", p)
	}
	return nil
}

// AddFlags registers on fs the flags of the named settings (all of them
// when names is empty), showing the defaults of d, and returns the
// function that copies the flags the user set over a Config: flags win
// over the file and the environment, but only when given.
func AddFlags(fs *pflag.FlagSet, d Config, names ...string) (overlay func(*Config)) {
	vals := &d
	var added []setting
	for _, s := range settings {
		if s.flag == "" || (len(names) > 0 && !slices.Contains(names, s.flag)) {
			continue
		}
		addFlag(fs, s, s.field(vals))
		added = append(added, s)
	}
	return func(c *Config) {
		for _, s := range added {
			if fs.Changed(s.flag) {
				reflect.ValueOf(s.field(c)).Elem().Set(reflect.ValueOf(s.field(vals)).Elem())
			}
		}
	}
}

func addFlag(fs *pflag.FlagSet, s setting, p any) {
	switch p := p.(type) {
	case *string:
		fs.StringVar(p, s.flag, *p, s.usage)
	case *[]string:
		if s.repeat {
			fs.StringArrayVar(p, s.flag, *p, s.usage)
		} else {
			fs.StringSliceVar(p, s.flag, *p, s.usage)
		}
	case *int:
		fs.IntVar(p, s.flag, *p, s.usage)
	case *bool:
		fs.BoolVar(p, s.flag, *p, s.usage)
	case *time.Duration:
		fs.DurationVar(p, s.flag, *p, s.usage)
	default:
		panic(fmt.Sprintf("config: flag --%s: unsupported type %T", s.flag, p)) // a bug in the table above
	}
}
