package shard

import (
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/supervision"
)

// TestTimersOfManyEntities: the entities of one shard share its timer
// heap; each gets only its own latest arming, in deadline order, and a
// stopped timer never fires.
func TestTimersOfManyEntities(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plans map[string][]timerPlan // per key, the armings in order
		want  []string               // the firings, in order
	}{
		{"in deadline order", map[string][]timerPlan{
			"a": {{after: 330 * time.Millisecond, msg: "a"}},
			"b": {{after: 30 * time.Millisecond, msg: "b"}},
			"c": {{after: 180 * time.Millisecond, msg: "c"}},
		}, []string{"b", "c", "a"}},
		{"re-armed earlier", map[string][]timerPlan{
			"a": {{after: 600 * time.Millisecond, msg: "a-late"}, {after: 30 * time.Millisecond, msg: "a"}},
			"b": {{after: 180 * time.Millisecond, msg: "b"}},
		}, []string{"a", "b"}},
		{"re-armed later", map[string][]timerPlan{
			"a": {{after: 30 * time.Millisecond, msg: "a-early"}, {after: 330 * time.Millisecond, msg: "a"}},
			"b": {{after: 180 * time.Millisecond, msg: "b"}},
		}, []string{"b", "a"}},
		{"stopped", map[string][]timerPlan{
			"a": {{after: 30 * time.Millisecond, msg: "a"}, {stop: true}},
			"b": {{after: 180 * time.Millisecond, msg: "b"}},
		}, []string{"b"}},
	} { // deadlines 150 ms apart from one base: firings due together reach their entities in any order
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 16)
			spec := Spec{Name: "timers", Log: zap.NewNop(), Shards: 1, New: func() Entity { return &planEntity{got: got} }}
			tree, err := Start(supervision.NewSystem(zap.NewNop()), zap.NewNop(), "top", 5*time.Second, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tree.Stop(); time.Sleep(100 * time.Millisecond) }()
			base := time.Now().Add(300 * time.Millisecond) // every request handled by then, however loaded the machine
			replies := make(chan answer, len(tc.plans))
			keys := make([]string, 0, len(tc.plans))
			for k := range tc.plans {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				tree.Routers["timers"].Send(k, &planReq{req: req{reply: replies}, base: base, plan: tc.plans[k]})
			}
			for range keys {
				wait(t, replies)
			}
			var fired []string
			for range tc.want {
				select {
				case m := <-got:
					fired = append(fired, m)
				case <-time.After(2 * time.Second):
					t.Fatalf("fired %v, want %v", fired, tc.want)
				}
			}
			select {
			case m := <-got:
				fired = append(fired, m)
			case <-time.After(400 * time.Millisecond):
			}
			if !slices.Equal(fired, tc.want) {
				t.Fatalf("fired %v, want %v", fired, tc.want)
			}
		})
	}
}

// timerPlan is one step of an entity's plan: arm its timer at the
// request's base + after, or stop it.
type timerPlan struct {
	after time.Duration
	msg   string
	stop  bool
}

type planReq struct {
	req
	base time.Time
	plan []timerPlan
}

// planEntity arms its timer as its request says, and reports what fires.
type planEntity struct{ got chan string }

func (e *planEntity) Empty() bool { return false }
func (e *planEntity) Busy() bool  { return false }
func (e *planEntity) Receive(c *Context, m any) {
	switch m := m.(type) {
	case *planReq:
		for _, p := range m.plan {
			if p.stop {
				c.StopTimer()
			} else {
				c.SetTimer(m.base.Add(p.after), p.msg)
			}
		}
		if m.Claim() {
			m.reply <- answer{n: m.n}
		}
	case string:
		e.got <- m
	}
}

// TestStoppedEntityLeavesNoTimer: an entity that stops with its timer
// armed takes it out of its shard's heap.
func TestStoppedEntityLeavesNoTimer(t *testing.T) {
	spec := Spec{Name: "timers", Log: zap.NewNop(), Shards: 1, Idle: 40 * time.Millisecond,
		New: func() Entity { return &planEntity{got: make(chan string, 1)} }}
	var tm *timers
	spec.ShardMiddleware = []actor.ReceiverMiddleware{func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			if s, ok := c.Actor().(*shard); ok && tm == nil {
				tm = s.timers
			}
			next(c, env)
		}
	}}
	m := NewMetrics(nil)
	spec.Metrics = m
	tree, err := Start(supervision.NewSystem(zap.NewNop()), zap.NewNop(), "top", 5*time.Second, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tree.Stop(); time.Sleep(100 * time.Millisecond) }()
	replies := make(chan answer, 1)
	tree.Routers["timers"].Send("k", &planReq{req: req{reply: replies}, base: time.Now(), plan: []timerPlan{{after: time.Hour, msg: "x"}}})
	wait(t, replies)
	deadline := time.Now().Add(5 * time.Second)
	for m.Live("timers") > 0 { // passivates after Idle
		if time.Now().After(deadline) {
			t.Fatal("entity never passivated")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // Stopped comes after the shard counts it
	tm.mu.Lock()
	n := len(tm.heap)
	tm.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d timers left in the heap of a shard without entities", n)
	}
}
