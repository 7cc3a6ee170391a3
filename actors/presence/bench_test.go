package presence

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFanOut: one PUBLISH to a presentity with W watchers, until
// every watcher's NOTIFY reached the (in-process, answering) port: the
// actor side of fan-out, without the network. Reports NOTIFYs per second.
func BenchmarkFanOut(b *testing.B) {
	for _, w := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("watchers=%d", w), func(b *testing.B) {
			c := testConfig()
			c.Shards = 8 * runtime.GOMAXPROCS(0)
			h := run(b, openStore(b, b.TempDir()), c, nil)
			defer h.stop()
			h.port.forget = true
			const aor = "sip:star@example.com"
			for i := range w {
				if r, _ := h.subscribe(aor, fmt.Sprintf("sip:w%d@example.com", i), EventPresence, 3600); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
			waitSent(b, h, w)
			b.ResetTimer()
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				sent := len(h.port.sentSnapshot())
				h.publish(aor, "", 600, body(fmt.Sprintf("n%d", i)))
				waitSent(b, h, sent+w)
			}
			b.ReportMetric(float64(w*b.N)/time.Since(start).Seconds(), "notify/s")
		})
	}
}

func (p *port) sentSnapshot() []any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return make([]any, p.n)
}

func waitSent(b testing.TB, h *harness, n int) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.port.mu.Lock()
		got := h.port.n
		h.port.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d NOTIFYs sent, want %d", got, n)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// BenchmarkMemoryPerSubscription: heap per subscription of one presentity
// with 10,000 watchers, resident, and after the subscriptions passivated.
func BenchmarkMemoryPerSubscription(b *testing.B) {
	for b.Loop() {
		c := testConfig()
		c.Idle, c.SubscriptionIdle = 300*time.Millisecond, 300*time.Millisecond
		h := run(b, openStore(b, b.TempDir()), c, nil)
		h.port.forget = true
		const w = 10000
		before := heap()
		for i := range w {
			if r, _ := h.subscribe("sip:star@example.com", fmt.Sprintf("sip:w%d@example.com", i), EventPresence, 3600); r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		waitSent(b, h, w)
		resident := heap()
		time.Sleep(2 * time.Second)
		passivated := heap()
		b.ReportMetric(float64(resident-before)/w, "B/sub-resident")
		b.ReportMetric(float64(passivated-before)/w, "B/sub-passivated")
		h.stop()
	}
}

func heap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkPublish: the actor path of an initial PUBLISH for a new
// presentity each time (Kamailio's reference load), and of a modify of
// one publication, from the message to the answer after the commit.
func BenchmarkPublish(b *testing.B) {
	b.Run("new-presentity", func(b *testing.B) {
		c := testConfig()
		h := run(b, openStore(b, b.TempDir()), c, nil)
		defer h.stop()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			h.publishTx(&Publish{AOR: fmt.Sprintf("sip:u%d@example.com", i), Expires: 3600, Body: body("x"), CallID: "c", CSeq: 1, Branch: fmt.Sprint(i)})
		}
	})
	b.Run("new-presentity-parallel", func(b *testing.B) {
		c := testConfig()
		h := run(b, openStore(b, b.TempDir()), c, nil)
		defer h.stop()
		b.ReportAllocs()
		var n atomic.Int64
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				h.publishTx(&Publish{AOR: fmt.Sprintf("sip:u%d@example.com", i), Expires: 3600, Body: body("x"), CallID: "c", CSeq: 1, Branch: fmt.Sprint(i)})
			}
		})
	})
	b.Run("modify", func(b *testing.B) {
		c := testConfig()
		c.MaxPublishRate = 1e9
		h := run(b, openStore(b, b.TempDir()), c, nil)
		defer h.stop()
		etag := h.publish("sip:m@example.com", "", 3600, body("x")).ETag
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			r := h.publishTx(&Publish{AOR: "sip:m@example.com", ETag: etag, Expires: 3600, Body: body("y"), CallID: "c", CSeq: uint32(i + 1), Branch: fmt.Sprint(i)})
			etag = r.ETag
		}
	})
}

// BenchmarkMemoryPerPresentity: heap per presentity with one publication
// (Kamailio's reference load: a new presentity per PUBLISH), resident and
// after it passivated.
func BenchmarkMemoryPerPresentity(b *testing.B) {
	for b.Loop() {
		c := testConfig()
		c.Idle = 300 * time.Millisecond
		c.MaxPublishRate = 1e9
		h := run(b, openStore(b, b.TempDir()), c, nil)
		const n = 20000
		before := heap()
		var wg sync.WaitGroup
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < n; i += 32 {
					h.publishTx(&Publish{AOR: fmt.Sprintf("sip:u%d@example.com", i), Expires: 3600, Body: body("x"), CallID: "c", CSeq: 1, Branch: fmt.Sprint(i)})
				}
			}()
		}
		wg.Wait()
		resident := heap()
		time.Sleep(2 * time.Second)
		passivated := heap()
		b.ReportMetric(float64(resident-before)/n, "B/presentity-resident")
		b.ReportMetric(float64(passivated-before)/n, "B/presentity-passivated")
		h.stop()
	}
}
