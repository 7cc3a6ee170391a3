// Package ports hands out the relay's RTP/RTCP port pairs: an even port
// for RTP and the odd port above it for RTCP, from a configured range, and
// takes a released pair back only after a quarantine (late packets of an
// old call must not reach a new one).
package ports

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ErrExhausted is returned when every pair of the range is in use or in
// quarantine.
var ErrExhausted = errors.New("ports: RTP port range exhausted")

// ErrRange is a range that holds no pair of ports.
var ErrRange = errors.New("ports: no RTP/RTCP pair in range")

// Pair is a bound RTP socket and its RTCP socket.
type Pair struct {
	RTP, RTCP *net.UDPConn
	Port      int // the RTP port (even); RTCP is Port+1
}

// slot is one pair of the range.
type slot struct {
	inUse bool
	free  time.Time // quarantined until then
}

// Allocator hands out pairs of one range; safe for concurrent use.
type Allocator struct {
	addr       netip.Addr
	lo         int // the first RTP port (even)
	quarantine time.Duration
	now        func() time.Time // time.Now; tests replace it

	// mu guards the fields below. Alloc binds under it: a bind is one
	// syscall, and doing it outside would need a third slot state
	// ("binding") for no measurable gain at call-setup rates.
	mu    sync.Mutex
	slots []slot
	next  int // round robin: where the next search starts
	inUse int
}

// New is an allocator of the pairs in [lo, hi] (lo rounded up to even;
// a pair needs both its ports in range) bound on addr, which keeps a
// released pair for quarantine before it is handed out again.
func New(addr netip.Addr, lo, hi int, quarantine time.Duration) (*Allocator, error) {
	if lo%2 != 0 {
		lo++
	}
	if lo < 2 || hi > 65535 || hi < lo+1 {
		return nil, fmt.Errorf("%w: %d-%d", ErrRange, lo, hi)
	}
	return &Allocator{
		addr:       addr,
		lo:         lo,
		quarantine: quarantine,
		now:        time.Now,
		slots:      make([]slot, (hi-lo+1)/2),
	}, nil
}

// Alloc binds the next free pair (round robin through the range, so a
// port is reused as late as possible). A port another process holds is
// skipped. ErrExhausted when none is left.
func (a *Allocator) Alloc() (Pair, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	n := len(a.slots)
	for i := range n {
		idx := (a.next + i) % n
		s := &a.slots[idx]
		if s.inUse || now.Before(s.free) {
			continue
		}
		port := a.lo + 2*idx
		p, err := a.bind(port)
		if err != nil {
			continue // held by someone else: try the next pair
		}
		s.inUse = true
		a.inUse++
		a.next = (idx + 1) % n
		return p, nil
	}
	return Pair{}, ErrExhausted
}

// bind binds both ports of the pair at port, or neither.
func (a *Allocator) bind(port int) (Pair, error) {
	rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.addr, uint16(port))))
	if err != nil {
		return Pair{}, err
	}
	rtcp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.addr, uint16(port+1))))
	if err != nil {
		rtp.Close()
		return Pair{}, err
	}
	return Pair{RTP: rtp, RTCP: rtcp, Port: port}, nil
}

// Release closes the pair's sockets (if still open) and quarantines it.
// Releasing a pair twice, or one this allocator did not hand out, only
// closes its sockets.
func (a *Allocator) Release(p Pair) {
	if p.RTP != nil {
		p.RTP.Close()
	}
	if p.RTCP != nil {
		p.RTCP.Close()
	}
	idx := (p.Port - a.lo) / 2
	if p.Port < a.lo || p.Port%2 != 0 || idx >= len(a.slots) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := &a.slots[idx]
	if !s.inUse {
		return
	}
	s.inUse = false
	s.free = a.now().Add(a.quarantine)
	a.inUse--
}

// InUse is the number of pairs handed out and not released.
func (a *Allocator) InUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse
}

// Size is the number of pairs in the range.
func (a *Allocator) Size() int { return len(a.slots) }
