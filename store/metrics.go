package store

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics describes the group commits: how many writes each carries and
// how long each takes, and the writes refused with ErrBusy.
type Metrics struct {
	batch   prometheus.Histogram
	commit  prometheus.Histogram
	refused prometheus.Counter
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
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "b2bua_store_busy_total", Help: "Writes refused because the queue was full (answered 503).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.batch, m.commit, m.refused)
	}
	return m
}

// SetMetrics makes b report to m (nil: stop reporting).
func (b *Bolt) SetMetrics(m *Metrics) { b.metrics.Store(m) }

func (b *Bolt) observe(writes int, took time.Duration) {
	if m := b.metrics.Load(); m != nil {
		m.batch.Observe(float64(writes))
		m.commit.Observe(took.Seconds())
	}
}

func (b *Bolt) busy() {
	if m := b.metrics.Load(); m != nil {
		m.refused.Inc()
	}
}
