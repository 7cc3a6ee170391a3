// Package supervision holds the deciders, the restart budget with backoff and
// the guardian at the top of the actor tree.
//
// A panic inside an actor is a bug: the actor's parent applies its strategy.
// Entities (one registration, one call) are restarted one for one, at most
// Budget.Max times within Budget.Window and with a growing delay, so a
// poisoned entity cannot spin a core; past the budget it is stopped and the
// failure logged. Nothing else is touched: a panic in one entity never
// affects another.
package supervision

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
)

// Decider turns a failure reason into a directive.
type Decider = actor.DeciderFunc

// RestartOnPanic restarts the failed actor; it reloads its state from the
// store when it starts again.
func RestartOnPanic(any) actor.Directive { return actor.RestartDirective }

// StopOnPanic stops the failed actor: for actors that cannot resume safely
// (a call tears itself down cleanly instead).
func StopOnPanic(any) actor.Directive { return actor.StopDirective }

// EscalateOnPanic hands the failure to the parent's parent (a dialog leg
// escalates to its call).
func EscalateOnPanic(any) actor.Directive { return actor.EscalateDirective }

// Budget bounds restarts: at most Max within Window, each delayed by
// Backoff doubled per recent failure (the first restart is immediate) up to
// MaxBackoff.
type Budget struct {
	Max        int
	Window     time.Duration
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// DefaultBudget is 10 restarts in 10 s, backing off from 10 ms to 1 s.
var DefaultBudget = Budget{Max: 10, Window: 10 * time.Second, Backoff: 10 * time.Millisecond, MaxBackoff: time.Second}

// Strategy is a one-for-one strategy with a restart budget and backoff that
// logs every failure through log.
func Strategy(log *zap.Logger, kind string, decide Decider, b Budget) actor.SupervisorStrategy {
	return &strategy{log: log, kind: kind, decide: decide, budget: b}
}

type strategy struct {
	log    *zap.Logger
	kind   string
	decide Decider
	budget Budget
}

var _ actor.SupervisorStrategy = (*strategy)(nil)

// HandleFailure implements actor.SupervisorStrategy.
func (s *strategy) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, msg any) {
	directive := s.decide(reason)
	fields := []zap.Field{zap.String("kind", s.kind), zap.String("pid", child.Id),
		zap.String("reason", fmt.Sprint(reason)), zap.String("message", fmt.Sprintf("%T", msg))}
	switch directive {
	case actor.ResumeDirective:
		s.log.Warn("actor failed, resuming", fields...)
		sup.ResumeChildren(child)
	case actor.RestartDirective:
		rs.Fail()
		n := rs.NumberOfFailures(s.budget.Window)
		if n > s.budget.Max {
			rs.Reset()
			s.log.Error("actor failed past its restart budget, stopping", append(fields, zap.Int("failures", n))...)
			sup.StopChildren(child)
			return
		}
		delay := s.backoff(n)
		s.log.Warn("actor failed, restarting", append(fields, zap.Int("failures", n), zap.Duration("backoff", delay))...)
		if delay == 0 {
			sup.RestartChildren(child)
			return
		}
		time.AfterFunc(delay, func() { sup.RestartChildren(child) })
	case actor.StopDirective:
		s.log.Error("actor failed, stopping", fields...)
		sup.StopChildren(child)
	default:
		sup.EscalateFailure(reason, msg)
	}
}

// backoff is 0 for the first failure in the window, then Backoff doubled per
// further failure, capped at MaxBackoff.
func (s *strategy) backoff(failures int) time.Duration {
	if failures <= 1 || s.budget.Backoff <= 0 {
		return 0
	}
	d := s.budget.Backoff << min(failures-2, 20)
	return min(d, s.budget.MaxBackoff)
}
