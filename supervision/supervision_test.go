package supervision

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBackoff(t *testing.T) {
	s := &strategy{budget: DefaultBudget}
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, 0}, {2, 10 * time.Millisecond}, {3, 20 * time.Millisecond}, {4, 40 * time.Millisecond},
		{8, 640 * time.Millisecond}, {9, time.Second}, {50, time.Second},
	}
	for _, tc := range tests {
		if got := s.backoff(tc.failures); got != tc.want {
			t.Errorf("backoff(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

func TestDeciders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		decide Decider
		want   actor.Directive
	}{
		{"restart", RestartOnPanic, actor.RestartDirective},
		{"stop", StopOnPanic, actor.StopDirective},
		{"escalate", EscalateOnPanic, actor.EscalateDirective},
	} {
		if got := tc.decide("boom"); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// crasher panics on "crash" and counts its starts in a channel.
type crasher struct{ starts chan struct{} }

func (c *crasher) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		c.starts <- struct{}{}
	case string:
		panic("crash")
	}
}

// TestGuardianRestartsItsChildren spawns a child under the guardian, makes
// it panic past the budget and checks it was restarted, then stopped.
func TestGuardianRestartsItsChildren(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	log := zap.New(core)
	sys := NewSystem(log)
	starts := make(chan struct{}, 64)
	props := actor.PropsFromProducer(func() actor.Actor { return &crasher{starts: starts} })
	top, err := sys.Root.SpawnNamed(Guardian(log, []Child{{Name: "c", Props: props, Decider: RestartOnPanic}}), "g")
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitStarted(sys, top, time.Second); err != nil {
		t.Fatal(err)
	}
	<-starts
	child := actor.NewPID(sys.Address(), "g/c")
	sys.Root.Send(child, "crash")
	select {
	case <-starts:
	case <-time.After(2 * time.Second):
		t.Fatal("child not restarted")
	}
	if logs.FilterMessage("actor failed, restarting").Len() != 1 {
		t.Fatalf("restart not logged: %v", logs.All())
	}
	if err := Stop(sys, top); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
}
