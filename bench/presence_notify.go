package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// notifyTracker counts the NOTIFYs of a presence run and measures
// publish-to-NOTIFY latency. A NOTIFY names its subscription by its To tag
// (our SUBSCRIBE's From tag, which encodes the watcher's number); a
// retransmission repeats the CSeq of a NOTIFY already counted and is
// counted as a duplicate only.
type notifyTracker struct {
	run  string
	subs uint64

	// locks stripe seen by subscription number; NOTIFYs of one watcher
	// arrive on one socket, so they hardly ever contend.
	locks [64]sync.Mutex
	seen  []cseqWindow

	// fresh counts NOTIFYs of our subscriptions seen for the first time,
	// marked those among them with a marker of this run, unmarked the
	// others (initial state, termination). dups are retransmissions;
	// foreign NOTIFYs name no subscription of this run; other counts
	// requests that are not NOTIFY.
	fresh, marked, unmarked, dups, foreign, other atomic.Uint64
	// lastFresh and lastMarked are when the latest such NOTIFY came, ns
	// since the run's start.
	lastFresh, lastMarked atomic.Int64

	mu   sync.Mutex
	hist *hdrhistogram.Histogram
}

// cseqWindow remembers the CSeqs of the last 64 NOTIFYs of a subscription:
// top is the highest CSeq+1 seen (0: none yet), bit d of bits is CSeq
// top-1-d. NOTIFYs of one subscription may arrive out of order (a server
// sends them from several processes), so a lower CSeq is not a duplicate
// by itself.
type cseqWindow struct {
	top  uint64
	bits uint64
}

// add reports whether cseq is new, and remembers it. CSeqs more than 64
// below the highest count as duplicates.
func (w *cseqWindow) add(cseq uint32) bool {
	c := uint64(cseq) + 1
	if c > w.top {
		if shift := c - w.top; w.top == 0 || shift >= 64 {
			w.bits = 1
		} else {
			w.bits = w.bits<<shift | 1
		}
		w.top = c
		return true
	}
	d := w.top - c
	if d >= 64 || w.bits&(1<<d) != 0 {
		return false
	}
	w.bits |= 1 << d
	return true
}

func newNotifyTracker(run string, subs uint64) *notifyTracker {
	return &notifyTracker{run: run, subs: subs, seen: make([]cseqWindow, subs),
		hist: hdrhistogram.New(1, maxLatencyUS, 3)}
}

// onRequest counts one request from the server at now (ns since the run's
// start).
func (t *notifyTracker) onRequest(r *IncomingRequest, now int64) {
	if string(r.Method) != "NOTIFY" {
		t.other.Add(1)
		return
	}
	n, ok := decodeTag(r.ToTag, t.run)
	if !ok || n >= t.subs {
		t.foreign.Add(1)
		return
	}
	l := &t.locks[n%uint64(len(t.locks))]
	l.Lock()
	isNew := t.seen[n].add(r.CSeq)
	l.Unlock()
	if !isNew {
		t.dups.Add(1)
		return
	}
	m, ok := FindMarker(r.Body, t.run)
	if !ok {
		t.unmarked.Add(1)
		t.fresh.Add(1)
		storeMax(&t.lastFresh, now)
		return
	}
	us := min(max((now-m.Start)/int64(time.Microsecond), 1), maxLatencyUS)
	t.mu.Lock()
	_ = t.hist.RecordValue(us)
	t.mu.Unlock()
	t.marked.Add(1)
	t.fresh.Add(1)
	storeMax(&t.lastMarked, now)
	storeMax(&t.lastFresh, now)
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// wait returns once count() reaches want, or no fresh NOTIFY came for
// quiet, or after Timer F, or when ctx ends.
func (t *notifyTracker) wait(ctx context.Context, e *engine, quiet time.Duration, want uint64, count func() uint64) {
	start := e.now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for count() < want {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := e.now()
		last := max(start, t.lastFresh.Load())
		if now-last >= int64(quiet) || now-start >= int64(e.cfg.Timeout) {
			return
		}
	}
}

// fill copies the NOTIFY figures into pr; t0 is when the first PUBLISH
// went out, ns since the run's start.
func (t *notifyTracker) fill(pr *PresenceResult, t0 int64) {
	pr.NotifyReceived, pr.NotifyInitial = t.marked.Load(), t.unmarked.Load()
	pr.NotifyDuplicates, pr.NotifyForeign, pr.OtherRequests = t.dups.Load(), t.foreign.Load(), t.other.Load()
	t.mu.Lock()
	pr.NotifyLatency = percentilesOf(t.hist)
	t.mu.Unlock()
	if last := t.lastMarked.Load(); pr.NotifyReceived > 0 && last > t0 {
		pr.NotifyWindow = time.Duration(last - t0)
		pr.NotifyRate = float64(pr.NotifyReceived) / pr.NotifyWindow.Seconds()
	}
}
