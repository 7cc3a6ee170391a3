// Package actors lists the actor kinds of the server and starts them under
// one guardian. Each kind lives in its own package below and runs on the
// generic sharded-entity machinery (actors/shard); adding a kind is a new
// package and one line in Kinds.
package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/call"
	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/messaging"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/presence"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/supervision"
)

// Deps is what the kinds are built from.
type Deps struct {
	Log       *zap.Logger
	Store     store.Store
	Registrar registrar.Config
	Presence  presence.Config
	Messaging messaging.Config
	Calls     call.Config
	// Media relays the calls' media (calls.media relay); nil: the SDP
	// passes through.
	Media *media.Engine
	// Users says which AORs are users of the users service (nil: none;
	// then only AORs that ever registered can receive a MESSAGE).
	Users messaging.Directory
	// Metrics counts entities per kind; nil: not counted.
	Metrics *shard.Metrics
	// Outbound sends SIP for actors. Start sets it to System.Outbound, a
	// port the edge is plugged into once it runs.
	Outbound outbound.Port
	// Dialogs is where kinds register the dialogs they own; Start fills it
	// and hands the same registry to the edge (Routers.Dialogs).
	Dialogs *dialog.Registry

	sys *actor.ActorSystem // set by Start: routers are made from it
}

// router is the router of the kind name with n shards: only the shards'
// names, so it exists before the kind starts, and kinds that send to each
// other can each hold the other's.
func (d Deps) router(name string, n int) *shard.Router {
	return shard.NewRouter(d.sys, actor.NewPID(d.sys.Address(), Top+"/"+name), n)
}

// presence is what the presence kinds are built from. The registrar asks
// a new presentity's contacts, and is told nothing when presence is off.
func (d Deps) presence() presence.Deps {
	pd := presence.Deps{Log: d.Log.Named("presence"), Config: d.Presence, Store: d.Store, Port: d.Outbound, Metrics: d.Metrics,
		Presentities:  d.router(presence.PresentityName, d.Presence.Shards),
		Subscriptions: d.router(presence.SubscriptionName, d.Presence.Shards)}
	reg := registrar.NewRouter(d.router(registrar.Name, d.Registrar.Shards))
	pd.Lookup = func(aor string, reply func([]string, error)) {
		reg.Lookup(&registrar.Lookup{AOR: registrar.AOR(aor), Reply: func(r *registrar.LookupResult) {
			contacts := make([]string, len(r.Bindings))
			for i, b := range r.Bindings {
				contacts[i] = b.Contact
			}
			reply(contacts, r.Err)
		}})
	}
	return pd
}

// messaging is what the message-box kind is built from: the registrar's
// lookup, and the directory of known users (the users service, and every
// AOR that ever registered).
func (d Deps) messaging(seen *messaging.Registered) messaging.Deps {
	reg := registrar.NewRouter(d.router(registrar.Name, d.Registrar.Shards))
	md := messaging.Deps{Log: d.Log, Config: d.Messaging, Store: d.Store, Port: d.Outbound, Metrics: d.Metrics,
		Known: messaging.AnyOf{d.Users, seen}}
	md.Lookup = func(aor string, reply func([]messaging.Contact, error)) {
		reg.Lookup(&registrar.Lookup{AOR: registrar.AOR(aor), Reply: func(r *registrar.LookupResult) {
			cs := make([]messaging.Contact, len(r.Bindings))
			for i, b := range r.Bindings {
				cs[i] = messaging.Contact{URI: b.Contact, Source: b.Source, Path: b.Path}
			}
			reply(cs, r.Err)
		}})
	}
	return md
}

// Kind is one actor kind: its spec (name, entities, store bucket,
// supervision decider) built from the shared dependencies, and how its
// router reaches the edge.
func (d Deps) calls(pres *presence.Router, seen *messaging.Registered) call.Deps {
	reg := registrar.NewRouter(d.router(registrar.Name, d.Registrar.Shards))
	known := messaging.AnyOf{d.Users, seen}
	cd := call.Deps{Log: d.Log, Config: d.Calls, Port: d.Outbound, Dialogs: d.Dialogs, Metrics: d.Metrics, Media: d.Media,
		Known: func(aor string) bool { return known.Known(aor) },
		InCall: func(aor, callID string, in bool) {
			pres.CallStateChanged(&presence.CallStateChanged{AOR: aor, CallID: callID, InCall: in})
		}}
	cd.Lookup = func(aor string, reply func([]call.Contact, error)) {
		reg.Lookup(&registrar.Lookup{AOR: registrar.AOR(aor), Reply: func(r *registrar.LookupResult) {
			cs := make([]call.Contact, len(r.Bindings))
			for i, b := range r.Bindings {
				cs[i] = call.Contact{URI: b.Contact, Source: b.Source, Path: b.Path, Q: b.Q}
			}
			reply(cs, r.Err)
		}})
	}
	return cd
}

type Kind struct {
	Spec  shard.Spec
	Route func(r *shard.Router, into *Routers)
}

// Kinds lists every actor kind the server spawns, one line each.
func Kinds(d Deps) []Kind {
	pd := d.presence()
	rc := d.Registrar
	pres := presence.NewRouter(pd.Presentities, pd.Subscriptions)
	seen := messaging.NewRegistered(d.Store, d.Log.Named(messaging.Name))
	md := d.messaging(seen)
	boxes := messaging.NewRouter(d.router(messaging.Name, d.Messaging.Shards), d.Messaging)
	rc.Changed = func(aor registrar.AOR, contacts []string) {
		pres.RegistrationChanged(&presence.RegistrationChanged{AOR: string(aor), Contacts: contacts})
		if len(contacts) > 0 {
			boxes.RegistrationChanged(&messaging.RegistrationChanged{AOR: string(aor), Contacts: contacts})
		} else {
			// The AOR's last contact is gone (unregistered or expired):
			// remember that it was a user. While it has contacts, the box
			// knows that from the registrar, so REGISTER costs nothing here.
			seen.Saw(string(aor))
		}
	}
	return []Kind{
		{registrar.Spec(d.Log.Named("registrar"), rc, d.Store, d.Outbound, d.Metrics), func(r *shard.Router, rs *Routers) { rs.Registrar = registrar.NewRouter(r) }},
		{presence.PresentitySpec(pd), func(r *shard.Router, rs *Routers) { rs.Presence = pres }},
		{presence.SubscriptionSpec(pd), nil},
		{messaging.Spec(md), func(r *shard.Router, rs *Routers) { rs.Messaging = boxes }},
		{call.Spec(d.calls(pres, seen)), func(r *shard.Router, rs *Routers) { rs.Calls = call.NewRouter(r) }},
	}
}

// Top is the name of the guardian at the top of the tree.
const Top = "b2bua"

// Routers are what the SIP edge sends requests through: one per kind
// that takes requests from the edge. The edge receives them as one value,
// so a new kind adds a field here, not a parameter to every constructor.
type Routers struct {
	Registrar *registrar.Router
	Presence  *presence.Router
	Messaging *messaging.Router
	Calls     *call.Router
	// Dialogs routes in-dialog requests (ACK included) to the actor that
	// owns the dialog; kinds that establish dialogs add them there.
	Dialogs *dialog.Registry
}

// System is the running actor tree and the routers the edge talks to.
type System struct {
	Actors  *actor.ActorSystem
	Routers Routers
	// Outbound is the port actors send SIP through; plug the edge's
	// client port in with Set once the edge is built.
	Outbound *outbound.Deferred
	tree     *shard.Tree
	reap     func() // stops call.ReapOrphans
}

// Start spawns every kind under the guardian and waits until each
// restored its state. With kinds given, it starts those instead of Kinds
// (tests start one kind the way the server does).
func Start(d Deps, kinds ...func(Deps) Kind) (*System, error) {
	if err := d.Registrar.Validate(); err != nil {
		return nil, err
	}
	if d.Presence.Shards == 0 && d.Presence.Policy == "" { // not configured: tests that start the registrar only
		d.Presence = presence.DefaultConfig()
	}
	if err := d.Presence.Validate(); err != nil {
		return nil, err
	}
	if d.Messaging.Shards == 0 && d.Messaging.MaxStored == 0 { // not configured, as for presence
		d.Messaging = messaging.DefaultConfig()
	}
	if err := d.Messaging.Validate(); err != nil {
		return nil, err
	}
	if d.Calls.Shards == 0 && d.Calls.NoAnswer == 0 { // not configured, as for presence
		d.Calls = call.DefaultConfig()
	}
	if err := d.Calls.Validate(); err != nil {
		return nil, err
	}
	sys := supervision.NewSystem(d.Log.Named("actor"))
	d.sys = sys
	port := outbound.NewDeferred(sys.Root)
	d.Outbound = port
	d.Dialogs = dialog.NewRegistry(sys.Root)
	list := Kinds(d)
	if len(kinds) > 0 {
		list = list[:0]
		for _, k := range kinds {
			list = append(list, k(d))
		}
	}
	specs := make([]shard.Spec, len(list))
	for i, k := range list {
		specs[i] = k.Spec
	}
	tree, err := shard.Start(sys, d.Log, Top, time.Minute, specs...)
	if err != nil {
		sys.Shutdown()
		return nil, fmt.Errorf("actors: %w", err)
	}
	s := &System{Actors: sys, Outbound: port, tree: tree, reap: call.ReapOrphans(sys, port, d.Log.Named(call.Name))}
	for _, k := range list {
		if k.Route != nil {
			k.Route(tree.Routers[k.Spec.Name], &s.Routers)
		}
		d.Log.Info("kind ready", zap.String("kind", k.Spec.Name), zap.Int("restored", tree.Restored[k.Spec.Name]))
	}
	s.Routers.Dialogs = d.Dialogs
	return s, nil
}

// Stop stops the tree, children first, then the actor system.
func (s *System) Stop() error {
	err := s.tree.Stop()
	s.reap()
	return err
}
