package shard

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Entity is the behaviour of one keyed actor; the package runs it inside
// an actor of its own. Receive gets *Activate first in every incarnation,
// then routed messages, its own timer messages and anything else sent to
// its PID (store callbacks, outbound results).
type Entity interface {
	Receive(c *Context, msg any)
	// Empty reports that the entity holds no state worth keeping: it stops
	// as soon as it is not busy, and its shard forgets the key.
	Empty() bool
	// Busy reports work in flight (writes not committed, requests not
	// answered): the entity is not stopped while busy.
	Busy() bool
}

// Abandoner is an entity that holds requests it answers later (sent on
// through the outbound port, waiting for a write): Abandon answers them
// with err when the entity's instance ends before it could (a restart
// after a panic: ErrInternal; a stop: ErrUnavailable).
type Abandoner interface {
	Abandon(err error)
}

// Activate is the first message of every incarnation: load the state from
// the store unless Fresh (the store holds nothing for the key), and
// rebuild timers from the absolute deadlines it holds.
type Activate struct{ Fresh bool }

// Context is what an entity sees of its actor: the protoactor context of
// the message being handled, its key and its one timer.
type Context struct {
	actor.Context // of the current message; valid only inside Receive

	key      string
	gen, seq uint64     // stamps of the last routed message handled
	self     *actor.PID // a copy of the actor's PID: see Self

	timers *timers   // the shard's
	timer  timerItem // in timers' heap while armed (n != 0)

	child *actor.Props // Spec.Child's, for SpawnChild
}

// SpawnChild spawns a child of the entity made by the kind's Spec.Child,
// on the kind's worker pool. It panics when the kind has no Child.
func (c *Context) SpawnChild() *actor.PID {
	if c.child == nil {
		panic("shard: SpawnChild on a kind without Spec.Child")
	}
	return c.Spawn(c.child)
}

// Key is the entity's key.
func (c *Context) Key() string { return c.key }

// Self is the entity's PID: a copy of protoactor's, so that the object
// protoactor keeps in the shard's set of children never caches the
// actor's process (sends cache it in the PID they go through); see
// host.release for why that matters. It is the shard's own copy (the
// first routed message brings it) unless the instance began without one
// (a restart).
func (c *Context) Self() *actor.PID {
	if c.self == nil {
		self := c.Context.Self()
		c.self = actor.NewPID(self.Address, self.Id)
	}
	return c.self
}

// SetTimer arranges for msg to be delivered to the entity at at,
// replacing any earlier timer: an entity has one, armed for its earliest
// deadline. The deadline is what the shard keeps when the entity
// passivates. The timer lives in its shard's heap (timers.go): arming
// allocates nothing.
func (c *Context) SetTimer(at time.Time, msg any) {
	c.timers.arm(c.ActorSystem().Root, &c.timer, timerItem{due: at.UnixNano(), pid: c.Self(), n: armings.Add(1), msg: msg})
}

// StopTimer disarms the timer; a firing already on its way is ignored.
func (c *Context) StopTimer() {
	if c.timer.n != 0 {
		c.timers.disarm(&c.timer)
		c.timer.n = 0
	}
}

// Due is when the timer fires; zero when it is not armed.
func (c *Context) Due() time.Time {
	if c.timer.n == 0 {
		return time.Time{}
	}
	return time.Unix(0, c.timer.due)
}

// timerFired is one firing of an entity's timer: n is the arming it
// fired for (armings), any other than the entity's latest is stale.
type timerFired struct {
	n   uint64
	msg any
}

// wake activates an entity without a request of its own: its deadline
// came while it was passivated, or its actor restarted.
type wake struct{ Envelope }

// passivate asks an idle entity to report whether it may stop.
type passivate struct{ Envelope }

// idles and passivates recycle the messages of the idle handshake: one
// of each per passivation. A message is put back once handled; one that
// went astray (to dead letters) is left to the collector.
var (
	idles      = sync.Pool{New: func() any { return new(idle) }}
	passivates = sync.Pool{New: func() any { return new(passivate) }}
)

// restarted is sent by an entity's old incarnation to its own mailbox, so
// the new one activates (reloads and rearms its timer) even when no
// request comes. It carries the stamp of the last routed message the old
// instance handled: the new instance starts from zero, and without it its
// idle report would never match the shard's stamp, so an entity left
// empty by a restart (a call) would stay resident until its next routed
// message, which for a kind that never passivates never comes.
type restarted struct{ seq uint64 }

// idle tells the shard that the entity handled every message up to seq of
// incarnation gen and has nothing in flight, so stopping it loses nothing.
type idle struct {
	key      string
	gen, seq uint64
	due      int64 // next deadline, Unix ns; 0 for none
	empty    bool
}

// host is the actor an entity runs in.
type host struct {
	e      Entity
	c      Context
	active bool
	asked  bool // the shard asked to passivate; report once not busy
}

var _ actor.Actor = (*host)(nil)

func (h *host) Receive(ctx actor.Context) {
	h.c.Context = ctx
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		h.c.key, h.c.gen = parseName(ctx.Self().Id, ctx.Parent().Id)
	case Message:
		h.routed(msg)
	case *restarted:
		h.c.seq = max(h.c.seq, msg.seq) // messages queued before this one may have stamped it already
		h.activate(false)
	case *timerFired:
		if msg.n != 0 && msg.n == h.c.timer.n {
			h.c.timer.n = 0 // fire let go of the rest
			h.activate(false)
			h.e.Receive(&h.c, msg.msg)
		}
	case *actor.Restarting:
		h.c.StopTimer()
		h.abandon(ErrInternal)
		ctx.Send(h.c.Self(), &restarted{seq: h.c.seq})
		return
	case *actor.Stopping:
		h.c.StopTimer()
		h.abandon(ErrUnavailable)
		return
	case *actor.Stopped:
		h.release()
		return
	case actor.SystemMessage, actor.AutoReceiveMessage:
		return
	default:
		if h.e == nil { // stopped: nothing handles it any more
			fail(msg, ErrUnavailable)
			return
		}
		h.activate(false)
		h.e.Receive(&h.c, msg)
	}
	h.settle()
}

// release drops everything a stopped entity held. protoactor-go's PIDSet
// (a parent's set of children, at the pinned version) truncates its slice
// on Remove without clearing the slot, and a PID caches its process: the
// shard would keep every stopped child's actor reachable until a later
// spawn overwrites the slot, up to the peak of children the shard ever had
// (a reboot storm: all of them). Two defences: every send goes through
// copies of the PID (Context.Self, the shard's entry), so the object in the
// set caches nothing; and a stopped host lets go of its entity anyway.
func (h *host) release() {
	h.c.StopTimer() // the shard's heap must not keep it
	h.e = nil
	h.c = Context{}
}

func (h *host) routed(msg Message) {
	if h.e == nil {
		fail(msg, ErrUnavailable)
		return
	}
	env := msg.envelope()
	env.taken = true
	if h.c.self == nil {
		h.c.self = env.to // the shard's copy: one PID (and one cached process) per entity, not two
	}
	h.c.gen, h.c.seq = env.gen, env.seq
	h.activate(env.fresh)
	switch msg.(type) {
	case *wake:
	case *passivate:
		h.asked = true
		passivates.Put(msg) // handled: nothing else holds it
	default:
		defer failOnPanic(msg)
		h.e.Receive(&h.c, msg)
	}
}

func (h *host) abandon(err error) {
	if a, ok := h.e.(Abandoner); ok {
		a.Abandon(err)
	}
}

func (h *host) activate(fresh bool) {
	if !h.active {
		h.active = true
		h.e.Receive(&h.c, &Activate{Fresh: fresh})
	}
}

// settle reports to the shard when the entity may stop: at once when it
// holds nothing, and when asked once it is idle, but never while busy.
func (h *host) settle() {
	if !h.active || h.e.Busy() {
		return
	}
	empty := h.e.Empty()
	if !empty && !h.asked {
		return
	}
	h.asked = false
	var due int64
	if !empty && h.c.timer.n != 0 {
		due = h.c.timer.due
	}
	m := idles.Get().(*idle)
	*m = idle{key: h.c.key, gen: h.c.gen, seq: h.c.seq, due: due, empty: empty}
	h.c.Send(h.c.Parent(), m)
}

// failOnPanic answers a request whose handling panicked with ErrInternal
// before the panic goes on to the supervisor: the client gets 500 instead
// of silence, and whoever counts requests in flight stays right.
func failOnPanic(msg Message) {
	r := recover()
	if r == nil {
		return
	}
	if f, ok := msg.(Failer); ok {
		f.Fail(fmt.Errorf("%w: %v", ErrInternal, r))
	}
	panic(r)
}

// entityName is the name of incarnation gen of key's entity.
func entityName(key string, gen uint64) string {
	return key + "$" + strconv.FormatUint(gen, 36)
}

// parseName undoes entityName on the id of an entity whose parent (its
// shard) has the id parent.
func parseName(id, parent string) (key string, gen uint64) {
	id = strings.TrimPrefix(id, parent+"/")
	k := strings.LastIndexByte(id, '$')
	if k < 0 {
		return id, 0
	}
	g, _ := strconv.ParseUint(id[k+1:], 36, 64)
	return id[:k], g
}
