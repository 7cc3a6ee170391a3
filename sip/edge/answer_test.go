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
)

// stallRouter is a registrar router whose one shard is a test actor that
// answers each Register after delay, or never when delay is 0.
func stallRouter(t testing.TB, sys *actors.System, name string, delay time.Duration) *registrar.Router {
	t.Helper()
	props := actor.PropsFromFunc(func(c actor.Context) {
		m, ok := c.Message().(*registrar.Register)
		if !ok || delay == 0 {
			return
		}
		time.AfterFunc(delay, func() { m.Reply(&registrar.RegisterResult{Now: time.Now()}) })
	})
	if _, err := sys.Actors.Root.SpawnNamed(props, name+"/0"); err != nil {
		t.Fatal(err)
	}
	return registrar.NewRouter(shard.NewRouter(sys.Actors, actor.NewPID(sys.Actors.Address(), name), 1))
}

// TestExactlyOneAnswer: when the actor does not reply within ReplyTimeout
// the edge answers 500 itself, on the stateless UDP path and on the
// transaction path alike; a reply that comes later is dropped, not sent;
// and the in-flight count goes back to zero either way.
func TestExactlyOneAnswer(t *testing.T) {
	const timeout = 150 * time.Millisecond
	for _, tc := range []struct {
		name  string
		delay time.Duration // 0: never
	}{
		{"never", 0},
		{"late", 2 * timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServerOpts(t, options{edit: func(c *edge.Config, sys *actors.System, r *actors.Routers) {
				c.ReplyTimeout = timeout
				r.Registrar = stallRouter(t, sys, "stall-"+tc.name, tc.delay)
			}})
			for _, network := range []string{"udp", "tcp"} {
				c := s.dial(t, network)
				for i := range 5 {
					id := fmt.Sprintf("%s-%s-%d", tc.name, network, i)
					req := strings.Replace(register(id), "SIP/2.0/UDP 127.0.0.1:5999", "SIP/2.0/"+strings.ToUpper(network)+" "+c.LocalAddr(), 1)
					if err := c.Send([]byte(req)); err != nil {
						t.Fatal(err)
					}
				}
				for i := range 5 {
					res, err := c.Read(10 * timeout)
					if err != nil || siptest.Status(res) != 500 || !strings.Contains(res, "Server Timeout") {
						t.Fatalf("%s answer %d: %v\n%s", network, i, err, res)
					}
				}
				if res, err := c.Read(3 * timeout); err == nil {
					t.Fatalf("%s: a second answer was sent:\n%s", network, res)
				}
				if n := s.edge.InFlight(); n != 0 {
					t.Fatalf("%s: %d requests still in flight", network, n)
				}
			}
		})
	}
}
