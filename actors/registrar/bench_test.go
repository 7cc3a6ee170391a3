package registrar

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/supervision"
)

// BenchmarkRegister measures the actor path a REGISTER takes after the
// edge: router → shard → registration actor → group commit (bbolt) →
// reply, on the kind as the server builds it (no test middleware). "new"
// spawns an actor per AOR; "refresh" re-registers resident ones;
// "refresh-passivated" re-registers AORs that passivated in between (idle
// time 10 ms), so each refresh spawns an actor and reads the store: the
// cost of passivation on a refresh. The requests are built before the
// timer starts, so allocs/op and B/op are the server's alone.
//
//	go test ./actors/registrar -run '^$' -bench 'Register$' -benchtime 20000x -count 3 -benchmem
func BenchmarkRegister(b *testing.B) {
	for _, mode := range []string{"new", "refresh", "refresh-passivated"} {
		b.Run(mode, func(b *testing.B) {
			s := openStore(b, b.TempDir())
			defer s.Close()
			c := DefaultConfig()
			if mode == "refresh-passivated" {
				c.Idle = 10 * time.Millisecond
			}
			h := startPlain(b, s, c, nil)
			defer h.stop()
			const inflight = 256
			sem := make(chan struct{}, inflight)
			done := func(*RegisterResult) { <-sem }
			users := 10000
			if mode != "new" {
				for i := range users {
					h.register(reg(AOR(fmt.Sprintf("sip:u%d@localhost", i)), "sip:x@127.0.0.1", 3600, "c", 1))
				}
			}
			rs := make([]*Register, b.N)
			for i := range rs {
				if mode == "new" {
					rs[i] = reg(AOR(fmt.Sprintf("sip:n%d@localhost", i)), "sip:x@127.0.0.1", 3600, "c", 1)
				} else {
					rs[i] = reg(AOR(fmt.Sprintf("sip:u%d@localhost", i%users)), "sip:x@127.0.0.1", 3600, "c", uint32(2+i/users))
				}
				rs[i].Reply = done
			}
			b.ReportAllocs()
			b.ResetTimer()
			for _, r := range rs {
				sem <- struct{}{}
				h.router.Register(r)
			}
			for range inflight {
				sem <- struct{}{}
			}
		})
	}
}

// BenchmarkResidentHeap registers b.N new AORs, one contact each, and
// reports the live heap (bytes, and objects: what the collector marks)
// each costs while its registration actor is resident (the default idle time of 30 s: at 5,000 new AORs a
// second, 150,000 stay resident), the bbolt store's heap included.
//
//	go test ./actors/registrar -run '^$' -bench ResidentHeap -benchtime 20000x -count 3
func BenchmarkResidentHeap(b *testing.B) {
	s := openStore(b, b.TempDir())
	defer s.Close()
	m := shard.NewMetrics(nil)
	h := startPlain(b, s, DefaultConfig(), m)
	defer h.stop()
	// Measured from before the requests exist to after they are gone: what
	// stays is what the AORs keep (their strings included).
	heap0, objects0 := liveHeapObjects()
	b.ResetTimer()
	rs := make([]*Register, b.N)
	results := make(chan *RegisterResult, 512)
	for i := range rs {
		rs[i] = reg(AOR(fmt.Sprintf("sip:user%d@localhost", i)), fmt.Sprintf("sip:user%d@127.0.0.1:5060", i), 3600, fmt.Sprintf("%d@127.0.0.1", i), 1)
		rs[i].Reply = func(res *RegisterResult) { results <- res }
	}
	for i := 0; i < len(rs); i += 512 {
		batch := rs[i:min(i+512, len(rs))]
		for _, r := range batch {
			h.router.Register(r)
		}
		for range batch {
			if res := <-results; res.Err != nil {
				b.Fatal(res.Err)
			}
		}
	}
	b.StopTimer()
	rs = nil
	heap1, objects1 := liveHeapObjects()
	if live := m.Live(Name); live != b.N {
		b.Fatalf("%d registration actors resident, want %d", live, b.N)
	}
	b.ReportMetric(float64(heap1-heap0)/float64(b.N), "heap-B/aor")
	// What the collector marks: objects, not bytes.
	b.ReportMetric(float64(objects1-objects0)/float64(b.N), "objects/aor")
	writeHeapProfile()
}

// writeHeapProfile writes a heap profile to $HEAPPROFILE, when set.
func writeHeapProfile() {
	if path := os.Getenv("HEAPPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.WriteHeapProfile(f)
			_ = f.Close()
		}
	}
}

// startPlain starts the registrar kind as the server does: without the
// tests' fault-injecting middleware, which wraps every message.
func startPlain(b *testing.B, s store.Store, c Config, m *shard.Metrics) *harness {
	b.Helper()
	sys := supervision.NewSystem(zap.NewNop())
	tree, err := shard.Start(sys, zap.NewNop(), "b2bua", 5*time.Second, Spec(zap.NewNop(), c, s, nil, m))
	if err != nil {
		b.Fatal(err)
	}
	r := tree.Routers[Name]
	return &harness{t: b, sys: sys, tree: tree, shards: r, router: NewRouter(r), conf: c}
}

// BenchmarkMemoryPerAOR registers b.N distinct AORs with one contact
// each through the actor path and a real bbolt store, lets them passivate
// (idle time 1 s), and reports the heap and the RSS each AOR costs, the
// store's mapped pages included; then it restarts the registrar on the
// same store and reports how long until it serves again. Run it at
// 1,000,000 AORs:
//
//	go test ./actors/registrar -run '^$' -bench MemoryPerAOR -benchtime 1000000x -timeout 30m
func BenchmarkMemoryPerAOR(b *testing.B) {
	dir := b.TempDir()
	s := openStore(b, dir)
	c := DefaultConfig()
	c.Idle = time.Second
	heap0, rss0 := liveHeap(), rss()
	m := shard.NewMetrics(nil)
	h := startWith(b, s, zap.NewNop(), c, m)
	b.ResetTimer()
	registerMany(b, h, b.N)
	b.StopTimer()
	// Wait until every AOR passivated: the idle scan runs every Idle/4.
	for m.Live(Name) > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	heap1 := liveHeap()
	// Memory freed by the passivated actors goes back to the kernel over
	// minutes (the runtime's scavenger); measure the state it converges to.
	debug.FreeOSMemory()
	rss1 := rss()
	writeHeapProfile()
	b.ReportMetric(float64(heap1-heap0)/float64(b.N), "heap-B/aor")
	b.ReportMetric(float64(rss1-rss0)/float64(b.N), "rss-B/aor")
	h.stop()
	_ = s.Close()

	if fi, err := os.Stat(filepath.Join(dir, "b2bua.db")); err == nil {
		b.ReportMetric(float64(fi.Size())/float64(b.N), "file-B/aor")
	}

	// A restart reads every key and deadline back in one scan (which maps
	// every page of the file) and serves again without spawning an actor.
	runtime.GC()
	debug.FreeOSMemory()
	rss2 := rss()
	t0 := time.Now()
	s = openStore(b, dir)
	h = start(b, s, zap.NewNop(), c)
	b.ReportMetric(time.Since(t0).Seconds(), "restart-s")
	runtime.GC()
	debug.FreeOSMemory()
	b.ReportMetric(float64(rss()-rss2)/float64(b.N), "restart-rss-B/aor")
	if got := h.lookup(AOR(fmt.Sprintf("sip:user%d@localhost", b.N/2))); len(got) != 1 {
		b.Fatalf("after restart: %+v", got)
	}
	h.stop()
	_ = s.Close()
}

func registerMany(b *testing.B, h *harness, n int) {
	const batch = 512
	results := make(chan *RegisterResult, batch)
	for i := 0; i < n; i += batch {
		m := min(batch, n-i)
		for j := range m {
			r := reg(AOR(fmt.Sprintf("sip:user%d@localhost", i+j)), fmt.Sprintf("sip:user%d@127.0.0.1:5060", i+j), 3600, fmt.Sprintf("%d-%d@127.0.0.1", i+j, i), 1)
			r.Reply = func(res *RegisterResult) { results <- res }
			h.router.Register(r)
		}
		for range m {
			if res := <-results; res.Err != nil {
				b.Fatal(res.Err)
			}
		}
	}
}

// rss is the process's resident set in bytes (Linux).
func rss() uint64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res uint64
	if _, err := fmt.Sscan(string(raw), &size, &res); err != nil {
		return 0
	}
	return res * uint64(os.Getpagesize())
}

func liveHeap() uint64 {
	h, _ := liveHeapObjects()
	return h
}

// liveHeapObjects is the live heap after a collection: bytes and objects.
func liveHeapObjects() (uint64, uint64) {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.HeapObjects
}
