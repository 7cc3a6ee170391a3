package registrar

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"
)

// BenchmarkRegister measures the actor path a REGISTER takes after the
// edge: router → shard → registration actor → group commit → reply.
// "new" spawns an actor per AOR; "refresh" re-registers existing ones.
func BenchmarkRegister(b *testing.B) {
	for _, mode := range []string{"new", "refresh"} {
		b.Run(mode, func(b *testing.B) {
			s := openStore(b, b.TempDir())
			defer s.Close()
			h := start(b, s, zap.NewNop(), DefaultConfig())
			defer h.stop()
			const inflight = 256
			sem := make(chan struct{}, inflight)
			done := func(*RegisterResult) { <-sem }
			users := 10000
			if mode == "refresh" {
				for i := range users {
					h.register(reg(AOR(fmt.Sprintf("sip:u%d@localhost", i)), "sip:x@127.0.0.1", 3600, "c", 1))
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				sem <- struct{}{}
				var r *Register
				if mode == "new" {
					r = reg(AOR(fmt.Sprintf("sip:n%d@localhost", i)), "sip:x@127.0.0.1", 3600, "c", 1)
				} else {
					r = reg(AOR(fmt.Sprintf("sip:u%d@localhost", i%users)), "sip:x@127.0.0.1", 3600, "c", uint32(2+i/users))
				}
				r.Reply = done
				h.router.Register(r)
			}
			for range inflight {
				sem <- struct{}{}
			}
		})
	}
}

// BenchmarkHeapPerRegistration registers b.N distinct AORs, one contact
// each, and reports the live heap they hold per AOR (actor, bindings, shard
// entry, registry entry). Run it at 100,000 AORs:
//
//	go test ./actors/registrar -run '^$' -bench HeapPerRegistration -benchtime 100000x
func BenchmarkHeapPerRegistration(b *testing.B) {
	s := openStore(b, b.TempDir())
	defer s.Close()
	h := start(b, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	before := liveHeap()
	b.ResetTimer()
	const batch = 512
	results := make(chan *RegisterResult, batch)
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		for j := range n {
			r := reg(AOR(fmt.Sprintf("sip:user%d@localhost", i+j)), fmt.Sprintf("sip:user%d@127.0.0.1:5060", i+j), 3600, fmt.Sprintf("%d-%d@127.0.0.1", i+j, i), 1)
			r.Reply = func(res *RegisterResult) { results <- res }
			h.router.Register(r)
		}
		for range n {
			if res := <-results; res.Err != nil {
				b.Fatal(res.Err)
			}
		}
	}
	b.StopTimer()
	time.Sleep(100 * time.Millisecond) // let idle messages and timers settle
	after := liveHeap()
	b.ReportMetric(float64(after-before)/float64(b.N), "heap-B/aor")
	runtime.KeepAlive(h)
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
