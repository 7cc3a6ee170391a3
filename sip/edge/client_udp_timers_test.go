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

// windowRig is a udpClient with a small send window in a synctest
// bubble, whose results an actor collects.
type windowRig struct {
	sl  *udpClient
	sys *actor.ActorSystem
	pid *actor.PID
	got chan *outbound.Result
	rec *callRecorder
}

func newWindowRig(timeout time.Duration, window int) *windowRig {
	r := &windowRig{got: make(chan *outbound.Result, 8), rec: &callRecorder{start: time.Now()}}
	r.sys = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	r.pid = r.sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(*outbound.Result); ok {
			r.got <- m
		}
	}))
	r.sl = newUDPClient(timeout, func() {}, zap.NewNop(), NewMetrics(nil))
	r.sl.window = window
	return r
}

// send sends a request with Call-ID callID and returns it.
func (r *windowRig) send(t *testing.T, callID string, id uint64) *sip.Request {
	req := testRequest()
	*req.CallID() = sip.CallIDHeader(callID)
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5060, Params: sip.NewParams()}
	if !r.sl.send(req, via, r.rec, &net.UDPAddr{}, r.sys.Root, r.pid, id) {
		t.Fatal("not sent")
	}
	return req
}

// stop stops the actor (close r.sl first, and read what it delivers).
func (r *windowRig) stop() {
	_ = r.sys.Root.StopFuture(r.pid).Wait()
	r.sys.Shutdown()
}

// callRecorder records, per Call-ID, when each copy was handed over.
type callRecorder struct {
	start time.Time
	mu    sync.Mutex
	at    map[string][]time.Duration
}

func (r *callRecorder) send(buf *[]byte, _ net.Addr) {
	msg, err := sip.NewParser().ParseSIP(*buf)
	bufPool.Put(buf)
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[string][]time.Duration{}
	}
	id := msg.CallID().Value()
	r.at[id] = append(r.at[id], time.Since(r.start))
}

func (r *callRecorder) times(callID string) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.at[callID])
}

// TestUDPClientWindow: past the send window requests wait, in order, and
// go out when an answer comes or an earlier request's first Timer E
// fires; one whose Timer F passes while it waits ends with ErrTimeout
// unsent, and Close ends the waiting ones too.
func TestUDPClientWindow(t *testing.T) {
	t.Run("answer makes room", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newWindowRig(32*time.Second, 2)
			first := r.send(t, "a", 1)
			r.send(t, "b", 2)
			r.send(t, "c", 3)
			synctest.Wait()
			if got := r.rec.times("c"); len(got) != 0 {
				t.Fatalf("c sent at %v past a full window", got)
			}
			time.Sleep(100 * time.Millisecond)
			r.sl.response(sip.NewResponseFromRequest(first, 200, "OK", nil))
			if res := <-r.got; res.ID != 1 || res.Err != nil {
				t.Fatalf("got %+v", res)
			}
			synctest.Wait()
			if got := r.rec.times("c"); !slices.Equal(got, secs(0.1)) {
				t.Fatalf("c sent at %v, want when a was answered", got)
			}
			r.sl.close()
			for range 2 {
				if res := <-r.got; !errors.Is(res.Err, outbound.ErrUnavailable) {
					t.Fatalf("got %+v", res)
				}
			}
			r.stop()
		})
	})
	t.Run("first Timer E makes room", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newWindowRig(32*time.Second, 1)
			r.send(t, "a", 1)
			r.send(t, "b", 2)
			r.send(t, "c", 3)
			time.Sleep(1900 * time.Millisecond) // before b's next copy, at 2 s
			for _, c := range []struct {
				id   string
				want []time.Duration
			}{{"a", secs(0, 0.5, 1.5)}, {"b", secs(0.5, 1)}, {"c", secs(1, 1.5)}} {
				if got := r.rec.times(c.id); !slices.Equal(got, c.want) {
					t.Fatalf("%s sent at %v, want %v", c.id, got, c.want)
				}
			}
			r.sl.close()
			for range 3 {
				if res := <-r.got; !errors.Is(res.Err, outbound.ErrUnavailable) {
					t.Fatalf("got %+v", res)
				}
			}
			r.stop()
		})
	})
	t.Run("Timer F while waiting", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newWindowRig(300*time.Millisecond, 1) // Timer F before the first Timer E
			r.send(t, "a", 1)
			r.send(t, "b", 2)
			for id := uint64(1); id <= 2; id++ {
				if res := <-r.got; res.ID != id || !errors.Is(res.Err, outbound.ErrTimeout) || time.Since(r.rec.start) != 300*time.Millisecond {
					t.Fatalf("got %+v after %v", res, time.Since(r.rec.start))
				}
			}
			if got := r.rec.times("b"); len(got) != 0 {
				t.Fatalf("b sent at %v after its Timer F", got)
			}
			r.sl.close()
			r.stop()
		})
	})
}
