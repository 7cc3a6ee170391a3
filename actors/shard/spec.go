package shard

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/supervision"
)

// Spec is one actor kind: what its entities are, where their state lives
// and how they are supervised.
type Spec struct {
	// Name is the kind's name; its root is spawned under it.
	Name string
	Log  *zap.Logger
	// New returns a fresh entity: on first use of a key, on activation
	// after passivation and on every restart.
	New func() Entity
	// Store and Bucket hold the entities' records (nil Store: the kind
	// keeps nothing across restarts, and no key is ever fresh).
	Store  store.Store
	Bucket store.Kind
	// Deadline returns the next deadline of a stored record, read at
	// restore so a passivated entity wakes at it; nil: records carry none.
	Deadline func(record []byte) (time.Time, error)
	// Shards is how many shard actors split the key space.
	Shards int
	// Idle is how long an entity with state stays resident without a
	// message before it passivates; 0 keeps it resident.
	Idle time.Duration
	// Decider and Budget supervise the entities (zero Budget: the
	// default).
	Decider supervision.Decider
	Budget  supervision.Budget
	// Children supervises the actors an entity spawns (a call's legs);
	// nil: protoactor's default (restart).
	Children actor.SupervisorStrategy
	// Child makes the actor an entity spawns with Context.SpawnChild (a
	// call's legs), wrapped in ChildMiddleware. Children run on the
	// kind's worker pool like the entities: protoactor's default
	// dispatcher starts a goroutine per mailbox run, whose stack grows
	// again on each (13% of a call's CPU went to copying stacks).
	Child           actor.Producer
	ChildMiddleware []actor.ReceiverMiddleware
	// Metrics counts live entities and passivations; nil: not counted.
	Metrics *Metrics

	// EntityMiddleware and ShardMiddleware wrap the actors' Receive: for
	// tests that inject faults, never in production wiring.
	EntityMiddleware []actor.ReceiverMiddleware
	ShardMiddleware  []actor.ReceiverMiddleware

	// Set by Start: the pools that run the entities' and the shards'
	// mailboxes (nil: protoactor's default dispatcher).
	pool, shardPool *pool
	childProps      *actor.Props // from Child, set by Start
}

// dispatch adds p, when there is one, to opts.
func dispatch(p *pool, opts []actor.PropsOption) []actor.PropsOption {
	if p != nil {
		opts = append(opts, actor.WithDispatcher(p))
	}
	return opts
}

// Validate reports a spec that cannot work.
func (s *Spec) Validate() error {
	switch {
	case s.Name == "":
		return errors.New("shard: kind has no name")
	case s.New == nil:
		return errors.New("shard: kind " + s.Name + " has no entity constructor")
	case s.Shards < 1:
		return errors.New("shard: kind " + s.Name + " needs at least one shard")
	case s.Idle < 0:
		return errors.New("shard: kind " + s.Name + ": negative idle time")
	case s.Log == nil:
		return errors.New("shard: kind " + s.Name + " has no logger")
	}
	return nil
}

func (s *Spec) budget() supervision.Budget {
	if s.Budget == (supervision.Budget{}) {
		return supervision.DefaultBudget
	}
	return s.Budget
}

func (s *Spec) decider() supervision.Decider {
	if s.Decider == nil {
		return supervision.RestartOnPanic
	}
	return s.Decider
}

// tickEvery is how often a shard checks deadlines and idleness.
func (s *Spec) tickEvery() time.Duration {
	if s.Idle <= 0 {
		return time.Second
	}
	return min(max(s.Idle/4, 10*time.Millisecond), time.Second)
}
