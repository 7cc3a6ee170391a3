// Package actors lists the actor kinds of the server and starts them under
// one guardian. Each kind lives in its own package below; adding a kind is
// a new package and one line in Kinds.
package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/supervision"
)

// Deps is what the kinds are built from.
type Deps struct {
	Log       *zap.Logger
	Store     store.Store
	Registrar registrar.Config
	// Outbound sends SIP for actors; Start fills it with a Deferred port
	// that the edge is plugged into once it runs (System.Outbound.Set).
	Outbound outbound.Port
	// Dialogs is where kinds register the dialogs they own; Start fills it
	// and hands the same registry to the edge (Routers.Dialogs).
	Dialogs *dialog.Registry
}

// Kind is one actor kind: its name (the PID of its root is
// "b2bua/<name>"), the decider its entities are supervised with, and the
// props of its root built from that decider.
type Kind struct {
	Name    string
	Decider supervision.Decider
	Props   func(supervision.Decider) *actor.Props
}

// Kinds lists every actor kind the server spawns.
func Kinds(d Deps) []Kind {
	return []Kind{
		{Name: "registrar", Decider: supervision.RestartOnPanic, Props: func(decide supervision.Decider) *actor.Props {
			return registrar.Props(d.Log.Named("registrar"), d.Registrar, d.Store, d.Outbound, decide)
		}},
	}
}

// Top is the name of the guardian at the top of the tree.
const Top = "b2bua"

// Routers are what the SIP edge sends requests through: one per kind
// that takes requests from the edge. The edge receives them as one value,
// so a new kind adds a field here, not a parameter to every constructor.
type Routers struct {
	Registrar *registrar.Router
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
	top      *actor.PID
}

// Start spawns every kind under the guardian and waits until each restored
// its state.
func Start(d Deps) (*System, error) {
	if err := d.Registrar.Validate(); err != nil {
		return nil, err
	}
	sys := supervision.NewSystem(d.Log.Named("actor"))
	port := outbound.NewDeferred(sys.Root)
	d.Outbound = port
	d.Dialogs = dialog.NewRegistry(sys.Root)
	var children []supervision.Child
	for _, k := range Kinds(d) {
		children = append(children, supervision.Child{Name: k.Name, Props: k.Props(k.Decider), Decider: k.Decider})
	}
	top, err := sys.Root.SpawnNamed(supervision.Guardian(d.Log, children), Top)
	if err != nil {
		return nil, fmt.Errorf("actors: %w", err)
	}
	s := &System{Actors: sys, Outbound: port, top: top}
	if err := supervision.WaitStarted(sys, top, 10*time.Second); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("actors: guardian: %w", err)
	}
	regPID := actor.NewPID(sys.Address(), Top+"/registrar")
	res, err := sys.Root.RequestFuture(regPID, &registrar.Ready{}, time.Minute).Result()
	if err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("actors: registrar: %w", err)
	}
	d.Log.Info("actors started", zap.Int("registrations_restored", res.(*registrar.ReadyResult).Restored))
	s.Routers.Registrar = registrar.NewRouter(sys, regPID, d.Registrar.Shards)
	s.Routers.Dialogs = d.Dialogs
	return s, nil
}

// Stop stops the tree, children first, then the actor system.
func (s *System) Stop() error { return supervision.Stop(s.Actors, s.top) }
