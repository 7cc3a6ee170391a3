package call

import (
	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/supervision"
)

// Name is the kind's name.
const Name = "call"

// Deps is what the kind is built from.
type Deps struct {
	Log     *zap.Logger
	Config  Config
	Port    outbound.Port
	Dialogs *dialog.Registry
	Lookup  LookupFunc
	Known   Known      // nil: every AOR is known (no contacts: 480)
	InCall  InCallFunc // nil: presence is not told
	Metrics *shard.Metrics
	// Media relays the calls' media; nil: the SDP passes through
	// untouched (Config.Media passthrough).
	Media *media.Engine
}

// Spec is the call kind: one actor per call, keyed by leg A's Call-ID and
// From tag, never passivated, and not restored after a restart: a call
// whose actor fails is torn down (its legs send BYE or CANCEL as they
// stop) and logged. A leg that panics escalates to its call, which
// restarts empty: the same teardown.
func Spec(d Deps) shard.Spec {
	log := d.Log.Named(Name)
	c := d.Config
	e := &env{conf: &c, port: d.Port, dialogs: d.Dialogs, lookup: d.Lookup, known: d.Known, inCall: d.InCall, log: log}
	if c.Media == MediaRelay && d.Media != nil {
		e.media = d.Media
	}
	return shard.Spec{
		Name:     Name,
		Log:      log,
		New:      func() shard.Entity { return newCall(e) },
		Shards:   c.Shards,
		Decider:  supervision.RestartOnPanic,
		Children: supervision.Strategy(log, Name+"-leg", supervision.EscalateOnPanic, supervision.DefaultBudget),
		// Every leg is made by the same producer (see legStart), on the
		// kind's worker pool.
		Child:           func() actor.Actor { return &leg{env: e} },
		ChildMiddleware: legMiddleware,
		Metrics:         d.Metrics,
	}
}

// Router sends messages to the calls; safe for concurrent use.
type Router struct{ calls *shard.Router }

// NewRouter wraps the kind's shard router.
func NewRouter(calls *shard.Router) *Router { return &Router{calls: calls} }

// Key is the call key of leg A's INVITE or CANCEL: Call-ID and From tag.
func Key(callID, fromTag string) string { return callID + ";" + fromTag }

// Invite starts a call.
func (r *Router) Invite(key string, m *Invite) { r.calls.Send(key, m) }

// Cancel cancels the call of key.
func (r *Router) Cancel(key string) { r.calls.Send(key, &Cancel{}) }
