package supervision

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// NewSystem returns an actor system that logs through log (protoactor-go
// speaks slog; zapslog bridges it, as Caddy does).
func NewSystem(log *zap.Logger) *actor.ActorSystem {
	return actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(zapslog.NewHandler(log.Core(), zapslog.WithName("actor")))
		}),
		actor.WithDeadLetterThrottleInterval(50*time.Millisecond),
	)
}

// Stop stops the tree under top (children first, each finishing the message
// in hand) and then the system. protoactor bounds the wait at 10 s.
func Stop(system *actor.ActorSystem, top *actor.PID) error {
	defer system.Shutdown()
	if top == nil {
		return nil
	}
	return system.Root.StopFuture(top).Wait()
}
