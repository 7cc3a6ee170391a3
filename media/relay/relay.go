// Package relay is the media hot path: a Stream is one RTP/RTCP socket
// pair facing one endpoint, with one reader goroutine per socket that
// forwards each packet straight to the linked Stream's socket, toward
// that Stream's endpoint. No mailbox, no lock shared with other streams
// and no allocation per packet: each reader owns its buffers, the link
// and the remote's settings are swapped with atomic.Pointer, and counters
// are atomics.
//
// Per packet, a reader: reads (ReadFromUDPAddrPort); checks the source
// (latching, below); decrypts it with the endpoint's key when the
// endpoint speaks SRTP (a packet that fails authentication is dropped and
// never latches); counts it; loads the link; drops it when there is no
// link or the other endpoint does not take media (Remote.Send false, on
// hold); encrypts it with the other endpoint's key when that one speaks
// SRTP; and writes it from the other Stream's socket to the other
// endpoint's latched address, else its SDP address. RTCP goes the same
// way on the RTCP sockets (SRTCP when SRTP); its SR/RR report blocks set
// the stream's Loss and Jitter. RFC 4733 telephone-events are RTP like
// any other and go untouched.
//
// Latching (symmetric RTP, for endpoints behind NAT): a stream sends to
// the address its endpoint's SDP gave until the endpoint's packets come
// from somewhere else. For LatchWindow after the first packet, the stream
// latches to the source of the packets it gets, except that once latched
// to the SDP address it stays there; after the window it moves only for a
// packet whose SSRC is the latched source's. Packets from any other
// source are dropped and counted (Stats.Hijack).
package relay

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/media/sdp"
)

// Crypto is one direction's SRTP suite and master key||salt; the zero
// Crypto (sdp.None) is plain RTP.
type Crypto struct {
	Suite sdp.Suite
	Key   []byte
}

// String names the suite only: keys are never printed, even by a %v of a
// Remote in a log line.
func (c Crypto) String() string { return c.Suite.String() }

// GoString is String, for %#v.
func (c Crypto) GoString() string { return c.String() }

// Remote is what one stream's endpoint told us in its SDP.
type Remote struct {
	// RTP and RTCP are where the endpoint wants media, before latching;
	// the zero AddrPort: not known yet.
	RTP, RTCP netip.AddrPort
	// Send reports whether the endpoint takes media (sendrecv or
	// recvonly, an address that is not 0.0.0.0): when false nothing is
	// sent to it.
	Send bool
	// In is the endpoint's key: what it sends is decrypted with it.
	// Out is ours: what is sent to it is encrypted with it.
	In, Out Crypto
}

// Options of a stream.
type Options struct {
	// LatchWindow is how long after its first packet a stream latches to
	// any source (see the package comment); 0 means 3 s.
	LatchWindow time.Duration
	Log         *zap.Logger
	// Failed is called (once, from the reader's goroutine) when a reader
	// panics: the reader recovers, closes the stream and reports it. The
	// media-leg actor turns it into a failure of its own.
	Failed func(reason any)
}

// Stats are a stream's counters.
type Stats struct {
	// Packets and bytes received from the endpoint (RTP+RTCP, after
	// decryption) and sent to it.
	RxPackets, RxBytes, TxPackets, TxBytes uint64
	// Dropped are packets received that went nowhere: no link, the other
	// endpoint on hold or unknown, a failed write.
	Dropped uint64
	// Hijack are packets from a source the stream would not latch to.
	Hijack uint64
	// AuthFailed are SRTP/SRTCP packets that failed authentication or
	// replay protection.
	AuthFailed uint64
	// LastRx is when the last RTP packet came from the endpoint (zero:
	// none yet).
	LastRx time.Time
	// Latched is the endpoint's address the stream sends to (zero: the
	// SDP's, nothing latched yet).
	Latched netip.AddrPort
	// Loss (fraction lost, 0..1), Lost (cumulative) and Jitter (in RTP
	// timestamp units) are from the endpoint's last RTCP report block:
	// what it says of the packets it got from us.
	Loss   float64
	Lost   int64
	Jitter uint32
}

// Stream is one RTP/RTCP socket pair facing one endpoint.
//
// Who writes what: the control plane (SetRemote, Link, Close) swaps
// remote and route under ctl; each reader owns its reader struct and the
// latch of its socket; counters are atomics written by this stream's
// readers (Rx, Dropped, Hijack, AuthFailed) and by the linked stream's
// readers (Tx).
type Stream struct {
	conns  [2]*net.UDPConn // kindRTP, kindRTCP (nil: no RTCP socket)
	local  netip.AddrPort
	log    *zap.Logger
	window int64 // LatchWindow in ns
	failed func(reason any)
	hook   func(kind int) // tests: called by the reader before each packet

	remote atomic.Pointer[remoteState] // never nil
	route  atomic.Pointer[route]       // nil: not linked
	latch  [2]atomic.Pointer[latch]    // per socket; nil: nothing latched
	first  atomic.Int64                // mono() of the first packet; 0: none yet

	rxPackets, rxBytes, txPackets, txBytes atomic.Uint64
	dropped, hijack, authFailed            atomic.Uint64
	lastRx                                 atomic.Int64  // mono(); 0: none
	report                                 atomic.Uint64 // packed report block

	peer *Stream // guarded by ctl
	// routes is guarded by ctl: the last route built from s to each
	// stream it was linked to (newRoute); a few forks at most.
	routes map[*Stream]*route

	startOnce, closeOnce, failOnce sync.Once
	wg                             sync.WaitGroup
}

// ErrCrypto is a Remote whose suite or key the relay cannot use.
var ErrCrypto = errors.New("relay: unusable SRTP suite or key")

// ctl serialises the control plane (Link, SetRemote, Close's unlink) of
// every stream. One lock for all streams keeps Link(a, b) free of lock
// ordering; it is taken a few times per call, never per packet.
var ctl sync.Mutex

// NewStream wraps a bound pair; it reads nothing until Start. rtcp may
// be nil (no RTCP relayed).
func NewStream(rtp, rtcp *net.UDPConn, o Options) *Stream {
	s := &Stream{conns: [2]*net.UDPConn{rtp, rtcp}, log: o.Log, failed: o.Failed}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.window = int64(o.LatchWindow)
	if s.window == 0 {
		s.window = int64(3 * time.Second)
	}
	if a, ok := rtp.LocalAddr().(*net.UDPAddr); ok {
		s.local = a.AddrPort()
	}
	s.remote.Store(&remoteState{})
	return s
}

// Start starts the stream's two readers.
func (s *Stream) Start() {
	s.startOnce.Do(func() {
		for kind, c := range s.conns {
			if c == nil {
				continue
			}
			r := newReader(s, kind)
			s.wg.Add(1)
			go r.run()
		}
	})
}

// Close stops the readers and closes both sockets; it waits for the
// readers to return. Safe to call more than once.
func (s *Stream) Close() error {
	s.shutdown()
	s.wg.Wait()
	return nil
}

// shutdown unlinks the stream and closes its sockets, which ends the
// readers; it does not wait for them (a panicking reader calls it).
func (s *Stream) shutdown() {
	s.closeOnce.Do(func() {
		Link(s, nil)
		ctl.Lock()
		s.routes = nil
		ctl.Unlock()
		for _, c := range s.conns {
			if c != nil {
				c.Close()
			}
		}
	})
}

// SetRemote sets what the endpoint's SDP said; safe for concurrent use
// with the readers (the settings are swapped atomically). A changed In
// key restarts the decryption context (and its replay window); a changed
// Out key rebuilds the encrypting side of the link into this stream.
// A changed RTP address forgets what was latched.
func (s *Stream) SetRemote(r Remote) error {
	r.In.Key = clone(r.In.Key)
	r.Out.Key = clone(r.Out.Key)
	if err := checkCrypto(r.In); err != nil {
		return err
	}
	if err := checkCrypto(r.Out); err != nil {
		return err
	}
	ctl.Lock()
	defer ctl.Unlock()
	old := s.remote.Load()
	ns := &remoteState{r: r}
	if sameCrypto(old.r.In, r.In) {
		ns.dec = old.dec
	} else if r.In.Suite != sdp.None {
		var err error
		if ns.dec, err = newContexts(r.In, true); err != nil {
			return err
		}
	}
	if old.r.RTP != r.RTP {
		s.latch[kindRTP].Store(nil)
		s.latch[kindRTCP].Store(nil)
		s.first.Store(0)
	}
	s.remote.Store(ns)
	if !sameCrypto(old.r.Out, r.Out) && s.peer != nil {
		s.peer.route.Store(newRoute(s.peer, s))
	}
	return nil
}

// Link joins a and b: a's packets go to b's endpoint and b's to a's. A
// previous link of a or of b is undone first (the stream that was linked
// to a or b is left unlinked). Link(a, nil) unlinks a (and its peer).
// Safe for concurrent use with the readers; control-plane calls (Link,
// SetRemote) are serialised by a lock the readers never take.
func Link(a, b *Stream) {
	if a == nil {
		a, b = b, nil
	}
	ctl.Lock()
	defer ctl.Unlock()
	unlinkLocked(a)
	if a == nil || b == nil || b == a {
		return
	}
	unlinkLocked(b)
	a.peer, b.peer = b, a
	a.route.Store(newRoute(a, b))
	b.route.Store(newRoute(b, a))
}

func unlinkLocked(s *Stream) {
	if s == nil || s.peer == nil {
		return
	}
	p := s.peer
	p.peer, s.peer = nil, nil
	p.route.Store(nil)
	s.route.Store(nil)
}

// Stats is a snapshot of the counters.
func (s *Stream) Stats() Stats {
	st := Stats{
		RxPackets:  s.rxPackets.Load(),
		RxBytes:    s.rxBytes.Load(),
		TxPackets:  s.txPackets.Load(),
		TxBytes:    s.txBytes.Load(),
		Dropped:    s.dropped.Load(),
		Hijack:     s.hijack.Load(),
		AuthFailed: s.authFailed.Load(),
	}
	if t := s.lastRx.Load(); t != 0 {
		st.LastRx = epoch.Add(time.Duration(t))
	}
	if l := s.latch[kindRTP].Load(); l != nil {
		st.Latched = l.addr
	}
	rep := unpackReport(s.report.Load())
	st.Loss, st.Lost, st.Jitter = float64(rep.fraction)/256, int64(rep.lost), rep.jitter
	return st
}

// LocalRTP is the RTP socket's address.
func (s *Stream) LocalRTP() netip.AddrPort { return s.local }

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
