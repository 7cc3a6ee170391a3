package edge

import (
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
)

// sinkRecorder records when each datagram was handed over, since start.
type sinkRecorder struct {
	start time.Time
	mu    sync.Mutex
	at    []time.Duration
	last  []byte
}

func (r *sinkRecorder) send(buf *[]byte, _ net.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = append(r.at, time.Since(r.start))
	r.last = append(r.last[:0], *buf...)
}

func (r *sinkRecorder) times() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.at)
}

func secs(s ...float64) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, v := range s {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out
}

// TestUDPClientTimers checks the stateless path's RFC 3261 §17.1.2.2
// schedule on a fake clock, with the default T1 (500 ms), T2 (4 s) and
// Timer F (32 s): Timer E doubles from T1 to T2, a provisional makes every
// later Timer E T2, a final response stops retransmitting, and Timer F
// ends the request with ErrTimeout.
func TestUDPClientTimers(t *testing.T) {
	tests := []struct {
		name        string
		provisional time.Duration // 0: none
		final       time.Duration // 0: none
		sends       []time.Duration
		err         error
	}{
		{name: "silent", sends: secs(0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5), err: outbound.ErrTimeout},
		{name: "provisional", provisional: 200 * time.Millisecond,
			sends: secs(0, 0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5), err: outbound.ErrTimeout},
		{name: "answered", final: 2 * time.Second, sends: secs(0, 0.5, 1.5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
				got := make(chan any, 4)
				pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
					switch m := c.Message().(type) {
					case *outbound.Result, *outbound.Provisional:
						got <- m
					}
				}))
				released := 0
				sl := newUDPClient(32*time.Second, func() { released++ }, zap.NewNop(), NewMetrics(nil))
				rec := &sinkRecorder{start: time.Now()}
				req := testRequest()
				via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5060, Params: sip.NewParams()}
				if !sl.send(req, via, rec, &net.UDPAddr{}, sys.Root, pid, 7) {
					t.Fatal("not sent")
				}
				answer := func(at time.Duration, code int) {
					time.Sleep(at - time.Since(rec.start))
					res := sip.NewResponseFromRequest(req, code, "", nil)
					sl.response(res)
				}
				if tc.provisional > 0 {
					answer(tc.provisional, 100)
					if p, ok := (<-got).(*outbound.Provisional); !ok || p.ID != 7 {
						t.Fatalf("want the Provisional, got %+v", p)
					}
				}
				if tc.final > 0 {
					answer(tc.final, 200)
				}
				r := (<-got).(*outbound.Result)
				switch {
				case tc.err != nil && !errors.Is(r.Err, tc.err):
					t.Fatalf("got %+v, want %v", r, tc.err)
				case tc.err == nil && (r.Err != nil || r.Response.StatusCode != 200):
					t.Fatalf("got %+v, want the 200", r)
				case tc.err != nil && time.Since(rec.start) != 32*time.Second:
					t.Fatalf("Timer F after %v", time.Since(rec.start))
				}
				time.Sleep(time.Minute) // nothing more is sent
				if !slices.Equal(rec.times(), tc.sends) {
					t.Fatalf("sent at %v, want %v", rec.times(), tc.sends)
				}
				sl.close()
				if released != 1 || len(sl.pending) != 0 {
					t.Fatalf("released %d, %d pending", released, len(sl.pending))
				}
				_ = sys.Root.StopFuture(pid).Wait()
				sys.Shutdown()
			})
		})
	}
}
