package supervision

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
)

// Child is one top-level actor the guardian starts: the root of an actor
// kind (which supervises its own shards and entities).
type Child struct {
	Name    string
	Props   *actor.Props
	Decider Decider
}

// Guardian returns the props of the actor at the top of the tree. It spawns
// every child under its name on start and restarts a failed one within the
// default budget. Stopping the guardian stops the whole tree, children first.
func Guardian(log *zap.Logger, children []Child) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &guardian{log: log, children: children}
	}, actor.WithSupervisor(Strategy(log, "guardian", RestartOnPanic, DefaultBudget)))
}

// WaitStarted returns once the guardian at top has spawned its children,
// so their names resolve (a message to a child's name sent earlier would be
// a dead letter).
func WaitStarted(system *actor.ActorSystem, top *actor.PID, timeout time.Duration) error {
	_, err := system.Root.RequestFuture(top, &started{}, timeout).Result()
	return err
}

type started struct{}

type guardian struct {
	log      *zap.Logger
	children []Child
}

func (g *guardian) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		for _, c := range g.children {
			if _, err := ctx.SpawnNamed(c.Props, c.Name); err != nil {
				panic(fmt.Sprintf("guardian: spawn %s: %v", c.Name, err))
			}
		}
	case *started:
		ctx.Respond(msg)
	case *actor.Terminated:
		g.log.Info("top-level actor stopped", zap.String("pid", msg.Who.Id))
	}
}
