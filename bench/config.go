package bench

import (
	"fmt"
	"io"
	"net"
	"time"

	"go.uber.org/zap"
)

// Config is one run of the generator. Zero fields take the defaults of
// DefaultConfig when passed through WithDefaults.
type Config struct {
	// Scenario builds the requests; required.
	Scenario Scenario
	// Target is the server's host:port; required.
	Target string
	// Transport is "udp" or "tcp".
	Transport string
	// Local is the address the sockets bind to; port 0 picks free ports.
	Local string
	// Sockets is the number of client sockets (UDP) or connections (TCP);
	// requests are spread over them round-robin.
	Sockets int
	// Rate is the target number of logical requests started per second.
	Rate float64
	// Duration and Total end the send phase, whichever comes first; at least
	// one is required.
	Duration time.Duration
	Total    uint64
	// Ramp raises the rate linearly from 0 to Rate over this time.
	Ramp time.Duration
	// Concurrency caps outstanding logical requests; above it a scheduled
	// request is skipped and counted as throttled.
	Concurrency int
	// Users is the number of distinct AORs, used in turn; 0 gives every
	// logical request its own user (user<Seq>).
	Users int
	// UserPrefix, Domain, Expires and Body shape the requests (see Env).
	UserPrefix string
	Domain     string
	Expires    int
	Body       string
	// Timeout is Timer F: a transaction without a final response after it
	// is a timeout (RFC 3261 §17.1.2.2: 64*T1 = 32 s).
	Timeout time.Duration
	// T1 and T2 are the RFC 3261 retransmission timers (500 ms, 4 s).
	T1, T2 time.Duration
	// MaxFailures is the highest acceptable share of unsuccessful logical
	// requests (failed, timed out, throttled) before Run returns
	// ErrTooManyFailures; 0.01 is 1 %.
	MaxFailures float64
	// TargetPID, if not 0, is sampled once per second for CPU and RSS.
	TargetPID int
	// Tokens, if not nil, adds Authorization: Bearer to every request.
	Tokens *Tokens
	// DigestPassword, if not empty, answers Digest challenges (401/407).
	DigestPassword string
	// SocketBuffer is SO_RCVBUF and SO_SNDBUF of every socket.
	SocketBuffer int
	// Progress receives one progress line per second; nil for none.
	// Terminal rewrites one line in place instead of printing key=value
	// lines.
	Progress io.Writer
	Terminal bool
	// Log receives diagnostics; nil for none.
	Log *zap.Logger
}

// DefaultConfig returns the defaults of every optional field.
func DefaultConfig() Config {
	return Config{
		Transport:    "udp",
		Local:        "127.0.0.1:0",
		Sockets:      1,
		Concurrency:  100000,
		UserPrefix:   "user",
		Domain:       "localhost",
		Expires:      3600,
		Body:         "Hello from the b2bua bench",
		Timeout:      32 * time.Second,
		T1:           500 * time.Millisecond,
		T2:           4 * time.Second,
		MaxFailures:  0.01,
		SocketBuffer: 4 << 20,
	}
}

// WithDefaults returns c with its zero fields set from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	setIfZero(&c.Transport, d.Transport)
	setIfZero(&c.Local, d.Local)
	setIfZero(&c.Sockets, d.Sockets)
	setIfZero(&c.Concurrency, d.Concurrency)
	setIfZero(&c.UserPrefix, d.UserPrefix)
	setIfZero(&c.Domain, d.Domain)
	setIfZero(&c.Expires, d.Expires)
	setIfZero(&c.Body, d.Body)
	setIfZero(&c.Timeout, d.Timeout)
	setIfZero(&c.T1, d.T1)
	setIfZero(&c.T2, d.T2)
	setIfZero(&c.SocketBuffer, d.SocketBuffer)
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	return c
}

func setIfZero[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate reports the first field that cannot work.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...)
	}
	switch {
	case c.Scenario == nil || c.Scenario.Steps() < 1:
		return bad("no scenario")
	case c.Transport != "udp" && c.Transport != "tcp":
		return bad("transport %q is not udp or tcp", c.Transport)
	case c.Rate <= 0:
		return bad("rate must be above 0")
	case c.Duration <= 0 && c.Total == 0:
		return bad("duration or total is required")
	case c.Concurrency < 1 || c.Concurrency > 1<<24:
		return bad("concurrency %d out of range", c.Concurrency)
	case c.Sockets < 1 || c.Sockets > 256:
		return bad("sockets %d out of range", c.Sockets)
	case c.Users < 0 || c.Ramp < 0 || c.Timeout <= 0 || c.T1 <= 0 || c.T2 < c.T1:
		return bad("users, ramp, timeout, t1 or t2 out of range")
	case c.MaxFailures < 0 || c.MaxFailures > 1:
		return bad("max-failures %v is not a ratio", c.MaxFailures)
	}
	if v, ok := c.Scenario.(validator); ok {
		if err := v.validate(); err != nil {
			return bad("%v", err)
		}
	}
	if _, _, err := net.SplitHostPort(c.Target); err != nil {
		return bad("target %q: %v", c.Target, err)
	}
	if _, _, err := net.SplitHostPort(c.Local); err != nil {
		return bad("local %q: %v", c.Local, err)
	}
	return nil
}
