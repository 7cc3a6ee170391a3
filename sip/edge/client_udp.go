package edge

import (
	"container/heap"
	"crypto/rand"
	"encoding/hex"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
)

// branchPrefix starts the Via branch of every request of the stateless
// path: RFC 3261's magic cookie, then "-sl". The read filter takes the
// responses whose top Via branch has it.
const branchPrefix = "z9hG4bK-sl"

// maxUDPRequest is the largest request the stateless path sends over UDP:
// RFC 3261 §18.1.1 wants anything larger than 1300 bytes (path MTU
// unknown) over a congestion-controlled transport, and sipgo refuses it on
// UDP. Larger requests go through the transaction path, which reports
// outbound.ErrTransport.
const maxUDPRequest = 1300

// keptBuffers is how many free table entries keep their wire buffer for
// the next request.
const keptBuffers = 1024

// udpClient sends the client port's non-INVITE requests over UDP without
// sipgo client transactions: the request is written once (our own Via
// branch, branchPrefix + instance + slot + sequence number) from the
// listener the contact registered through, retransmitted by one timer
// goroutine (RFC 3261 §17.1.2.2: Timer E from T1 doubling to T2, every T2
// after a provisional; Timer F = ClientTimeout), and its responses are
// taken off the listener by the read filter and matched by branch. Past
// sendWindow requests on the wire unanswered, the rest queue and go out as
// answers come (client_udp_timer.go). A request costs one table slot, one
// heap entry and no goroutine; sipgo's transaction per request collapses
// at about 25,000/s on two cores (DEPENDENCIES.md), this path does not.
//
// Entries are recycled (slot and wire buffer) and the table never shrinks,
// but at most keptBuffers free entries keep their buffer (at most
// 2*maxUDPRequest bytes): after a 10,000 fan-out the table holds about
// 1 MB of entries and 2.6 MB of buffers instead of 13 MB. Every datagram handed to the sender is a
// copy, so an entry can be reused while its last copy is still queued.
//
// Lock order: mu, then nothing; actors and senders are called after it is
// released (outbox).
type udpClient struct {
	t1, t2, timeout int64  // nanoseconds
	instance        string // random per port: another run's branches never match
	epoch           time.Time
	release         func() // gives back the port's in-flight slot of an ended entry
	log             *zap.Logger
	metrics         *Metrics

	window int // sendWindow; a field for tests

	mu      sync.Mutex // guards the fields below
	entries []*slEntry // by slot
	free    []uint32   // slots not in use
	pending slHeap     // entries sent, by next timer
	queue   []*slEntry // entries waiting for room in the window, in Send order: queue[qhead:]
	qhead   int
	flying  int // entries in the send window (see sendWindow)
	seq     uint64
	closed  bool
	armed   int64 // when the timer goroutine wakes next (math.MaxInt64: not before a wake)

	wake chan struct{} // a new entry is due before armed
	stop chan struct{}
	wg   sync.WaitGroup
}

// slEntry is one request waiting for its final response.
type slEntry struct {
	slot       uint32
	seq        uint64 // 0: free
	index      int    // in pending
	method     sip.RequestMethod
	wire       []byte
	to         net.Addr
	sender     sink
	root       *actor.RootContext
	replyTo    *actor.PID
	id         uint64
	interval   int64 // the next Timer E
	retransmit int64 // due time of Timer E
	deadline   int64 // due time of Timer F
	proceeding bool  // a provisional response came
	flying     bool  // in the send window
}

// sink takes datagrams to send: a listener's udpSender (or a test's
// recorder). It owns buf from then on.
type sink interface {
	send(buf *[]byte, to net.Addr)
}

func (e *slEntry) due() int64 { return min(e.retransmit, e.deadline) }

func newUDPClient(timeout time.Duration, release func(), log *zap.Logger, m *Metrics) *udpClient {
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	sl := &udpClient{t1: int64(sip.T1), t2: int64(sip.T2), timeout: int64(timeout), instance: hex.EncodeToString(nonce[:]),
		epoch: time.Now(), release: release, log: log, metrics: m, window: sendWindow, armed: math.MaxInt64, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	sl.wg.Add(1)
	go sl.run()
	return sl
}

func (sl *udpClient) now() int64 { return int64(time.Since(sl.epoch)) }

// delivery is a message for an actor, sent once the lock is released.
type delivery struct {
	root  *actor.RootContext
	to    *actor.PID
	msg   any
	final bool // the entry's Result: its in-flight slot is released first
}

// result is the Result that ends e.
func result(e *slEntry, res *sip.Response, err error) delivery {
	return delivery{e.root, e.replyTo, &outbound.Result{ID: e.id, Response: res, Err: err}, true}
}

// outbox is what a step taken under the lock leaves to do once it is
// released: datagrams for their senders (a full sender queue makes a send
// a syscall), messages for actors, and whether the timer goroutine must
// wake for an earlier timer.
type outbox struct {
	datagrams  []datagram
	deliveries []delivery
	wake       bool
}

func (sl *udpClient) flush(o *outbox) {
	for i, d := range o.datagrams {
		d.send()
		o.datagrams[i] = datagram{}
	}
	if o.wake {
		select {
		case sl.wake <- struct{}{}:
		default:
		}
	}
	for i, d := range o.deliveries {
		if d.final {
			sl.release()
		}
		d.root.Send(d.to, d.msg)
		o.deliveries[i] = delivery{}
	}
	o.datagrams, o.deliveries, o.wake = o.datagrams[:0], o.deliveries[:0], false
}

// send writes req (already carrying everything but our Via) to dst
// through out (the sender of the listener it leaves from) and tracks it.
// It reports false, with req unchanged, when req is too large for UDP: the
// caller sends it another way. The port's in-flight slot is the caller's;
// from a true return on, it is released when the entry ends.
func (sl *udpClient) send(req *sip.Request, via *sip.ViaHeader, out sink, dst net.Addr, root *actor.RootContext, replyTo *actor.PID, id uint64) bool {
	sl.mu.Lock()
	closed := sl.closed
	var e *slEntry
	if !closed {
		e = sl.alloc()
	}
	sl.mu.Unlock()
	if closed {
		sl.unavailable(root, replyTo, id)
		return true
	}
	if !sl.encode(e, req, via) {
		sl.mu.Lock()
		sl.recycle(e)
		sl.mu.Unlock()
		return false
	}
	e.method, e.to, e.sender = req.Method, dst, out
	e.root, e.replyTo, e.id = root, replyTo, id
	e.proceeding = false
	if !sl.track(e) {
		sl.unavailable(root, replyTo, id)
	}
	return true
}

// encode writes req, with via and our branch on top, into e's wire
// buffer. It reports false, and takes via off again, when the datagram
// would be over maxUDPRequest.
func (sl *udpClient) encode(e *slEntry, req *sip.Request, via *sip.ViaHeader) bool {
	via.Params.Add("branch", sl.branch(e.slot, e.seq))
	req.PrependHeader(via)
	w := byteWriter{b: e.wire[:0]}
	req.StringWrite(&w)
	e.wire = w.b
	if len(e.wire) > maxUDPRequest {
		req.RemoveHeader("Via")
		return false
	}
	return true
}

// track starts e's Timer F and sends it, or queues it behind the send
// window. It reports false when the port closed meanwhile (e is recycled
// then).
func (sl *udpClient) track(e *slEntry) bool {
	var o outbox
	sl.mu.Lock()
	if sl.closed {
		sl.recycle(e)
		sl.mu.Unlock()
		return false
	}
	now := sl.now()
	e.deadline = now + sl.timeout
	if sl.flying < sl.window && sl.qhead == len(sl.queue) {
		sl.start(e, now, &o)
	} else {
		sl.queue = append(sl.queue, e)
	}
	sl.mu.Unlock()
	sl.flush(&o)
	return true
}

// unavailable ends a request the closed port will not send.
func (sl *udpClient) unavailable(root *actor.RootContext, replyTo *actor.PID, id uint64) {
	sl.release()
	root.Send(replyTo, &outbound.Result{ID: id, Err: outbound.ErrUnavailable})
}

// alloc takes a free slot, its entry marked in use with a new sequence
// number. Called with mu held.
func (sl *udpClient) alloc() *slEntry {
	var e *slEntry
	if n := len(sl.free); n > 0 {
		e = sl.entries[sl.free[n-1]]
		sl.free = sl.free[:n-1]
	} else {
		e = &slEntry{slot: uint32(len(sl.entries)), index: -1}
		sl.entries = append(sl.entries, e)
	}
	sl.seq++
	e.seq = sl.seq
	return e
}

// recycle frees e's slot; e must not be in pending or the window. Called
// with mu held.
func (sl *udpClient) recycle(e *slEntry) {
	e.seq, e.index, e.flying = 0, -1, false
	e.to, e.sender, e.root, e.replyTo = nil, nil, nil, nil
	if cap(e.wire) > 2*maxUDPRequest || len(sl.free) >= keptBuffers {
		// Past keptBuffers free entries the buffers go: a fan-out to
		// 10,000 watchers would otherwise keep 10,000 of them (13 MB).
		e.wire = nil
	}
	sl.free = append(sl.free, e.slot)
}

// datagram is a copy of an entry's request on its way to the sender.
type datagram struct {
	buf    *[]byte // from bufPool; the sender returns it once written
	to     net.Addr
	sender sink
}

func (d datagram) send() { d.sender.send(d.buf, d.to) }

// copyOf copies e's request for the sender. Called with mu held; the send
// happens after it is released, since a full queue makes it a syscall.
func (sl *udpClient) copyOf(e *slEntry) datagram {
	bp := bufPool.Get().(*[]byte)
	*bp = append((*bp)[:0], e.wire...)
	return datagram{bp, e.to, e.sender}
}

// branch is the Via branch of the entry in slot with sequence number seq.
func (sl *udpClient) branch(slot uint32, seq uint64) string {
	var digits [16]byte
	var b strings.Builder // one allocation, where a []byte and its string were two
	b.Grow(len(branchPrefix) + len(sl.instance) + 2 + 7 + 13)
	b.WriteString(branchPrefix)
	b.WriteString(sl.instance)
	b.WriteByte('.')
	b.Write(strconv.AppendUint(digits[:0], uint64(slot), 36))
	b.WriteByte('.')
	b.Write(strconv.AppendUint(digits[:0], seq, 36))
	return b.String()
}

// parseBranch is the inverse of branch; ok is false for a branch of
// another instance (an earlier run of this server) or a malformed one.
func (sl *udpClient) parseBranch(branch string) (slot uint32, seq uint64, ok bool) {
	rest, ok := strings.CutPrefix(branch, branchPrefix+sl.instance+".")
	if !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(a, 36, 32)
	q, err2 := strconv.ParseUint(b, 36, 64)
	return uint32(s), q, err1 == nil && err2 == nil
}

// ours reports whether res answers a request of the stateless path: its
// top Via carries branchPrefix. Such a response is the stateless path's
// even when nothing waits for it any more.
func ours(res *sip.Response) bool {
	via := res.Via()
	if via == nil || via.Params == nil {
		return false
	}
	b, _ := via.Params.Get("branch")
	return strings.HasPrefix(b, branchPrefix)
}

// response delivers res (which is ours) to the entry waiting for it: a
// provisional as *outbound.Provisional, a final response as the
// *outbound.Result that ends the entry. A late, duplicate or foreign
// response is dropped (RFC 3261 §17.1.3 matches on branch and CSeq method).
func (sl *udpClient) response(res *sip.Response) {
	via := res.Via()
	branch, _ := via.Params.Get("branch")
	slot, seq, ok := sl.parseBranch(branch)
	cseq := res.CSeq()
	now := sl.now()
	var o outbox
	sl.mu.Lock()
	var e *slEntry
	if ok && int(slot) < len(sl.entries) {
		e = sl.entries[slot]
	}
	if e == nil || e.seq != seq || e.index < 0 || cseq == nil || cseq.MethodName != e.method {
		sl.mu.Unlock()
		sl.stray(res)
		return
	}
	if res.IsProvisional() {
		e.proceeding = true // Timer E is reset to T2 from now on (§17.1.2.2)
		o.deliveries = append(o.deliveries, delivery{e.root, e.replyTo, &outbound.Provisional{ID: e.id, Response: res}, false})
		sl.land(e, now, &o)
	} else {
		heap.Remove(&sl.pending, e.index)
		o.deliveries = append(o.deliveries, result(e, res, nil))
		sl.land(e, now, &o)
		sl.recycle(e)
	}
	sl.mu.Unlock()
	sl.flush(&o)
}

func (sl *udpClient) stray(res *sip.Response) {
	sl.metrics.stray.Inc()
	if ce := sl.log.Check(zap.DebugLevel, "late or unmatched response"); ce != nil {
		ce.Write(zap.Int("status", res.StatusCode), zap.String("call_id", callIDOf(res)))
	}
}
