package call

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/dialog"
)

// What an idle call costs: N calls answered through the actor path (a
// port that answers at once, leg A's INVITE and ACK as the edge delivers
// them), then the live heap they hold, per call, once they sit idle. The
// edge's side (sipgo's transactions, the 2xx retransmission until ACK) is
// not in this figure; cmd/b2bua measures the whole server.

// idleCalls sets up n answered, ACKed calls and returns the live heap and
// goroutines per call; the calls are hung up (BYE from A) afterwards.
func idleCalls(t testing.TB, n int) (bytesPerCall, goroutinesPerCall float64) {
	_, bench := t.(*testing.B) // a benchmark's runner goroutine is alive: TestMain checks for leaks then
	h := startSup(t, supOptions{auto: map[sip.RequestMethod]int{sip.INVITE: 200, sip.BYE: 200}, quiet: true, noLeak: bench}, "10.0.0.1")
	h.port.forget = true
	ids := make([]dialog.ID, n) // what the test keeps: leg A's dialog id, to hang up
	before, g0 := liveHeap(), runtime.NumGoroutine()
	const window = 500 // calls being set up at once
	pending := make([]*supCall, 0, window)
	done := func() {
		for _, c := range pending {
			res := c.tx.result(t)
			if res.StatusCode != 200 {
				t.Fatalf("call %s: A got %d", c.callID, res.StatusCode)
			}
			c.aTag, _ = res.To().Params.Get("tag")
			i, _ := strconv.Atoi(c.callID[4:])
			ids[i] = c.idA()
			if err := h.dialogs.Send(&dialog.Request{ID: ids[i], Request: c.fromA(sip.ACK, 1)}); err != nil {
				t.Fatal(err)
			}
		}
		pending = pending[:0]
	}
	for i := range n {
		pending = append(pending, h.invite("idle"+strconv.Itoa(i)))
		if len(pending) == window {
			done()
		}
	}
	done()
	pending = nil
	supEventuallyFor(t, time.Minute, "every call resident", func() bool { return h.metrics.Live(Name) == n && h.dialogs.Len() == 2*n })
	time.Sleep(200 * time.Millisecond) // the last ACKs reach their legs
	after, g1 := liveHeap(), runtime.NumGoroutine()
	if path := os.Getenv("B2BUA_IDLE_HEAP"); path != "" { // go tool pprof -sample_index=inuse_space
		writeHeap(t, path)
	}
	bytesPerCall = float64(int64(after)-int64(before)) / float64(n)
	goroutinesPerCall = float64(g1-g0) / float64(n)

	cseq := uint32(2)
	for i, id := range ids {
		c := &supCall{h: h, callID: id.CallID, aTag: id.LocalTag}
		ch := make(chan *dialog.Reply, 1)
		if err := h.dialogs.Send(&dialog.Request{ID: id, Request: c.fromA(sip.BYE, cseq), Reply: func(r *dialog.Reply) { ch <- r }}); err != nil {
			t.Fatalf("BYE %d: %v", i, err)
		}
		<-ch
	}
	h.settled()
	return bytesPerCall, goroutinesPerCall
}

func writeHeap(t testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// idleCallsN is how many calls the memory test sets up: B2BUA_IDLE_CALLS,
// or 5,000.
func idleCallsN() int {
	if n, err := strconv.Atoi(os.Getenv("B2BUA_IDLE_CALLS")); err == nil && n > 0 {
		return n
	}
	return 5000
}

// TestIdleCallMemory holds the actor side of an idle call to its budget:
// 50,000 idle calls in under 1 GiB for the whole server leaves at most
// 20 KB per call, of which the call's actors take a small part (see
// README.md, Memory, for the figures).
func TestIdleCallMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sets up thousands of calls")
	}
	n := idleCallsN()
	perCall, gPerCall := idleCalls(t, n)
	t.Logf("%d idle calls: %.0f bytes/call of live heap, %.3f goroutines/call", n, perCall, gPerCall)
	if perCall > 10<<10 {
		t.Errorf("an idle call holds %.0f bytes of heap, want at most 10 KiB", perCall)
	}
	if gPerCall > 0.01 {
		t.Errorf("an idle call holds %.3f goroutines, want none", gPerCall)
	}
}

// BenchmarkIdleCalls reports the live heap per idle call (bytes/call) for
// B2BUA_IDLE_CALLS calls (default 5,000); b.N only repeats the
// measurement.
func BenchmarkIdleCalls(b *testing.B) {
	n := idleCallsN()
	var perCall, gPerCall float64
	for range b.N {
		perCall, gPerCall = idleCalls(b, n)
	}
	b.ReportMetric(perCall, "bytes/call")
	b.ReportMetric(gPerCall, "goroutines/call")
}
