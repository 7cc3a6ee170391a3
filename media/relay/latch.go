package relay

import "net/netip"

// latch is where a socket's endpoint sends from, and the SSRC it sent
// with. Stored whole (atomic.Pointer), replaced only when it changes.
type latch struct {
	addr netip.AddrPort
	ssrc uint32
}

// source applies the latching rules of the package comment to a packet
// of kind from from with ssrc at now: ok false is a packet to drop
// (Hijack); move true means from (or its SSRC) is to be latched once the
// packet is authenticated (latchTo).
func (s *Stream) source(kind int, rs *remoteState, from netip.AddrPort, ssrc uint32, now int64) (move, ok bool) {
	l := s.latch[kind].Load()
	if l != nil && l.addr == from {
		return l.ssrc != ssrc, true
	}
	first := s.first.Load()
	if first == 0 || now-first < s.window {
		// In the window: follow the source, unless latched to the SDP's
		// address, which is where the endpoint said it is.
		if l != nil && l.addr == sdpAddr(kind, rs) {
			return false, false
		}
		return true, true
	}
	if l == nil {
		// This socket got nothing in the window (RTCP often starts late):
		// take the SDP's address, or the host the other socket latched to.
		if from == sdpAddr(kind, rs) {
			return true, true
		}
		if o := s.latch[1-kind].Load(); o != nil && o.addr.Addr() == from.Addr() {
			return true, true
		}
		return false, false
	}
	// After the window only the same source may move (a NAT rebinding).
	if l.ssrc == ssrc {
		return true, true
	}
	return false, false
}

// latchTo latches the socket of kind to from. Only that socket's reader
// calls it; it allocates, but only when the source changes.
func (s *Stream) latchTo(kind int, from netip.AddrPort, ssrc uint32, now int64) {
	s.latch[kind].Store(&latch{addr: from, ssrc: ssrc})
	s.first.CompareAndSwap(0, now)
}

func sdpAddr(kind int, rs *remoteState) netip.AddrPort {
	if kind == kindRTP {
		return rs.r.RTP
	}
	if rs.r.RTCP.IsValid() || !rs.r.RTP.IsValid() {
		return rs.r.RTCP
	}
	return netip.AddrPortFrom(rs.r.RTP.Addr(), rs.r.RTP.Port()+1)
}
