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

// NewMetrics registers the store's metrics with reg (nil: not exported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "b2bua_store_batch_writes", Help: "Writes per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "b2bua_store_commit_seconds", Help: "Time to commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
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
