package store_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/store"
)

// storeSeries are the series NewMetrics exports, none labelled.
var storeSeries = []string{
	"b2bua_store_batch_writes", "b2bua_store_commit_seconds", "b2bua_store_notify_seconds",
	"b2bua_store_busy_total", "b2bua_store_write_errors_total", "b2bua_store_queue_writes",
	"b2bua_store_merge_writes", "b2bua_store_merge_seconds", "b2bua_store_merge_errors_total",
	"b2bua_store_journal_writes",
}

// TestMetricsMoveWithCommits writes through a store reporting to a fresh
// registry and checks that every series is there and that the histograms
// count each commit once and each write once.
func TestMetricsMoveWithCommits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes int
		bad    int // writes bbolt refuses (empty bucket name)
	}{
		{name: "one write", writes: 1},
		{name: "300 concurrent writes", writes: 300},
		{name: "one bad write among 50", writes: 50, bad: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			b, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(t.TempDir(), "db")}, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			b.SetMetrics(store.NewMetrics(reg))
			if n := testutil.CollectAndCount(reg, storeSeries...); n != len(storeSeries) {
				t.Fatalf("%d series before any write, want %d", n, len(storeSeries))
			}
			var wg sync.WaitGroup
			for i := range tc.writes {
				kind := store.Kind("k")
				if i < tc.bad {
					kind = ""
				}
				wg.Add(1)
				b.Save(kind, fmt.Sprint(i), []byte("v"), func(error) { wg.Done() })
			}
			wg.Wait()
			if err := b.Close(); err != nil { // waits for the notifiers: every observation is in
				t.Fatal(err)
			}
			batch := histogram(t, reg, "b2bua_store_batch_writes")
			commits := batch.GetSampleCount()
			if got := batch.GetSampleSum(); got != float64(tc.writes) {
				t.Errorf("batch_writes sum %v, want %d (every write in one batch)", got, tc.writes)
			}
			if commits < 1 || commits > uint64(tc.writes) {
				t.Errorf("%d commits for %d writes", commits, tc.writes)
			}
			commit := histogram(t, reg, "b2bua_store_commit_seconds")
			if commit.GetSampleCount() != commits || commit.GetSampleSum() <= 0 {
				t.Errorf("commit_seconds: %d samples, sum %v; want %d samples, sum > 0",
					commit.GetSampleCount(), commit.GetSampleSum(), commits)
			}
			if n := histogram(t, reg, "b2bua_store_notify_seconds").GetSampleCount(); n != commits {
				t.Errorf("notify_seconds: %d samples, want one per commit (%d)", n, commits)
			}
			if got := counter(t, reg, "b2bua_store_write_errors_total"); got != float64(tc.bad) {
				t.Errorf("write_errors_total %v, want %d", got, tc.bad)
			}
			if got := counter(t, reg, "b2bua_store_busy_total"); got != 0 {
				t.Errorf("busy_total %v with a queue that never filled", got)
			}
			// Close merged every journaled write, in merges of their own.
			merges := histogram(t, reg, "b2bua_store_merge_writes")
			if got := merges.GetSampleSum(); got != float64(tc.writes-tc.bad) {
				t.Errorf("merge_writes sum %v, want the %d writes journaled", got, tc.writes-tc.bad)
			}
			if n := histogram(t, reg, "b2bua_store_merge_seconds").GetSampleCount(); n != merges.GetSampleCount() || n < 1 {
				t.Errorf("merge_seconds: %d samples for %d merges", n, merges.GetSampleCount())
			}
			if got := metric(t, reg, "b2bua_store_journal_writes").GetGauge().GetValue(); got != 0 {
				t.Errorf("journal_writes %v after Close merged everything", got)
			}
			if got := counter(t, reg, "b2bua_store_merge_errors_total"); got != 0 {
				t.Errorf("merge_errors_total %v", got)
			}
		})
	}
}

// TestMetricsCountRefusals: writes refused by a full queue are counted.
func TestMetricsCountRefusals(t *testing.T) {
	reg := prometheus.NewRegistry()
	b, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(t.TempDir(), "db"), Queue: 1, MaxBatch: 1}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	b.SetMetrics(store.NewMetrics(reg))
	var wg sync.WaitGroup
	refused := 0
	for i := range 2000 {
		wg.Add(1)
		b.Save("k", fmt.Sprint(i), []byte("v"), func(err error) {
			if err == store.ErrBusy {
				refused++ // synchronous: on this goroutine, before Save returns
			}
			wg.Done()
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if refused == 0 {
		t.Fatal("2000 writes into a queue of one: none refused")
	}
	if got := counter(t, reg, "b2bua_store_busy_total"); got != float64(refused) {
		t.Fatalf("busy_total %v, want %d", got, refused)
	}
}

// histogram returns the one histogram called name in reg.
func histogram(t *testing.T, reg prometheus.Gatherer, name string) *dto.Histogram {
	t.Helper()
	return metric(t, reg, name).GetHistogram()
}

func counter(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	return metric(t, reg, name).GetCounter().GetValue()
}

func metric(t *testing.T, reg prometheus.Gatherer, name string) *dto.Metric {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0]
		}
	}
	t.Fatalf("no series %s", name)
	return nil
}
