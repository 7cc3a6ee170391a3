package registrar

import (
	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/supervision"
)

// Name is the registrar's kind name.
const Name = "registrar"

// Spec is the registrar as an actor kind: one registration actor per AOR,
// restarted from the store on a panic, passivated after c.Idle.
func Spec(log *zap.Logger, c Config, s store.Store, port outbound.Port, m *shard.Metrics) shard.Spec {
	d := &deps{conf: c, store: s, port: port, log: log}
	return shard.Spec{
		Name:     Name,
		Log:      log,
		New:      func() shard.Entity { return newActor(d) },
		Store:    s,
		Bucket:   Kind,
		Deadline: deadline,
		Shards:   c.Shards,
		Idle:     c.Idle,
		Decider:  supervision.RestartOnPanic,
		Metrics:  m,
	}
}

// Router sends registrar messages to the right registration actor. It is
// what the edge and other actors hold; it is safe for concurrent use.
type Router struct{ r *shard.Router }

// NewRouter wraps the registrar kind's shard router.
func NewRouter(r *shard.Router) *Router { return &Router{r: r} }

// Register sends m to the registration actor of m.AOR; the answer goes to
// m.Reply.
func (r *Router) Register(m *Register) { r.r.Send(string(m.AOR), m) }

// Lookup sends m to the registration actor of m.AOR; the answer goes to
// m.Reply, or to the sender when Reply is nil (see Target).
func (r *Router) Lookup(m *Lookup) { r.r.Send(string(m.AOR), m) }

// Forward sends m to the registration actor of m.AOR; the answer goes to
// m.Reply.
func (r *Router) Forward(m *Forward) { r.r.Send(string(m.AOR), m) }

// Target addresses an actor-to-actor Lookup: ctx.RequestFuture(r.Target(m),
// m, timeout), then ReenterAfter.
func (r *Router) Target(m *Lookup) *actor.PID { return r.r.Target(string(m.AOR), m) }
