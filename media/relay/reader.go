package relay

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"go.uber.org/zap"
)

// The two sockets of a stream.
const (
	kindRTP  = 0
	kindRTCP = 1
)

// bufSize is the read buffer: above any Ethernet MTU, so a datagram that
// fills it is one that was cut and is dropped.
const bufSize = 2048

// srtpOverhead is room for what encryption adds: auth tag (10, or 16 for
// GCM), SRTCP index (4), and an MKI we never send.
const srtpOverhead = 64

// epoch makes mono: nanoseconds on the monotonic clock, never 0 after start.
var epoch = time.Now().Add(-time.Nanosecond)

func mono() int64 { return int64(time.Since(epoch)) }

// reader is one socket's goroutine state; nothing in it is shared.
type reader struct {
	s    *Stream
	kind int
	buf  [bufSize]byte
	enc  [bufSize + srtpOverhead]byte
	hdr  rtp.Header  // reused by pion's decrypt/encrypt (no allocation)
	rhdr rtcp.Header // idem for SRTCP
}

func newReader(s *Stream, kind int) *reader { return &reader{s: s, kind: kind} }

// run reads until the socket is closed. A panic closes the stream and is
// reported through Options.Failed, once.
func (r *reader) run() {
	s := r.s
	defer func() {
		v := recover()
		if v == nil {
			s.wg.Done()
			return
		}
		s.log.Error("relay: reader panicked", zap.Int("socket", r.kind), zap.Any("reason", v), zap.Stack("stack"))
		s.shutdown()
		// Done before Failed: Failed may call Close, which waits for us.
		s.wg.Done()
		s.failOnce.Do(func() {
			if s.failed != nil {
				s.failed(v)
			}
		})
	}()
	conn := s.conns[r.kind]
	for {
		n, from, err := conn.ReadFromUDPAddrPort(r.buf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient error of one datagram (unconnected UDP has few)
		}
		r.forward(n, unmap(from))
	}
}

// unmap turns ::ffff:a.b.c.d into a.b.c.d, so sources compare equal to
// the IPv4 addresses of the SDP.
func unmap(a netip.AddrPort) netip.AddrPort {
	if a.Addr().Is4In6() {
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return a
}

// forward handles one datagram of n bytes in r.buf from from: the whole
// per-packet path except the read. It must not allocate.
func (r *reader) forward(n int, from netip.AddrPort) {
	s := r.s
	if h := s.hook; h != nil {
		h(r.kind)
	}
	pkt := r.buf[:n]
	ssrc, ok := r.check(pkt)
	if !ok {
		s.dropped.Add(1)
		return
	}
	now := mono()
	rs := s.remote.Load()
	move, ok := s.source(r.kind, rs, from, ssrc, now)
	if !ok {
		s.hijack.Add(1)
		return
	}
	if dec := rs.dec[r.kind]; dec != nil {
		var err error
		if r.kind == kindRTP {
			pkt, err = dec.DecryptRTP(pkt, pkt, &r.hdr)
		} else {
			pkt, err = dec.DecryptRTCP(pkt, pkt, &r.rhdr)
		}
		if err != nil {
			s.authFailed.Add(1)
			return
		}
	}
	if move { // only now: an SRTP packet latches only once authenticated
		s.latchTo(r.kind, from, ssrc, now)
	}
	s.rxPackets.Add(1)
	s.rxBytes.Add(uint64(len(pkt)))
	if r.kind == kindRTP {
		s.lastRx.Store(now)
	} else if rep, ok := firstReport(pkt); ok {
		s.report.Store(rep.pack())
	}
	if !r.send(pkt) {
		s.dropped.Add(1)
	}
}

// check is the packet's SSRC, false when it is not RTP/RTCP version 2
// or was cut by the read buffer.
func (r *reader) check(pkt []byte) (uint32, bool) {
	if len(pkt) >= bufSize || len(pkt) < 8 || pkt[0]>>6 != 2 {
		return 0, false
	}
	if r.kind == kindRTCP {
		return binary.BigEndian.Uint32(pkt[4:]), true // sender's SSRC
	}
	if len(pkt) < 12 {
		return 0, false
	}
	return binary.BigEndian.Uint32(pkt[8:]), true
}

// send writes pkt (plain) toward the linked stream's endpoint, encrypted
// for it when it speaks SRTP; false when it went nowhere.
func (r *reader) send(pkt []byte) bool {
	rt := r.s.route.Load()
	if rt == nil || rt.broken {
		return false
	}
	p := rt.peer
	pr := p.remote.Load()
	if !pr.r.Send {
		return false
	}
	to := p.dest(r.kind, pr)
	conn := p.conns[r.kind]
	if !to.IsValid() || conn == nil {
		return false
	}
	plain := len(pkt)
	if enc := rt.enc[r.kind]; enc != nil {
		var err error
		if r.kind == kindRTP {
			pkt, err = enc.EncryptRTP(r.enc[:0], pkt, &r.hdr)
		} else {
			pkt, err = enc.EncryptRTCP(r.enc[:0], pkt, &r.rhdr)
		}
		if err != nil {
			return false
		}
	}
	if _, err := conn.WriteToUDPAddrPort(pkt, to); err != nil {
		return false
	}
	p.txPackets.Add(1)
	p.txBytes.Add(uint64(plain))
	return true
}

// dest is where this stream's socket of kind sends: the latched source,
// else the SDP's address (RTCP: the SDP's, else RTP's port + 1, RFC 3550
// §11).
func (s *Stream) dest(kind int, rs *remoteState) netip.AddrPort {
	if l := s.latch[kind].Load(); l != nil {
		return l.addr
	}
	return sdpAddr(kind, rs)
}
