package presence

import (
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/supervision"
)

// Kind names of the presence server.
const (
	PresentityName   = "presentity"
	SubscriptionName = "subscription"
)

// Deps is what the two kinds are built from. Presentities and
// Subscriptions are the kinds' routers, made before the kinds start (a
// router is only the shards' names), since each kind sends to the other.
type Deps struct {
	Log           *zap.Logger
	Config        Config
	Store         store.Store
	Port          outbound.Port
	Lookup        LookupFunc
	Metrics       *shard.Metrics
	Presentities  *shard.Router
	Subscriptions *shard.Router
}

// PresentitySpec is the presentity kind: one actor per AOR, restarted
// from the store on a panic, passivated after Config.Idle and woken at its
// next publication expiry.
func PresentitySpec(d Deps) shard.Spec {
	log, c := d.Log.Named(PresentityName), d.Config
	return shard.Spec{
		Name:     PresentityName,
		Log:      log,
		New:      func() shard.Entity { return newPresentity(&c, d.Store, d.Subscriptions, d.Lookup, log) },
		Store:    d.Store,
		Bucket:   PresentityKind,
		Deadline: presentityDeadline,
		Shards:   d.Config.Shards,
		Idle:     d.Config.Idle,
		Decider:  supervision.RestartOnPanic,
		Metrics:  d.Metrics,
	}
}

// SubscriptionSpec is the subscription kind: one actor per SUBSCRIBE
// dialog, keyed by DialogKey, passivated when idle and woken at its
// expiry (after Config.SubscriptionIdle).
func SubscriptionSpec(d Deps) shard.Spec {
	log, c := d.Log.Named(SubscriptionName), d.Config
	return shard.Spec{
		Name:     SubscriptionName,
		Log:      log,
		New:      func() shard.Entity { return newSubscription(&c, d.Store, d.Port, d.Presentities, log) },
		Store:    d.Store,
		Bucket:   SubscriptionKind,
		Deadline: subDeadline,
		Shards:   d.Config.Shards,
		Idle:     d.Config.SubscriptionIdle,
		Decider:  supervision.RestartOnPanic,
		Metrics:  d.Metrics,
	}
}

// Router sends presence messages to the right actor. It is what the edge,
// the registrar and the admin API hold; it is safe for concurrent use.
type Router struct {
	presentities, subscriptions *shard.Router
}

// NewRouter wraps the two kinds' shard routers.
func NewRouter(presentities, subscriptions *shard.Router) *Router {
	return &Router{presentities: presentities, subscriptions: subscriptions}
}

// Publish sends m to the presentity of m.AOR.
func (r *Router) Publish(m *Publish) { r.presentities.Send(m.AOR, m) }

// Subscribe sends an initial SUBSCRIBE to the presentity watched.
func (r *Router) Subscribe(m *Subscribe) { r.presentities.Send(m.Presentity, m) }

// Resubscribe sends an in-dialog SUBSCRIBE to the subscription of key
// (DialogKey).
func (r *Router) Resubscribe(key string, m *Resubscribe) { r.subscriptions.Send(key, m) }

// RegistrationChanged tells the presentity of m.AOR its live contacts.
func (r *Router) RegistrationChanged(m *RegistrationChanged) { r.presentities.Send(m.AOR, m) }

// CallStateChanged tells the presentity of m.AOR its call state.
func (r *Router) CallStateChanged(m *CallStateChanged) { r.presentities.Send(m.AOR, m) }

// Watchers asks the presentity of m.AOR for its watchers and policy.
func (r *Router) Watchers(m *Watchers) { r.presentities.Send(m.AOR, m) }

// Decide records the owner's decision about a watcher.
func (r *Router) Decide(m *Decide) { r.presentities.Send(m.AOR, m) }

// SetPolicy replaces the presentity's policy.
func (r *Router) SetPolicy(m *SetPolicy) { r.presentities.Send(m.AOR, m) }
