package registrar

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/supervision"
)

// Props returns the props of the registrar's root actor. It spawns
// c.Shards shard actors named "<root>/<i>", then restores every stored
// registration so its expiry timer runs again. Entities are supervised by
// their shard with decide and the default restart budget.
func Props(log *zap.Logger, c Config, s store.Store, port outbound.Port, decide supervision.Decider) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &root{log: log, conf: c, store: s, port: port, decide: decide}
	}, actor.WithSupervisor(supervision.Strategy(log, "registrar-shard", supervision.RestartOnPanic, supervision.DefaultBudget)))
}

type root struct {
	log      *zap.Logger
	conf     Config
	store    store.Store
	port     outbound.Port
	decide   supervision.Decider
	shards   []*actor.PID
	restored int
}

func (r *root) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		r.start(ctx)
	case *Ready:
		ctx.Respond(&ReadyResult{Restored: r.restored})
	}
}

func (r *root) start(ctx actor.Context) {
	r.shards = make([]*actor.PID, r.conf.Shards)
	for i := range r.shards {
		props := actor.PropsFromProducer(func() actor.Actor {
			sh := &shard{log: r.log, conf: r.conf, store: r.store, index: i, children: map[AOR]*entry{}}
			sh.props = actor.PropsFromProducer(func() actor.Actor { return newActor(sh.conf, sh.store, r.port, sh.log) })
			return sh
		}, actor.WithSupervisor(supervision.Strategy(r.log, "registration", r.decide, supervision.DefaultBudget)))
		pid, err := ctx.SpawnNamed(props, strconv.Itoa(i))
		if err != nil {
			panic(fmt.Sprintf("registrar: spawn shard %d: %v", i, err))
		}
		r.shards[i] = pid
	}
	r.restored = 0
	if err := r.store.Scan(Kind, func(string, []byte) error { r.restored++; return nil }); err != nil {
		panic(fmt.Sprintf("registrar: count: %v", err))
	}
	r.log.Info("registrar started", zap.Int("shards", len(r.shards)), zap.Int("restored", r.restored))
}

// shard owns the AOR → actor map of its share of the key space, spawns a
// registration actor on first use and stops it when it holds nothing.
type shard struct {
	log      *zap.Logger
	conf     Config
	store    store.Store
	index    int
	children map[AOR]*entry
	spawned  uint64
	props    *actor.Props // of every registration actor of this shard
}

// entry is one live registration actor and the number of the last message
// routed to it. The actor reports that number back when it is empty; only
// when both agree has it no message in its mailbox, and stopping it loses
// nothing.
type entry struct {
	pid *actor.PID
	gen uint64
	seq uint64
}

func (s *shard) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		s.restore(ctx)
	case *shardPoison:
		panic("registrar: poisoned shard")
	case routable:
		s.route(ctx, msg)
	case *idle:
		if e, ok := s.children[msg.aor]; ok && e.gen == msg.gen && e.seq == msg.seq {
			delete(s.children, msg.aor)
			ctx.Stop(e.pid)
		}
	case *actor.Terminated:
		// A child stopped by its supervisor (past its restart budget) is
		// forgotten, so the next message for its AOR starts a fresh one
		// from the store instead of going to a dead PID unanswered.
		aor := AOR(strings.TrimPrefix(msg.Who.Id, ctx.Self().Id+"/"))
		if e, ok := s.children[aor]; ok && e.pid.Equal(msg.Who) {
			delete(s.children, aor)
		}
	}
}

// restore wakes the actor of every stored AOR of this shard, at start and
// after a restart of the shard (which stops its children): their expiry
// timers run again, and the map knows every AOR the store holds, which is
// what lets route mark a new AOR fresh.
func (s *shard) restore(ctx actor.Context) {
	err := s.store.Scan(Kind, func(key string, _ []byte) error {
		if aor := AOR(key); shardOf(aor, s.conf.Shards) == s.index {
			s.route(ctx, &activate{aor: aor})
		}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("registrar: restore shard %d: %v", s.index, err))
	}
}

func (s *shard) route(ctx actor.Context, msg routable) {
	aor := msg.key()
	e, ok := s.children[aor]
	fresh := false
	if !ok {
		if l, isLookup := msg.(*Lookup); isLookup {
			// Every AOR with a binding has a live actor (restored at start),
			// so an absent one has none: answer without spawning.
			res := &LookupResult{Now: s.conf.now()}
			if l.Reply != nil {
				l.Reply(res)
			} else {
				ctx.Respond(res)
			}
			return
		}
		if f, isForward := msg.(*Forward); isForward {
			f.answer(&ForwardResult{Err: ErrNoContact})
			return
		}
		pid, err := ctx.SpawnNamed(s.props, string(aor))
		if err != nil {
			// A previous actor of this AOR is still stopping: retry once
			// it is gone by sending the message back to ourselves.
			ctx.Send(ctx.Self(), msg)
			return
		}
		s.spawned++
		e = &entry{pid: pid, gen: s.spawned}
		s.children[aor] = e
		// Every stored AOR was activated at start and an actor passivates
		// only after its record is deleted: an AOR without an actor has no
		// record, and its new actor need not read the store.
		_, fresh = msg.(*Register)
	}
	e.seq++
	msg.stamp(stamp{gen: e.gen, seq: e.seq, fresh: fresh})
	ctx.Forward(e.pid)
}

// shardOf hashes an AOR onto one of n shards (FNV-1a).
func shardOf(aor AOR, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(aor))
	return int(h.Sum32() % uint32(n))
}

// Router sends registrar messages to the right shard. It is what the edge
// and other actors hold; it is safe for concurrent use.
type Router struct {
	root   *actor.RootContext
	shards []*actor.PID
}

// NewRouter returns a Router for the registrar whose root actor is rootPID,
// started with n shards.
func NewRouter(system *actor.ActorSystem, rootPID *actor.PID, n int) *Router {
	r := &Router{root: system.Root, shards: make([]*actor.PID, n)}
	for i := range r.shards {
		r.shards[i] = actor.NewPID(rootPID.Address, rootPID.Id+"/"+strconv.Itoa(i))
	}
	return r
}

// Register sends m to the registration actor of m.AOR; the answer goes to
// m.Reply.
func (r *Router) Register(m *Register) { r.send(m) }

// Forward sends m to the registration actor of m.AOR; the answer goes to
// m.Reply.
func (r *Router) Forward(m *Forward) { r.send(m) }

// Lookup sends m to the registration actor of m.AOR; the answer goes to
// m.Reply.
func (r *Router) Lookup(m *Lookup) { r.send(m) }

func (r *Router) send(m routable) {
	r.root.Send(r.shards[shardOf(m.key(), len(r.shards))], m)
}
