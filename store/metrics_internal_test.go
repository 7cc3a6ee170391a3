package store

import (
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
)

// TestQueueGaugeShowsAStalledCommit stalls the writer in a commit, and checks that b2bua_store_queue_writes shows
// the writes queued behind it, then drops back to zero.
func TestQueueGaugeShowsAStalledCommit(t *testing.T) {
	b, err := OpenBolt(BoltConfig{Path: filepath.Join(t.TempDir(), "db")}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m := NewMetrics(prometheus.NewRegistry())
	b.SetMetrics(m)
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "q", Help: "q"}, m.queued)

	held, release := stall(b)
	done := make(chan error, 4)
	b.Save("k", "first", []byte("v"), func(err error) { done <- err })
	<-held // the writer has it in hand
	for _, k := range []string{"a", "b", "c"} {
		b.Save("k", k, []byte("v"), func(err error) { done <- err })
	}
	if got := testutil.ToFloat64(queue); got != 3 {
		t.Fatalf("queue_writes %v behind a stalled commit, want 3", got)
	}
	close(release)
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(queue); got != 0 {
		t.Fatalf("queue_writes %v after every write committed, want 0", got)
	}
	b.SetMetrics(nil)
	if m.src.Load() != nil {
		t.Fatal("SetMetrics(nil) left the metrics reading this store's queue")
	}
}
