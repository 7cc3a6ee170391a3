package messaging

import (
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/supervision"
)

// Name is the kind's name.
const Name = "msgbox"

// Deps is what the kind is built from.
type Deps struct {
	Log     *zap.Logger
	Config  Config
	Store   store.Store
	Port    outbound.Port
	Lookup  LookupFunc
	Known   Directory // nil: every AOR is known
	Metrics *shard.Metrics
}

// Spec is the message-box kind: one actor per recipient AOR, restarted
// from the store on a panic, passivated after Config.Idle and woken at
// its next expiry.
func Spec(d Deps) shard.Spec {
	log, c := d.Log.Named(Name), d.Config
	return shard.Spec{
		Name:     Name,
		Log:      log,
		New:      func() shard.Entity { return newBox(&c, d.Store, d.Port, d.Lookup, d.Known, log) },
		Store:    d.Store,
		Bucket:   BoxKind,
		Deadline: boxDeadline,
		Shards:   c.Shards,
		Idle:     c.Idle,
		Decider:  supervision.RestartOnPanic,
		Metrics:  d.Metrics,
	}
}

// Router sends messages to the boxes. It is what the edge and the
// registrar hold; it is safe for concurrent use.
type Router struct {
	boxes   *shard.Router
	maxBody int
}

// NewRouter wraps the kind's shard router; c is the kind's config (the
// router refuses what no box would take, without spawning one).
func NewRouter(boxes *shard.Router, c Config) *Router {
	return &Router{boxes: boxes, maxBody: c.MaxBody}
}

// Message sends m to the box of m.AOR; a MESSAGE without a body
// (ErrNoBody) or with one over MaxBody (ErrTooLarge) is answered at once.
func (r *Router) Message(m *Message) {
	switch {
	case len(m.Body) == 0:
		m.answer(&Result{Err: ErrNoBody})
	case len(m.Body) > r.maxBody:
		m.answer(&Result{Err: ErrTooLarge})
	default:
		r.boxes.Send(m.AOR, m)
	}
}

// RegistrationChanged tells the box of m.AOR its live contacts.
func (r *Router) RegistrationChanged(m *RegistrationChanged) { r.boxes.Send(m.AOR, m) }
