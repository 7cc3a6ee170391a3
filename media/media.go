// Package media is the relay's control plane: an Engine hands out port
// pairs and builds Sessions; a Session is one call side's media (one
// relay.Stream per m= line) and its offer/answer state: it reads the SDP
// its endpoint sends (Received), writes the SDP the endpoint gets in place
// of the other side's (Sent), and holds the leg's SRTP keys. Bridge links
// two sessions' streams. Packets never pass through here: see
// media/relay. The call actor (actors/call) drives Sessions from its leg
// actors; this package knows nothing of actors or SIP.
package media

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/media/ports"
	"github.com/b2bua/b2bua/media/relay"
	"github.com/b2bua/b2bua/media/sdp"
)

var (
	// ErrExhausted is a session that could not get ports: the INVITE is
	// answered 503.
	ErrExhausted = ports.ErrExhausted
	// ErrNoCrypto is an RTP/SAVP stream without an a=crypto line the
	// relay can use, or an SRTP answer whose tag matches none we offered:
	// 488.
	ErrNoCrypto = errors.New("media: no usable SRTP crypto line")
	// ErrClosed is a session used after Close.
	ErrClosed = errors.New("media: session closed")
)

// Role says which party a session faces.
type Role uint8

const (
	// Caller faces the party that sent the INVITE: its profile always
	// follows what that party offers.
	Caller Role = iota
	// Callee faces a party we call: its profile follows Config.SRTP.
	Callee
)

// Engine makes sessions; safe for concurrent use.
type Engine struct {
	conf    Config
	addr    netip.Addr
	ports   *ports.Allocator
	log     *zap.Logger
	metrics *Metrics

	link sync.Mutex // Bridge and growth of bridged sessions
}

// NewEngine binds nothing until a session asks for ports. addr is where
// the relay binds and what its SDP says.
func NewEngine(c Config, addr netip.Addr, log *zap.Logger) (*Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	lo, hi, _ := c.PortRange()
	a, err := ports.New(addr, lo, hi, c.Quarantine)
	if err != nil {
		return nil, err
	}
	return &Engine{conf: c, addr: addr, ports: a, log: log.Named("media")}, nil
}

// Config is the engine's configuration.
func (e *Engine) Config() Config { return e.conf }

// Address is the relay's address.
func (e *Engine) Address() netip.Addr { return e.addr }

// PortsInUse is the number of port pairs handed out.
func (e *Engine) PortsInUse() int { return e.ports.InUse() }

// Session is one call side's media. Its methods are safe for concurrent
// use: the leg actor rewrites and reads SDP, the call bridges, the
// media-leg actor starts, watches and closes it.
type Session struct {
	e      *Engine
	role   Role
	callID string
	side   string // "a", "b1", ... for logs

	mu       sync.Mutex
	streams  []*stream
	started  bool
	closed   bool
	failed   func(any)
	sessID   uint64
	version  uint64
	lastSent []byte // the last SDP sent, at version
	held     bool   // the endpoint's last SDP holds (no stream takes media)
	armed    time.Time
	grew     bool // streams were added under mu: relink once it is released

	peer *Session // under e.link
}

// stream is one m= line of a session.
type stream struct {
	pair    ports.Pair
	rs      *relay.Stream
	decided bool // its profile is negotiated
	secure  bool
	keys    map[sdp.Suite][]byte // ours, made on first use, kept for the session
	offered []sdp.Crypto         // our a=crypto lines of our offer in flight
	tag     int                  // the tag of the peer's offered line we answer
	remote  relay.Remote
	refused bool // port 0: the stream is off
}

// NewSession is a session with no ports yet (Prepare or the first SDP
// takes them). callID and side name it in logs.
func (e *Engine) NewSession(role Role, callID, side string) *Session {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := binary.BigEndian.Uint64(b[:]) >> 2 // an o= session id fits in 62 bits (NTP-style is advised, any is allowed)
	return &Session{e: e, role: role, callID: callID, side: side, sessID: id, version: 1}
}

// Prepare takes ports for the m= lines of body (an offer), so that a
// call the relay cannot carry fails before it rings anyone: ErrExhausted
// without ports, ErrNoCrypto for an RTP/SAVP stream without a key the
// relay can use.
func (s *Session) Prepare(body []byte) error {
	d, err := sdp.Parse(body)
	if err != nil {
		return err
	}
	for i := range d.Streams {
		if ds := &d.Streams[i]; ds.Port != 0 && ds.RTP && ds.Secure && len(ds.Crypto) == 0 {
			return ErrNoCrypto
		}
	}
	s.mu.Lock()
	defer s.unlock()
	return s.grow(len(d.Streams))
}

// grow takes ports until the session has n streams (under s.mu).
func (s *Session) grow(n int) error {
	if s.closed {
		return ErrClosed
	}
	added := false
	for len(s.streams) < n {
		p, err := s.e.ports.Alloc()
		if err != nil {
			return err
		}
		st := &stream{pair: p, rs: relay.NewStream(p.RTP, p.RTCP, relay.Options{LatchWindow: s.e.conf.Latch,
			Log:    s.e.log.With(zap.String("call_id", s.callID), zap.String("leg", s.side), zap.Int("stream", len(s.streams))),
			Failed: s.failure})}
		if s.started {
			st.rs.Start()
		}
		s.streams = append(s.streams, st)
		added = true
	}
	if added {
		s.grew = true // relinked by the caller once s.mu is released (e.link comes first)
	}
	return nil
}

// unlock releases s.mu and links the streams it added to a bridged peer.
func (s *Session) unlock() {
	grew := s.grew
	s.grew = false
	s.mu.Unlock()
	if grew {
		s.relink()
	}
}

// failure is a reader's panic, reported to whoever Start named.
func (s *Session) failure(r any) {
	s.mu.Lock()
	f := s.failed
	s.mu.Unlock()
	if f != nil {
		f(r)
	}
}

// relink links the streams of a bridged session that grew.
func (s *Session) relink() {
	s.e.link.Lock()
	defer s.e.link.Unlock()
	if s.peer != nil {
		linkStreams(s, s.peer)
	}
}

// Start starts the relay loops; failed is called (from a reader's
// goroutine) when one panics.
func (s *Session) Start(failed func(any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started, s.failed = true, failed
	for _, st := range s.streams {
		st.rs.Start()
	}
}

// Close stops the loops, closes the sockets and puts the ports in
// quarantine. Safe to call more than once.
func (s *Session) Close() {
	s.e.link.Lock()
	if p := s.peer; p != nil {
		p.peer = nil
		s.peer = nil
	}
	s.e.link.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	streams := s.streams
	s.mu.Unlock()
	for _, st := range streams {
		relay.Link(st.rs, nil)
		_ = st.rs.Close()
		s.e.ports.Release(st.pair)
	}
}

// Bridge links a's streams to b's, m= line by m= line: what a's endpoint
// sends goes to b's and back. A previous peer of a or b is left unlinked
// (an early-media fork that lost).
func Bridge(a, b *Session) {
	if a == nil || b == nil || a == b {
		return
	}
	a.e.link.Lock()
	defer a.e.link.Unlock()
	for _, x := range []*Session{a, b} {
		if old := x.peer; old != nil && old != a && old != b {
			old.peer = nil
			unlinkStreams(old)
		}
	}
	a.peer, b.peer = b, a
	linkStreams(a, b)
}

func linkStreams(a, b *Session) {
	as, bs := a.snapshot(), b.snapshot()
	for i := 0; i < len(as) && i < len(bs); i++ {
		relay.Link(as[i].rs, bs[i].rs)
	}
}

func unlinkStreams(s *Session) {
	for _, st := range s.snapshot() {
		relay.Link(st.rs, nil)
	}
}

func (s *Session) snapshot() []*stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return append([]*stream(nil), s.streams...)
}

// Received takes the SDP the session's endpoint sent: an offer (in a
// request, or a 2xx to an INVITE without one) or the answer to ours. It
// learns where the endpoint wants media and, for SRTP, its keys.
func (s *Session) Received(body []byte, offer bool) error {
	d, err := sdp.Parse(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.unlock()
	if err := s.grow(len(d.Streams)); err != nil {
		return err
	}
	held := true
	for i := range d.Streams {
		ds, st := &d.Streams[i], s.streams[i]
		r := relay.Remote{}
		switch {
		case ds.Port == 0 || !ds.RTP:
			st.refused = true
		case offer:
			st.refused = false
			st.secure, st.decided = ds.Secure, true
			if ds.Secure {
				if len(ds.Crypto) == 0 {
					return ErrNoCrypto
				}
				c := ds.Crypto[0] // Parse keeps the lines we can use, in the offer's order
				st.tag = c.Tag
				r.In = relay.Crypto{Suite: c.Suite, Key: c.Key}
				r.Out = relay.Crypto{Suite: c.Suite, Key: st.key(c.Suite)}
			}
		default: // the answer to our offer
			st.refused = false
			st.secure, st.decided = ds.Secure, true
			if ds.Secure {
				c, ok := answered(ds.Crypto, st.offered)
				if !ok && len(st.offered) == 0 && st.remote.In.Suite != sdp.None {
					// our last description sent again (a session refresh): the
					// endpoint's line of the suite in use stands
					for _, g := range ds.Crypto {
						if g.Suite == st.remote.In.Suite {
							c, ok = g, true
							break
						}
					}
				}
				if !ok {
					return ErrNoCrypto
				}
				r.In = relay.Crypto{Suite: c.Suite, Key: c.Key}
				r.Out = relay.Crypto{Suite: c.Suite, Key: st.key(c.Suite)}
			}
			st.offered = nil
		}
		if !st.refused {
			r.RTP = netip.AddrPortFrom(ds.Addr, uint16(ds.Port))
			r.RTCP, r.Send = ds.RTCP, ds.Send()
			if ds.Dir == sdp.SendRecv && r.Send {
				held = false
			}
		}
		st.remote = r
		if err := st.rs.SetRemote(r); err != nil {
			return err
		}
	}
	s.held = held
	return nil
}

// answered is the line of an SRTP answer whose tag is one we offered
// with the same suite.
func answered(got, offered []sdp.Crypto) (sdp.Crypto, bool) {
	for _, g := range got {
		for _, o := range offered {
			if g.Tag == o.Tag && g.Suite == o.Suite {
				return g, true
			}
		}
	}
	return sdp.Crypto{}, false
}

// key is our master key||salt for suite on this stream, made on first use.
func (st *stream) key(suite sdp.Suite) []byte {
	if k, ok := st.keys[suite]; ok {
		return k
	}
	if st.keys == nil {
		st.keys = map[sdp.Suite][]byte{}
	}
	k := make([]byte, suite.KeyLen())
	_, _ = rand.Read(k)
	st.keys[suite] = k
	return k
}

// offerSuites are the suites we offer an SRTP endpoint, preferred first.
var offerSuites = []sdp.Suite{sdp.AES_CM_128_HMAC_SHA1_80, sdp.AES_CM_128_HMAC_SHA1_32}

// Sent is body (the other side's SDP) as this session's endpoint gets it:
// the relay's address and ports, this leg's profile and keys, the leg's
// own o= line. offer says whether it is an offer (an INVITE, UPDATE or
// re-INVITE, a 2xx to an INVITE without SDP) or the answer to the
// endpoint's offer.
func (s *Session) Sent(body []byte, offer bool) ([]byte, error) {
	d, err := sdp.Parse(body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.unlock()
	if err := s.grow(len(d.Streams)); err != nil {
		return nil, err
	}
	l := sdp.Local{Addr: s.e.addr, SessionID: s.sessID, Version: s.version, Streams: make([]sdp.LocalStream, len(d.Streams))}
	for i := range d.Streams {
		ds, st, ls := &d.Streams[i], s.streams[i], &l.Streams[i]
		if ds.Port == 0 || !ds.RTP {
			continue // refused: port 0
		}
		ls.RTP = st.pair.Port
		switch {
		case offer:
			secure := st.secure
			if !st.decided {
				secure = s.policy(ds.Secure)
			}
			ls.Secure = secure
			if secure {
				st.offered = st.offered[:0]
				for n, suite := range offerSuites {
					st.offered = append(st.offered, sdp.Crypto{Tag: n + 1, Suite: suite, Key: st.key(suite)})
				}
				ls.Crypto = st.offered
			}
		default:
			ls.Secure = st.secure
			if st.secure {
				suite := st.remote.In.Suite
				ls.Crypto = []sdp.Crypto{{Tag: st.tag, Suite: suite, Key: st.key(suite)}}
			}
		}
	}
	out, err := sdp.Rewrite(body, l)
	if err != nil {
		return nil, err
	}
	if s.lastSent != nil && !bytes.Equal(out, s.lastSent) {
		s.version++ // a changed description gets the next version (RFC 3264 §8)
		l.Version = s.version
		if out, err = sdp.Rewrite(body, l); err != nil {
			return nil, err
		}
	}
	s.lastSent = out
	return out, nil
}

// policy is whether a stream we offer first on this leg is SRTP, given
// whether the SDP we relay is.
func (s *Session) policy(secure bool) bool {
	if s.role == Caller {
		return secure
	}
	switch s.e.conf.SRTP {
	case SRTPOff:
		return false
	case SRTPOn:
		return true
	}
	return secure
}

// Arm starts the inactivity clock: from now on Idle may report.
func (s *Session) Arm() {
	s.mu.Lock()
	if s.armed.IsZero() {
		s.armed = time.Now()
	}
	s.mu.Unlock()
}

// Held reports whether the endpoint's last SDP takes no media on any
// stream (a hold: sendonly, inactive, 0.0.0.0).
func (s *Session) Held() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// LastRx is when RTP last came from the endpoint, or when the session was
// armed when later; zero when it is not armed.
func (s *Session) LastRx() time.Time {
	s.mu.Lock()
	last, streams := s.armed, s.streams
	s.mu.Unlock()
	if last.IsZero() {
		return last
	}
	for _, st := range streams {
		if t := st.rs.Stats().LastRx; t.After(last) {
			last = t
		}
	}
	return last
}

// Stats sums the counters of the session's streams (Loss and Jitter are
// the worst stream's).
func (s *Session) Stats() relay.Stats {
	// Not snapshot, which is empty once closed: the media leg reports the
	// counters' last moves after Close (its ports are in quarantine then,
	// but the streams' counters stay).
	s.mu.Lock()
	streams := s.streams
	s.mu.Unlock()
	var sum relay.Stats
	for _, st := range streams {
		x := st.rs.Stats()
		sum.RxPackets += x.RxPackets
		sum.RxBytes += x.RxBytes
		sum.TxPackets += x.TxPackets
		sum.TxBytes += x.TxBytes
		sum.Dropped += x.Dropped
		sum.Hijack += x.Hijack
		sum.AuthFailed += x.AuthFailed
		if x.LastRx.After(sum.LastRx) {
			sum.LastRx = x.LastRx
		}
		if x.Loss > sum.Loss {
			sum.Loss = x.Loss
		}
		sum.Lost += x.Lost
		sum.Jitter = max(sum.Jitter, x.Jitter)
	}
	return sum
}

// Ports are the session's RTP ports, m= line by m= line.
func (s *Session) Ports() []int {
	var ps []int
	for _, st := range s.snapshot() {
		ps = append(ps, st.pair.Port)
	}
	return ps
}

// Side names the session's leg ("a", "b1", ...).
func (s *Session) Side() string { return s.side }

// CallID is the call the session belongs to.
func (s *Session) CallID() string { return s.callID }

// String names the session for logs: never its keys.
func (s *Session) String() string { return fmt.Sprintf("media %s/%s", s.callID, s.side) }
