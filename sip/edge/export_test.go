package edge

import "time"

// SetAckTimers sets T1 and T2 of the 2xx retransmissions for the 2xx sent
// from now on, until the returned func restores them. Not for parallel
// tests.
func SetAckTimers(t1, t2 time.Duration) (restore func()) {
	o1, o2 := ackT1, ackT2
	ackT1, ackT2 = t1, t2
	return func() { ackT1, ackT2 = o1, o2 }
}
