package shard

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
)

// trackedMailbox is the mailbox of every entity and shard: unbounded, and
// tracked: it answers the requests an actor will never handle. protoactor
// drops the messages still queued when an actor stops (and keeps a
// suspended one's queue forever once it is stopped past its restart
// budget); the tracker fails them with ErrUnavailable instead, so every
// request is answered.
//
// It does what protoactor's default mailbox does (system messages first,
// SuspendMailbox and ResumeMailbox, the dispatcher's throughput, a panic
// escalated to the supervisor) with two slices under one mutex instead of
// a lock-free queue that allocates a node per system message, a ring
// buffer and a middleware list: protoactor's cost ~9 allocations per
// actor spawned and one per run scheduled (a method value); this one
// costs none but itself (its queues start in room of its own) and none
// per message until a queue outgrows that room. Messages are not unpacked from
// a MessageBatch: no kind sends one.
func trackedMailbox() actor.Mailbox {
	m := &mailbox{}
	m.user.buf, m.sys.buf, m.queued = m.user0[:], m.sys0[:], m.queued0[:0]
	return m
}

type mailbox struct {
	mu        sync.Mutex
	user, sys fifo
	queued    []Failer  // requests posted, not yet handled
	queued0   [1]Failer // queued's first room: an entity mostly holds one
	user0     [2]any    // user's first room: a request and its write's completion
	sys0      [1]any    // sys's: Started, then Stop
	stopped   bool      // it handled Stop: fail what is posted from now on

	running    atomic.Int32 // scheduled or running on the dispatcher
	suspended  atomic.Bool
	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
}

var _ actor.Mailbox = (*mailbox)(nil)

// PostUserMessage implements actor.Mailbox.
func (m *mailbox) PostUserMessage(msg any) {
	f, req := actor.UnwrapEnvelopeMessage(msg).(Failer)
	m.mu.Lock()
	if req && m.stopped {
		m.mu.Unlock()
		f.Fail(ErrUnavailable)
		return
	}
	if req {
		m.queued = append(m.queued, f)
	}
	m.user.push(msg, 4)
	m.mu.Unlock()
	m.schedule()
}

// PostSystemMessage implements actor.Mailbox.
func (m *mailbox) PostSystemMessage(msg any) {
	m.mu.Lock()
	m.sys.push(msg, 2)
	m.mu.Unlock()
	m.schedule()
}

// RegisterHandlers implements actor.Mailbox.
func (m *mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
}

// Start implements actor.Mailbox.
func (m *mailbox) Start() {}

// UserMessageCount implements actor.Mailbox.
func (m *mailbox) UserMessageCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.user.n
}

func (m *mailbox) schedule() {
	if m.running.CompareAndSwap(0, 1) {
		if p, ok := m.dispatcher.(*pool); ok {
			p.run(m) // no method value to allocate
		} else {
			m.dispatcher.Schedule(m.process)
		}
	}
}

// process runs on the dispatcher: it handles messages until none is left
// (or only user messages, while suspended).
func (m *mailbox) process() {
	for {
		m.drain()
		m.running.Store(0)
		// A message posted after drain saw the queues empty but before
		// running went to 0 was not scheduled: take it now.
		m.mu.Lock()
		more := m.sys.n > 0 || (!m.suspended.Load() && m.user.n > 0)
		m.mu.Unlock()
		if !more || !m.running.CompareAndSwap(0, 1) {
			return
		}
	}
}

func (m *mailbox) drain() {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	i, t := 0, m.dispatcher.Throughput()
	for {
		if i > t {
			i = 0
			runtime.Gosched()
		}
		i++
		m.mu.Lock()
		msg = m.sys.pop()
		if msg == nil && !m.suspended.Load() {
			msg = m.user.pop()
			if msg == nil {
				m.mu.Unlock()
				return
			}
			m.mu.Unlock()
			m.invoker.InvokeUserMessage(msg)
			m.received(msg)
			continue
		}
		m.mu.Unlock()
		if msg == nil {
			return // suspended
		}
		switch msg.(type) {
		case *actor.SuspendMailbox:
			m.suspended.Store(true)
		case *actor.ResumeMailbox:
			m.suspended.Store(false)
		default:
			m.invoker.InvokeSystemMessage(msg)
		}
		m.received(msg)
	}
}

// received is the tracker's side of a handled message.
func (m *mailbox) received(msg any) {
	if _, ok := msg.(*actor.Stop); ok {
		m.mu.Lock()
		m.stopped = true
		queued := m.queued
		m.queued = nil
		m.mu.Unlock()
		for _, f := range queued {
			f.Fail(ErrUnavailable)
		}
		return
	}
	f, ok := actor.UnwrapEnvelopeMessage(msg).(Failer)
	if !ok {
		return
	}
	// Remove f itself, then drop answered requests from the front: one
	// whose handling panicked never gets here, but it was answered
	// (failOnPanic).
	m.mu.Lock()
	for i, q := range m.queued {
		if q == f {
			last := len(m.queued) - 1
			copy(m.queued[i:], m.queued[i+1:])
			m.queued[last] = nil
			m.queued = m.queued[:last]
			break
		}
	}
	n := 0
	for n < len(m.queued) && m.queued[n].envelope().answeredYet() {
		n++
	}
	if n > 0 {
		k := copy(m.queued, m.queued[n:])
		clear(m.queued[k:])
		m.queued = m.queued[:k]
	}
	m.mu.Unlock()
}

// fifo is a queue of messages in a ring buffer that grows as needed and
// gives back the room a burst made it grow to once it is empty again.
type fifo struct {
	buf     []any
	head, n int
}

func (q *fifo) push(msg any, first int) {
	if q.n == len(q.buf) {
		grown := make([]any, max(first, 2*len(q.buf)))
		k := copy(grown, q.buf[q.head:])
		copy(grown[k:], q.buf[:q.head])
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = msg
	q.n++
}

// shrinkAbove is the most room an empty queue keeps (16 KB): a shard's
// queue fills and empties with every burst, and must not grow anew each
// time; a reboot storm's backlog is given back.
const shrinkAbove = 1024

func (q *fifo) pop() any {
	if q.n == 0 {
		return nil
	}
	msg := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > shrinkAbove {
			q.buf = nil
		}
	}
	return msg
}

// answerDeadLetters fails every request that went to dead letters (sent to
// an entity or shard that no longer exists) with ErrUnavailable.
func answerDeadLetters(system *actor.ActorSystem) *eventstream.Subscription {
	return system.EventStream.Subscribe(func(ev any) {
		if d, ok := ev.(*actor.DeadLetterEvent); ok {
			fail(d.Message, ErrUnavailable)
		}
	})
}
