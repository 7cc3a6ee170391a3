package call

import (
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"time"
)

// The media modes of Config.Media.
const (
	// MediaRelay puts the server in the media path: every leg's SDP
	// points at the relay (media.Engine), which forwards RTP/RTCP between
	// the legs and bridges SRTP and RTP.
	MediaRelay = "relay"
	// MediaPassthrough leaves the SDP untouched: the endpoints send media
	// to each other.
	MediaPassthrough = "passthrough"
)

// Config holds call control's settings. The yaml tags are its keys under
// `calls:` in the server's configuration file.
type Config struct {
	// NoAnswer is how long the callee's contacts may ring: past it every
	// fork is cancelled and the caller gets 480.
	NoAnswer time.Duration `yaml:"no_answer"`
	// Copy names the headers copied from one leg's requests and responses
	// to the other's: exact names, or prefixes ending in "*" ("X-*").
	// Dialog and transaction headers (Via, Route, Record-Route, Contact,
	// Call-ID, From/To tags, CSeq) never cross, whatever this says.
	Copy []string `yaml:"copy_headers"`
	// Trusted are the sources whose P-Asserted-Identity is copied across
	// (RFC 3325 §5: only within a trust domain); from anyone else it is
	// dropped.
	Trusted []netip.Prefix `yaml:"trusted"`
	// SessionExpires is the session interval asked for (RFC 4028); 0
	// turns session timers off unless a caller asks for them.
	SessionExpires time.Duration `yaml:"session_expires"`
	// MinSE is the smallest session interval taken: a request asking for
	// less gets 422 with Min-SE (RFC 4028 §6). At least 90 s.
	MinSE time.Duration `yaml:"min_se"`
	// Outbound is where calls to users of other domains go (a SIP URI,
	// sip:host:port); empty: they get 404.
	Outbound string `yaml:"outbound"`
	// Media is relay (the server relays RTP; settings under `media:`)
	// or passthrough.
	Media string `yaml:"media"`
	// AckTimeout bounds the wait for the ACK of a 2xx (RFC 3261 §13.3.1.4:
	// 64*T1): past it the dialog is torn down with BYE.
	AckTimeout time.Duration `yaml:"-"`
	// Shards of the kind.
	Shards int `yaml:"shards"`
	// TestShortTimers lifts the 90 s floor of MinSE (RFC 4028 §4) so the
	// integration tests can see a session expire in seconds. For tests
	// only (the README says so).
	TestShortTimers bool `yaml:"test_short_timers"`
}

// DefaultConfig: 60 s of ringing, X-* headers copied, session timers of
// 1800 s with Min-SE 90 s, no outbound proxy, media relayed.
func DefaultConfig() Config {
	return Config{NoAnswer: 60 * time.Second, Copy: []string{"X-*"}, SessionExpires: 1800 * time.Second, MinSE: 90 * time.Second,
		Media: MediaRelay, AckTimeout: 32 * time.Second, Shards: 8 * runtime.GOMAXPROCS(0)}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.NoAnswer <= 0:
		return errors.New("calls: no-answer time must be positive")
	case c.MinSE < 90*time.Second && !(c.TestShortTimers && c.MinSE >= time.Second):
		return errors.New("calls: min_se must be at least 90s (RFC 4028 §4)")
	case c.SessionExpires != 0 && c.SessionExpires < c.MinSE:
		return errors.New("calls: session_expires must be 0 or at least min_se")
	case c.Media != MediaPassthrough && c.Media != MediaRelay:
		return errors.New(`calls: media must be "relay" or "passthrough"`)
	case c.Shards < 1:
		return errors.New("calls: shards must be at least 1")
	case c.Outbound != "" && !strings.HasPrefix(c.Outbound, "sip:") && !strings.HasPrefix(c.Outbound, "sips:"):
		return errors.New("calls: outbound must be a sip: URI")
	}
	return nil
}

func (c *Config) ackTimeout() time.Duration {
	if c.AckTimeout <= 0 {
		return 32 * time.Second
	}
	return c.AckTimeout
}

// copies reports whether header name crosses from one leg to the other.
func (c *Config) copies(name string) bool {
	for _, p := range c.Copy {
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			if len(name) >= len(pre) && strings.EqualFold(name[:len(pre)], pre) {
				return true
			}
		} else if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// trusted reports whether a source ("udp:192.0.2.4:5060") is in Trusted.
func (c *Config) trusted(source string) bool {
	if len(c.Trusted) == 0 {
		return false
	}
	_, addr, _ := strings.Cut(source, ":")
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	for _, p := range c.Trusted {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}
