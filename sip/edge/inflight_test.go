package edge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
	"github.com/b2bua/b2bua/supervision"
)

// faultyRegistrar is the real registrar kind with faults injected by the
// user part of the AOR: "panic-…" panics once per REGISTER, "stall-…"
// takes longer than the edge's reply deadline, and "poison" panics every
// time, so its actor is stopped past its restart budget with requests
// still queued.
func faultyRegistrar(d actors.Deps) actors.Kind {
	spec := registrar.Spec(d.Log, d.Registrar, d.Store, d.Outbound, nil)
	spec.Budget = supervision.Budget{Max: 3, Window: 10 * time.Second}
	spec.EntityMiddleware = []actor.ReceiverMiddleware{func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			if r, ok := env.Message.(*registrar.Register); ok {
				switch user := strings.TrimPrefix(string(r.AOR), "sip:"); {
				case strings.HasPrefix(user, "panic-"), strings.HasPrefix(user, "poison@"):
					panic("injected")
				case strings.HasPrefix(user, "stall-"):
					time.Sleep(300 * time.Millisecond)
				}
			}
			next(c, env)
		}
	}}
	return actors.Kind{Spec: spec, Route: func(r *shard.Router, rs *actors.Routers) { rs.Registrar = registrar.NewRouter(r) }}
}

// TestInFlightNeverLeaks drives a kind whose actors panic, stall and stop
// past their budget: every request is answered exactly once, the in-flight
// count comes back to zero, and new requests are served.
func TestInFlightNeverLeaks(t *testing.T) {
	s := startServerOpts(t, options{
		kinds: []func(actors.Deps) actors.Kind{faultyRegistrar},
		edit:  func(c *edge.Config, _ *actors.System, _ *actors.Routers) { c.ReplyTimeout = 150 * time.Millisecond },
	})
	for _, network := range []string{"udp", "tcp"} {
		c := s.dial(t, network)
		var sent int
		send := func(user string) {
			id := fmt.Sprintf("%s-%s-%d", network, user, sent)
			req := strings.ReplaceAll(register(id), "sip:mal@localhost", "sip:"+user+"@localhost")
			req = strings.Replace(req, "SIP/2.0/UDP 127.0.0.1:5999", "SIP/2.0/"+strings.ToUpper(network)+" "+c.LocalAddr(), 1)
			if err := c.Send([]byte(req)); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		for i := range 4 {
			send(fmt.Sprintf("panic-%d", i))
			send(fmt.Sprintf("stall-%d", i))
			for range 3 {
				send("poison")
			}
		}
		codes := map[int]int{}
		for range sent {
			res, err := c.Read(3 * time.Second)
			if err != nil {
				t.Fatalf("%s: %d of %d answered: %v", network, len(codes), sent, err)
			}
			codes[siptest.Status(res)]++
		}
		for code := range codes {
			if code != 500 && code != 503 {
				t.Fatalf("%s: answers %v, want only 500 and 503", network, codes)
			}
		}
		if res, err := c.Read(500 * time.Millisecond); err == nil {
			t.Fatalf("%s: an answer too many:\n%s", network, res)
		}
		waitInFlight(t, s.edge, 0)
		// The server still serves.
		send("healthy")
		if res, err := c.Read(3 * time.Second); err != nil || siptest.Status(res) != 200 {
			t.Fatalf("%s: after the faults: %v\n%s", network, err, res)
		}
	}
}

func waitInFlight(t *testing.T, e *edge.Server, want int64) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for e.InFlight() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in flight, want %d", e.InFlight(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
