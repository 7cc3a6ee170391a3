// Package ports hands out the relay's RTP/RTCP port pairs: an even port
// for RTP and the odd port above it for RTCP, from a configured range, and
// takes a released pair back only after a quarantine (late packets of an
// old call must not reach a new one).
package ports

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// ErrExhausted is returned when every pair of the range is in use or in
// quarantine.
var ErrExhausted = errors.New("ports: RTP port range exhausted")

// Pair is a bound RTP socket and its RTCP socket.
type Pair struct {
	RTP, RTCP *net.UDPConn
	Port      int // the RTP port (even); RTCP is Port+1
}

// Allocator hands out pairs of one range; safe for concurrent use.
type Allocator struct{}

// New is an allocator of the pairs in [lo, hi] (lo rounded up to even;
// a pair needs both its ports in range) bound on addr, which keeps a
// released pair for quarantine before it is handed out again.
func New(addr netip.Addr, lo, hi int, quarantine time.Duration) (*Allocator, error) {
	return nil, errors.New("ports: not written yet")
}

// Alloc binds the next free pair (round robin through the range, so a
// port is reused as late as possible). A port another process holds is
// skipped. ErrExhausted when none is left.
func (a *Allocator) Alloc() (Pair, error) { return Pair{}, ErrExhausted }

// Release closes the pair's sockets (if still open) and quarantines it.
func (a *Allocator) Release(p Pair) {}

// InUse is the number of pairs handed out and not released.
func (a *Allocator) InUse() int { return 0 }

// Size is the number of pairs in the range.
func (a *Allocator) Size() int { return 0 }
