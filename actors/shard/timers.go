package shard

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// timers holds the armed timers of one shard's entities in one heap,
// driven by one runtime timer set for the earliest. A time.AfterFunc per
// entity cost four allocations on every arming and a runtime timer kept
// alive for every resident entity (a registration re-arms at each
// REGISTER); an item here lives inside the entity's Context, so arming
// allocates nothing.
//
// Entities arm and stop on their own goroutines; the runtime timer's
// callback pops what is due and sends each its firing. An item is in the
// heap only while armed: stopping (which every instance does when it
// ends) takes it out, so the heap never keeps a stopped entity reachable.
type timers struct {
	mu    sync.Mutex
	heap  timerHeap
	t     *time.Timer // fires at at; nil until the first arming
	at    int64       // Unix ns the runtime timer is set for; 0: not set
	root  *actor.RootContext
	ready []timerItem // the firings of one run of fire (reused)
}

// timerItem is one entity's timer: in the heap while armed.
type timerItem struct {
	due   int64 // Unix ns
	index int   // in the heap; -1 when not queued
	pid   *actor.PID
	n     uint64 // the arming: a firing is stale unless it carries the entity's latest
	msg   any
}

// armings numbers every arming of every entity timer: a firing of an
// arming since replaced, or of an instance before a restart, never
// carries the number its entity expects.
var armings atomic.Uint64

func newTimers() *timers { return &timers{} }

// arm sets it to to (all but its index) and queues it; root is its
// actor system's.
func (tm *timers) arm(root *actor.RootContext, it *timerItem, to timerItem) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.root = root
	it.due, it.pid, it.n, it.msg = to.due, to.pid, to.n, to.msg
	if it.index >= 0 {
		heap.Fix(&tm.heap, it.index)
	} else {
		heap.Push(&tm.heap, it)
	}
	// Set the runtime timer only when this one comes first: one set for
	// later than the head fires early, finds nothing due and re-arms.
	if due := tm.heap[0].due; tm.at == 0 || due < tm.at {
		tm.at = due
		d := time.Duration(due - time.Now().UnixNano())
		if tm.t == nil {
			tm.t = time.AfterFunc(d, tm.fire)
		} else {
			tm.t.Reset(d)
		}
	}
}

// disarm takes it out of the heap, if it is there.
func (tm *timers) disarm(it *timerItem) {
	tm.mu.Lock()
	if it.index >= 0 {
		heap.Remove(&tm.heap, it.index)
	}
	it.pid, it.msg = nil, nil
	tm.mu.Unlock()
}

// fire sends every due timer its firing, and sets the runtime timer for
// the next.
func (tm *timers) fire() {
	tm.mu.Lock()
	now := time.Now().UnixNano()
	ready := tm.ready[:0]
	for len(tm.heap) > 0 && tm.heap[0].due <= now {
		it := heap.Pop(&tm.heap).(*timerItem)
		ready = append(ready, timerItem{pid: it.pid, n: it.n, msg: it.msg})
		it.pid, it.msg = nil, nil
	}
	tm.at = 0
	if len(tm.heap) > 0 {
		tm.at = tm.heap[0].due
		tm.t.Reset(time.Duration(tm.at - now))
	}
	root := tm.root
	tm.ready = nil // a run that overlaps this one takes a slice of its own
	tm.mu.Unlock()
	for i := range ready {
		root.Send(ready[i].pid, &timerFired{n: ready[i].n, msg: ready[i].msg})
		ready[i] = timerItem{}
	}
	tm.mu.Lock()
	if tm.ready == nil {
		tm.ready = ready[:0]
	}
	tm.mu.Unlock()
}

// stop stops the runtime timer: its shard stops.
func (tm *timers) stop() {
	tm.mu.Lock()
	if tm.t != nil {
		tm.t.Stop()
	}
	tm.at = 0
	tm.mu.Unlock()
}

type timerHeap []*timerItem

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	it := x.(*timerItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}
