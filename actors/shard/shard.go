package shard

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/store"
)

// shard owns the key → entity map of its share of the key space: the
// resident entities, and the passivated keys with their deadlines.
type shard struct {
	spec   *Spec
	index  int
	props  *actor.Props // of every entity of this shard
	booted *atomic.Bool // the root handed out the first restore: a (re)start restores itself

	active map[string]entry // by value: an entry is not an allocation of its own
	peak   int              // most resident entities since the map was last rebuilt
	asleep map[string]int64 // passivated keys → next deadline (Unix ns; 0: none)
	heap   deadlines
	gen    uint64

	ticks     uint32
	idleTicks uint32
	scanEvery uint32
	timer     *time.Timer
	timers    *timers // its entities'
	selfID    string
	stopping  bool // its entities are being stopped with it: nothing to remember
}

// entry is one resident entity: its incarnation, the number of the last
// message routed to it (the idle handshake compares it), and the tick of
// its last request.
type entry struct {
	pid      *actor.PID
	gen, seq uint64
	queued   int64 // the deadline the heap still holds for the key (its due while passivated); 0: none
	used     uint32
	asked    bool // a passivate request is on its way
}

type tick struct{}

// restore hands a shard the stored keys of its share with their
// deadlines.
type restore struct{ keys []deadline }

// restored answers restore.
type restored struct{ n int }

func newShard(spec *Spec, index int, booted *atomic.Bool) *shard {
	s := &shard{spec: spec, index: index, booted: booted, active: map[string]entry{}, asleep: map[string]int64{}}
	if spec.Idle > 0 {
		every := spec.tickEvery()
		s.idleTicks = uint32(max(1, spec.Idle/every))
		s.scanEvery = max(1, s.idleTicks/4)
	}
	opts := dispatch(spec.pool, []actor.PropsOption{actor.WithMailbox(trackedMailbox)})
	if spec.Children != nil {
		opts = append(opts, actor.WithSupervisor(spec.Children))
	}
	if len(spec.EntityMiddleware) > 0 {
		opts = append(opts, actor.WithReceiverMiddleware(spec.EntityMiddleware...))
	}
	tm := newTimers()
	s.timers = tm
	s.props = actor.PropsFromProducer(func() actor.Actor {
		return &host{e: spec.New(), c: Context{child: spec.childProps, timers: tm, timer: timerItem{index: -1}}}
	}, opts...)
	return s
}

func (s *shard) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		s.selfID = ctx.Self().Id
		s.arm(ctx)
		if s.booted.Load() {
			s.restoreSelf()
		}
	case Message:
		s.route(ctx, msg)
	case *idle:
		s.idle(ctx, msg)
		idles.Put(msg) // handled: nothing else holds it
	case *tick:
		s.tick(ctx)
	case *restore:
		s.add(msg.keys)
		ctx.Respond(&restored{n: len(msg.keys)})
	case *actor.Terminated:
		s.terminated(msg)
	case *residentQuery:
		_, ok := s.active[msg.key]
		ctx.Respond(&residentAnswer{resident: ok})
	case *actor.Stopping, *actor.Restarting:
		s.stopping = true
		if s.timer != nil {
			s.timer.Stop()
		}
		s.timers.stop()
	}
}

func (s *shard) route(ctx actor.Context, msg Message) {
	env := msg.envelope()
	e, live := s.active[env.key]
	fresh := false
	if !live {
		due, held := s.asleep[env.key]
		if a, ok := msg.(AbsentAnswerer); ok && !held && s.spec.Store != nil {
			a.AnswerAbsent(ctx)
			return
		}
		if e, live = s.spawn(ctx, env.key); !live {
			fail(msg, ErrUnavailable)
			return
		}
		delete(s.asleep, env.key)
		fresh = !held && s.spec.Store != nil
		if _, woken := msg.(*wake); !woken {
			e.queued = due // its heap item stays until due; passivating at the same deadline reuses it
		}
	}
	e.seq++
	if _, ok := msg.(*passivate); !ok {
		e.used, e.asked = s.ticks, false
	}
	s.active[env.key] = e
	env.gen, env.seq, env.fresh, env.to = e.gen, e.seq, fresh, e.pid
	if ctx.Message() == msg {
		ctx.Forward(e.pid) // keeps the sender: the entity's Respond answers the caller
	} else {
		ctx.Send(e.pid, msg)
	}
}

func (s *shard) spawn(ctx actor.Context, key string) (entry, bool) {
	s.gen++
	pid, err := ctx.SpawnNamed(s.props, entityName(key, s.gen))
	if err != nil {
		s.spec.Log.Error("entity not spawned", zap.String("kind", s.spec.Name), zap.String("key", key), zap.Error(err))
		return entry{}, false
	}
	s.spec.Metrics.spawned(s.spec.Name)
	// A copy: the object SpawnNamed returned is the one in this shard's
	// set of children, which must not cache the process (host.release).
	pid = actor.NewPID(pid.Address, pid.Id)
	e := entry{pid: pid, gen: s.gen, used: s.ticks}
	s.active[key] = e
	s.peak = max(s.peak, len(s.active))
	return e, true
}

// idle stops an entity whose report carries the latest stamp: nothing is
// queued for it. One with state leaves its key and deadline behind.
func (s *shard) idle(ctx actor.Context, m *idle) {
	e, ok := s.active[m.key]
	if !ok || e.gen != m.gen || e.seq != m.seq {
		return // a message came in since: it stays
	}
	delete(s.active, m.key)
	ctx.Stop(e.pid)
	if m.empty {
		return
	}
	if m.due != 0 && m.due == e.queued && m.due > time.Now().UnixNano() {
		s.asleep[m.key] = m.due // the heap still holds this deadline: no second item
	} else {
		s.sleep(m.key, m.due)
	}
	s.spec.Metrics.passivated(s.spec.Name)
}

func (s *shard) sleep(key string, due int64) {
	s.asleep[key] = due
	if due != 0 {
		s.heap.push(deadline{due: due, key: key})
	}
}

// terminated forgets an entity its supervisor stopped (past its restart
// budget): the next message for its key starts a fresh incarnation from
// the store, and the key's deadline is read back so it still fires.
func (s *shard) terminated(m *actor.Terminated) {
	s.spec.Metrics.stopped(s.spec.Name)
	if s.stopping {
		// The shard stops (or restarts) with its entities: reading each
		// one's record back would only slow the shutdown; a restarted
		// shard restores from the store anyway.
		return
	}
	key, gen := parseName(m.Who.Id, s.selfID)
	e, ok := s.active[key]
	if !ok || e.gen != gen {
		return // passivated by us, or a predecessor
	}
	delete(s.active, key)
	if due, ok := s.storedDeadline(key); ok {
		s.sleep(key, due)
	}
}

// storedDeadline reads a key's record back: whether it exists, and its
// deadline.
func (s *shard) storedDeadline(key string) (int64, bool) {
	if s.spec.Store == nil {
		return 0, false
	}
	raw, err := s.spec.Store.Load(s.spec.Bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false
	}
	if err != nil || s.spec.Deadline == nil {
		return 0, true
	}
	due, err := s.spec.Deadline(raw)
	if err != nil || due.IsZero() {
		return 0, true
	}
	return due.UnixNano(), true
}

func (s *shard) add(keys []deadline) {
	for _, k := range keys {
		if _, live := s.active[k.key]; !live {
			s.sleep(k.key, k.due)
		}
	}
}

// restoreSelf reads this shard's keys back after it restarted (its
// entities were stopped with it).
func (s *shard) restoreSelf() {
	keys, err := scan(s.spec, func(key string) bool { return Of(key, s.spec.Shards) == s.index })
	if err != nil {
		panic(fmt.Sprintf("shard %s/%d: restore: %v", s.spec.Name, s.index, err))
	}
	s.add(keys)
}

func (s *shard) arm(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	s.timer = time.AfterFunc(s.spec.tickEvery(), func() { root.Send(self, &tick{}) })
}

// tick wakes the passivated entities whose deadline came and asks the
// entities idle for Spec.Idle to passivate.
func (s *shard) tick(ctx actor.Context) {
	s.ticks++
	now := time.Now().UnixNano()
	for len(s.heap) > 0 && s.heap[0].due <= now {
		d := s.heap.pop()
		if due, ok := s.asleep[d.key]; ok && due == d.due {
			s.route(ctx, &wake{Envelope{key: d.key}})
		}
	}
	if s.idleTicks > 0 && s.ticks%s.scanEvery == 0 {
		for key, e := range s.active {
			if !e.asked && s.ticks-e.used >= s.idleTicks {
				e.asked = true
				s.active[key] = e
				p := passivates.Get().(*passivate)
				*p = passivate{Envelope{key: key}}
				s.route(ctx, p)
			}
		}
		s.shrink()
	}
	s.timer.Reset(s.spec.tickEvery())
}

// shrink rebuilds the map of resident entities once it holds a quarter of
// what it held at its peak: Go maps never give back the room a burst
// (a reboot storm of REGISTERs) made them grow to.
func (s *shard) shrink() {
	if s.peak < 4096 || len(s.active) > s.peak/4 {
		return
	}
	active := make(map[string]entry, len(s.active))
	for k, e := range s.active {
		active[k] = e
	}
	s.active, s.peak = active, len(active)
}

// fail answers msg with err when it is a request.
func fail(msg any, err error) {
	if f, ok := actor.UnwrapEnvelopeMessage(msg).(Failer); ok {
		f.Fail(err)
	}
}
