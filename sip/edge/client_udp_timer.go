package edge

import (
	"container/heap"
	"math"
	"time"

	"github.com/b2bua/b2bua/actors/outbound"
)

// sendWindow bounds the stateless path's requests that were sent less
// than T1 ago and have had no answer yet; the rest wait in a queue, in
// Send order, and go out as answers come. A NOTIFY fan-out writes
// thousands of datagrams at once: unpaced, their answers arrive faster
// than the listener's one read goroutine parses them and overrun its
// socket buffer (REGISTERs lost with them), and every lost datagram costs
// a 500 ms Timer E. Answers clock the sending instead, as in TCP. A
// request leaves the window at its first answer (1xx included), its first
// Timer E or its Timer F, so peers that never answer hold room for T1
// only. 2048 answers of about 1 KB fit in the listener's 4 MB buffer; at
// 50 ms round trips it allows 40,000 requests/s.
const sendWindow = 2048

// start puts e in the window: its first copy goes out, Timer E starts.
// Called with mu held.
func (sl *udpClient) start(e *slEntry, now int64, o *outbox) {
	e.interval, e.retransmit, e.flying = sl.t1, now+sl.t1, true
	sl.flying++
	heap.Push(&sl.pending, e)
	// Wake the timer goroutine only when it sleeps past this entry's
	// Timer E: under load it is armed for an older entry, and a wake per
	// request would cost a goroutine switch each.
	if e.due() < sl.armed {
		sl.armed = e.due()
		o.wake = true
	}
	o.datagrams = append(o.datagrams, sl.copyOf(e))
}

// land takes e out of the window (an answer came, or its first Timer E or
// its Timer F fired) and starts queued entries while there is room; those
// whose Timer F passed while they waited end with ErrTimeout. Called with
// mu held.
func (sl *udpClient) land(e *slEntry, now int64, o *outbox) {
	if !e.flying {
		return
	}
	e.flying = false
	sl.flying--
	for sl.flying < sl.window && sl.qhead < len(sl.queue) {
		q := sl.queue[sl.qhead]
		sl.queue[sl.qhead] = nil
		sl.qhead++
		if q.deadline <= now {
			o.deliveries = append(o.deliveries, result(q, nil, outbound.ErrTimeout))
			sl.recycle(q)
			continue
		}
		sl.start(q, now, o)
	}
	switch {
	case sl.qhead == len(sl.queue):
		sl.queue, sl.qhead = sl.queue[:0], 0
	case sl.qhead > len(sl.queue)/2: // compact: amortised O(1) per entry
		n := copy(sl.queue, sl.queue[sl.qhead:])
		clear(sl.queue[n:])
		sl.queue, sl.qhead = sl.queue[:n], 0
	}
}

// fire retransmits the entries whose Timer E is due and ends those whose
// Timer F is, into o, and returns how long until the next timer, or -1
// when nothing is pending.
func (sl *udpClient) fire(o *outbox) int64 {
	now := sl.now()
	sl.mu.Lock()
	defer sl.mu.Unlock()
	for len(sl.pending) > 0 {
		e := sl.pending[0]
		if e.due() > now {
			sl.armed = e.due()
			return e.due() - now
		}
		if e.deadline <= now {
			heap.Pop(&sl.pending)
			o.deliveries = append(o.deliveries, result(e, nil, outbound.ErrTimeout))
			sl.land(e, now, o)
			sl.recycle(e)
			continue
		}
		o.datagrams = append(o.datagrams, sl.copyOf(e))
		sl.metrics.retransmits.Inc()
		if e.proceeding {
			e.interval = sl.t2
		} else {
			e.interval = min(2*e.interval, sl.t2)
		}
		e.retransmit = now + e.interval
		heap.Fix(&sl.pending, e.index)
		sl.land(e, now, o)
	}
	sl.armed = math.MaxInt64
	return -1
}

// run is the one timer goroutine of all pending entries.
func (sl *udpClient) run() {
	defer sl.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	var o outbox
	for {
		next := sl.fire(&o)
		o.wake = false // fire armed us for whatever it started
		sl.flush(&o)
		var tick <-chan time.Time
		if next >= 0 {
			t.Reset(time.Duration(next))
			tick = t.C
		}
		select {
		case <-sl.stop:
			t.Stop()
			return
		case <-sl.wake:
		case <-tick:
		}
		t.Stop()
	}
}

// close joins the timer goroutine and ends every entry, sent or queued,
// with outbound.ErrUnavailable; a send after it answers that at once.
func (sl *udpClient) close() {
	close(sl.stop)
	sl.wg.Wait()
	var o outbox
	sl.mu.Lock()
	sl.closed = true
	for _, e := range append(sl.pending, sl.queue[sl.qhead:]...) {
		o.deliveries = append(o.deliveries, result(e, nil, outbound.ErrUnavailable))
		sl.recycle(e)
	}
	sl.pending, sl.queue, sl.qhead, sl.flying = nil, nil, 0, 0
	sl.mu.Unlock()
	sl.flush(&o)
}

// slHeap orders sent entries by their next timer (container/heap).
type slHeap []*slEntry

func (h slHeap) Len() int           { return len(h) }
func (h slHeap) Less(i, j int) bool { return h[i].due() < h[j].due() }
func (h slHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *slHeap) Push(x any) {
	e := x.(*slEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *slHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}
