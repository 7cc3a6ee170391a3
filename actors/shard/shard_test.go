package shard

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/supervision"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// req is a test request; the test entity answers it with its own number
// and the incarnation that handled it.
type req struct {
	Envelope
	n     int
	stall chan struct{} // wait for it before handling
	boom  bool          // panic while handling
	reply chan answer
}

type answer struct {
	n   int
	gen uint64
	err error
}

func (r *req) Fail(err error) {
	if r.Claim() {
		r.reply <- answer{n: r.n, err: err}
	}
}

// counter holds nothing unless told to: Empty after every message, so
// the shard stops it and spawns a new incarnation all the time.
type counter struct{ keep bool }

func (c *counter) Empty() bool { return !c.keep }
func (c *counter) Busy() bool  { return false }
func (c *counter) Receive(ctx *Context, msg any) {
	r, ok := msg.(*req)
	if !ok {
		return
	}
	if r.stall != nil {
		<-r.stall
	}
	if r.boom {
		panic("boom")
	}
	if r.Claim() {
		r.reply <- answer{n: r.n, gen: ctx.gen}
	}
}

type shardPoison struct{}

func startTest(t *testing.T, decide supervision.Decider) (*Tree, *Router) {
	t.Helper()
	spec := Spec{Name: "test", Log: zap.NewNop(), New: func() Entity { return &counter{} }, Shards: 4, Decider: decide,
		ShardMiddleware: []actor.ReceiverMiddleware{func(next actor.ReceiverFunc) actor.ReceiverFunc {
			return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
				if _, ok := env.Message.(*shardPoison); ok {
					panic("poisoned shard")
				}
				next(c, env)
			}
		}}}
	tree, err := Start(supervision.NewSystem(zap.NewNop()), zap.NewNop(), "top", 5*time.Second, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tree.Stop()
		time.Sleep(100 * time.Millisecond) // dead-letter throttle
	})
	return tree, tree.Routers["test"]
}

func wait(t *testing.T, ch chan answer) answer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
		return answer{}
	}
}

// TestOrderAcrossIncarnations: the entity stops after every message, and
// messages for its key keep arriving: each is handled, in order, although
// many go to a new incarnation whose predecessor may still be stopping.
func TestOrderAcrossIncarnations(t *testing.T) {
	_, r := startTest(t, nil)
	const n = 2000
	replies := make(chan answer, n)
	for i := range n {
		r.Send("sip:alice@localhost", &req{n: i, reply: replies})
	}
	gens := map[uint64]bool{}
	for i := range n {
		a := wait(t, replies)
		if a.err != nil || a.n != i {
			t.Fatalf("answer %d = %+v, want %d in order", i, a, i)
		}
		gens[a.gen] = true
	}
	if len(gens) < 2 {
		t.Logf("only %d incarnation(s): the test did not exercise a handover", len(gens))
	}
}

// TestEveryRequestIsAnsweredOnce: a request whose handling panics gets
// ErrInternal; the requests queued behind it when its actor is stopped get
// ErrUnavailable; none is left unanswered.
func TestEveryRequestIsAnsweredOnce(t *testing.T) {
	_, r := startTest(t, supervision.StopOnPanic)
	stall := make(chan struct{})
	replies := make(chan answer, 10)
	r.Send("k", &req{n: 0, stall: stall, boom: true, reply: replies})
	for i := 1; i < 5; i++ {
		r.Send("k", &req{n: i, reply: replies})
	}
	time.Sleep(50 * time.Millisecond) // all queued behind the stalled one
	close(stall)
	got := map[int]error{}
	for range 5 {
		a := wait(t, replies)
		got[a.n] = a.err
	}
	if !errors.Is(got[0], ErrInternal) {
		t.Fatalf("panicking request answered %v, want ErrInternal", got[0])
	}
	for i := 1; i < 5; i++ {
		if err, ok := got[i]; !ok || (err != nil && !errors.Is(err, ErrUnavailable)) {
			t.Fatalf("queued request %d answered %v (present %v)", i, err, ok)
		}
	}
	select {
	case a := <-replies:
		t.Fatalf("answered twice: %+v", a)
	case <-time.After(100 * time.Millisecond):
	}
	// The key is served again by a fresh incarnation.
	r.Send("k", &req{n: 9, reply: replies})
	if a := wait(t, replies); a.err != nil || a.n != 9 {
		t.Fatalf("after the stop: %+v", a)
	}
}

// TestShardStoppedPastBudgetIsRespawned: the router addresses shards by
// name; a shard stopped past its restart budget is spawned again, so its
// share of the keys is still served.
func TestShardStoppedPastBudgetIsRespawned(t *testing.T) {
	tree, r := startTest(t, nil)
	key := ""
	for i := 0; ; i++ {
		if key = fmt.Sprintf("k%d", i); Of(key, 4) == 0 {
			break
		}
	}
	shard0 := actor.NewPID(tree.System.Address(), "top/test/0")
	for range supervision.DefaultBudget.Max + 2 {
		tree.System.Root.Send(shard0, &shardPoison{})
	}
	replies := make(chan answer, 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.Send(key, &req{n: 1, reply: replies})
		a := wait(t, replies)
		if a.err == nil {
			return
		}
		if !errors.Is(a.err, ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("shard 0 not served again: %v", a.err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStaleTimerIgnored: a timer reset before it fired delivers only the
// latest message; the earlier firing is dropped (each arming is its own
// message).
func TestStaleTimerIgnored(t *testing.T) {
	got := make(chan any, 4)
	spec := Spec{Name: "timers", Log: zap.NewNop(), Shards: 1, New: func() Entity { return &timerEntity{got: got} }}
	tree, err := Start(supervision.NewSystem(zap.NewNop()), zap.NewNop(), "top", 5*time.Second, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tree.Stop(); time.Sleep(100 * time.Millisecond) }()
	replies := make(chan answer, 1)
	tree.Routers["timers"].Send("k", &req{n: 1, reply: replies})
	wait(t, replies)
	select {
	case m := <-got:
		if m != "second" {
			t.Fatalf("timer delivered %v, want only the second", m)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no timer fired")
	}
	select {
	case m := <-got:
		t.Fatalf("a stale timer fired too: %v", m)
	case <-time.After(200 * time.Millisecond):
	}
}

// timerEntity arms a timer, then re-arms it at once with another message.
type timerEntity struct{ got chan any }

func (e *timerEntity) Empty() bool { return false }
func (e *timerEntity) Busy() bool  { return false }
func (e *timerEntity) Receive(c *Context, m any) {
	switch m := m.(type) {
	case *req:
		c.SetTimer(time.Now().Add(10*time.Millisecond), "first")
		c.SetTimer(time.Now().Add(50*time.Millisecond), "second")
		if m.Claim() {
			m.reply <- answer{n: m.n}
		}
	case string:
		e.got <- m
	}
}

func TestParseName(t *testing.T) {
	for _, tc := range []struct{ key string }{{"sip:alice@localhost"}, {"a$b/c"}, {""}} {
		id := "top/kind/3/" + entityName(tc.key, 77)
		if k, g := parseName(id, "top/kind/3"); k != tc.key || g != 77 {
			t.Fatalf("parseName(%q) = %q, %d", id, k, g)
		}
	}
}

// TestRestartedEmptyEntityStops: an entity that panics restarts as a fresh
// instance; when that instance holds nothing it stops, as any empty
// entity does, without waiting for another message for its key (a kind
// that never passivates, calls, would otherwise keep it forever).
func TestRestartedEmptyEntityStops(t *testing.T) {
	m := NewMetrics(nil)
	spec := Spec{Name: "test", Log: zap.NewNop(), New: func() Entity { return &counter{} }, Shards: 1, Metrics: m}
	tree, err := Start(supervision.NewSystem(zap.NewNop()), zap.NewNop(), "top", 5*time.Second, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tree.Stop(); time.Sleep(100 * time.Millisecond) }()
	r := tree.Routers["test"]
	replies := make(chan answer, 1)
	r.Send("k", &req{n: 1, reply: replies, boom: true})
	if a := wait(t, replies); !errors.Is(a.err, ErrInternal) {
		t.Fatalf("panicking request answered %v, want ErrInternal", a.err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resident, err := r.Resident("k", time.Second)
		if err == nil && !resident && m.Live("test") == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted, empty entity is still resident (%d live)", m.Live("test"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
