package bench

import (
	"sync"
	"time"
)

// timerEntry is one armed timer of a transaction. It goes stale, and is
// dropped when it fires, once the slot's generation moved on.
type timerEntry struct {
	at        int64 // ns since the run's start
	slot, gen uint32
}

// fifo is a growable ring of timer entries sorted by at. Every entry of one
// fifo is pushed with the same delay from a clock that only goes forward, so
// appending keeps it sorted; push clamps the rare out-of-order entry (two
// goroutines that read the clock in one order and lock in the other) to the
// tail's time.
type fifo struct {
	mu   sync.Mutex
	buf  []timerEntry
	head int
	n    int
}

func (f *fifo) push(e timerEntry) {
	f.mu.Lock()
	if f.n > 0 {
		if last := f.buf[(f.head+f.n-1)%len(f.buf)]; e.at < last.at {
			e.at = last.at
		}
	}
	if f.n == len(f.buf) {
		f.grow()
	}
	f.buf[(f.head+f.n)%len(f.buf)] = e
	f.n++
	f.mu.Unlock()
}

func (f *fifo) grow() {
	nb := make([]timerEntry, max(1024, 2*len(f.buf)))
	for i := range f.n {
		nb[i] = f.buf[(f.head+i)%len(f.buf)]
	}
	f.buf, f.head = nb, 0
}

// popDue appends to out the entries due at now, up to cap(out).
func (f *fifo) popDue(now int64, out []timerEntry) []timerEntry {
	f.mu.Lock()
	for f.n > 0 && len(out) < cap(out) && f.buf[f.head].at <= now {
		out = append(out, f.buf[f.head])
		f.head = (f.head + 1) % len(f.buf)
		f.n--
	}
	f.mu.Unlock()
	return out
}

// timers holds the transaction timers of a run: one fifo per
// retransmission interval of Timer E (T1, 2·T1, … up to T2) and one for
// Timer F (RFC 3261 §17.1.2.2). On a reliable transport only Timer F runs.
type timers struct {
	intervals []int64
	levels    []fifo
	timeout   fifo
	// hold holds the calls between their INVITE's 2xx and their BYE (a
	// dialog scenario's one hold time, so the fifo stays sorted).
	hold      fifo
	timeoutNS int64
	reliable  bool
}

func newTimers(t1, t2, timeout time.Duration, reliable bool) *timers {
	var iv []int64
	for d := t1; ; d *= 2 {
		if d >= t2 {
			iv = append(iv, int64(t2))
			break
		}
		iv = append(iv, int64(d))
	}
	return &timers{intervals: iv, levels: make([]fifo, len(iv)), timeoutNS: int64(timeout), reliable: reliable}
}

// arm starts Timer E (unreliable transports) and Timer F of a transaction
// sent at now.
func (t *timers) arm(slot, gen uint32, now int64) {
	if !t.reliable {
		t.levels[0].push(timerEntry{at: now + t.intervals[0], slot: slot, gen: gen})
	}
	t.timeout.push(timerEntry{at: now + t.timeoutNS, slot: slot, gen: gen})
}

// rearm queues the next retransmission after one at level fired:
// the interval doubles up to T2, and is T2 at once in Proceeding.
func (t *timers) rearm(e timerEntry, level int, proceeding bool, now int64) {
	next := min(level+1, len(t.levels)-1)
	if proceeding {
		next = len(t.levels) - 1
	}
	e.at = now + t.intervals[next]
	t.levels[next].push(e)
}

// sweepTick is how often the sweeper looks for due timers: fine enough for
// T1 = 500 ms, and a tenth of T1 when tests shorten it.
func sweepTick(t1 time.Duration) time.Duration {
	return min(5*time.Millisecond, max(t1/10, time.Millisecond))
}
