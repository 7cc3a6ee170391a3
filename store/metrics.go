package store

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics describes the group commits: how many writes each carries, how
// long each takes to commit (to the journal) and then to answer its
// writers, the writes waiting for a commit, and the writes refused with
// ErrBusy or failed by a commit; and the merges of the journal into the
// database: writes per merge, time per merge, failed merges, and the
// writes journaled but not merged yet. Everything is observed once per
// commit or merge (or once per refused or failed write), never on the path
// of a write that succeeds.
//
// Commits and writes need no counters of their own: they are the _count
// and _sum of b2bua_store_batch_writes (b2bua_store_merge_writes for
// merges).
type Metrics struct {
	batch   prometheus.Histogram
	commit  prometheus.Histogram
	notify  prometheus.Histogram
	refused prometheus.Counter
	failed  prometheus.Counter

	mergeWrites prometheus.Histogram
	merge       prometheus.Histogram
	mergeFailed prometheus.Counter

	// src is the store whose queue b2bua_store_queue_writes reads at
	// scrape time (nil: reports 0), set by SetMetrics.
	src atomic.Pointer[Bolt]
}

// commitBuckets are six per decade from 100 µs to 10 s (100 µs, 147 µs,
// 215 µs, … 1 ms, … 10 ms, …): a p99 read with histogram_quantile is off by
// at most a factor 1.47, where the doubling buckets used before could be off
// by 2, and 1, 10 and 100 ms are bucket bounds, so "commits under 10 ms" is
// exact. Commits past 1 s (a remap, a slow fsync) still get buckets of
// their own rather than only +Inf.
var commitBuckets = prometheus.ExponentialBucketsRange(100e-6, 10, 31)

// NewMetrics registers the store's metrics with reg (nil: not exported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "b2bua_store_batch_writes", Help: "Writes per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "b2bua_store_commit_seconds", Help: "Time to commit one batch.",
			Buckets: commitBuckets,
		}),
		notify: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "b2bua_store_notify_seconds",
			Help:    "Time from the end of a commit until every writer of its batch was answered.",
			Buckets: commitBuckets,
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "b2bua_store_busy_total", Help: "Writes refused because the queue was full (answered 503).",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "b2bua_store_write_errors_total", Help: "Writes that failed to commit (answered with an error).",
		}),
		mergeWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "b2bua_store_merge_writes", Help: "Writes per merge of the journal into the database.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		merge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "b2bua_store_merge_seconds", Help: "Time to merge one journal segment into the database.",
			Buckets: commitBuckets,
		}),
		mergeFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "b2bua_store_merge_errors_total", Help: "Merges of the journal that failed (retried).",
		}),
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "b2bua_store_queue_writes", Help: "Writes waiting for a commit, not counting the batch being committed.",
	}, m.queued)
	journal := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "b2bua_store_journal_writes", Help: "Writes committed to the journal and not yet merged into the database.",
	}, m.journaled)
	if reg != nil {
		reg.MustRegister(m.batch, m.commit, m.notify, m.refused, m.failed, queue,
			m.mergeWrites, m.merge, m.mergeFailed, journal)
	}
	return m
}

// queued reads the queue length at scrape time, so that writes pay nothing
// for the gauge and a commit that stalls shows the queue growing behind it.
func (m *Metrics) queued() float64 {
	if b := m.src.Load(); b != nil {
		return float64(len(b.ops))
	}
	return 0
}

// journaled reads the writes not merged yet at scrape time.
func (m *Metrics) journaled() float64 {
	if b := m.src.Load(); b != nil {
		return float64(b.journaled.Load())
	}
	return 0
}

// SetMetrics makes b report to m (nil: stop reporting).
func (b *Bolt) SetMetrics(m *Metrics) {
	if old := b.metrics.Swap(m); old != nil && old != m {
		old.src.CompareAndSwap(b, nil)
	}
	if m != nil {
		m.src.Store(b)
	}
}

func (b *Bolt) observe(writes int, took time.Duration) {
	if m := b.metrics.Load(); m != nil {
		m.batch.Observe(float64(writes))
		m.commit.Observe(took.Seconds())
	}
}

func (b *Bolt) observeNotify(took time.Duration) {
	if m := b.metrics.Load(); m != nil {
		m.notify.Observe(took.Seconds())
	}
}

func (b *Bolt) commitFailed(writes int) {
	if m := b.metrics.Load(); m != nil {
		m.failed.Add(float64(writes))
	}
}

func (b *Bolt) busy() {
	if m := b.metrics.Load(); m != nil {
		m.refused.Inc()
	}
}

func (b *Bolt) observeMerge(writes int, took time.Duration) {
	if m := b.metrics.Load(); m != nil {
		m.mergeWrites.Observe(float64(writes))
		m.merge.Observe(took.Seconds())
	}
}

func (b *Bolt) mergeFailed() {
	if m := b.metrics.Load(); m != nil {
		m.mergeFailed.Inc()
	}
}
