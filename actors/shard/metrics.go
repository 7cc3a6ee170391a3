package shard

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/b2bua/b2bua/supervision"
)

// Metrics counts entities per kind: resident, passivated and restarted.
// A nil *Metrics counts nothing.
type Metrics struct {
	live       *prometheus.GaugeVec
	passivates *prometheus.CounterVec
	restarts   *prometheus.CounterVec
}

// NewMetrics registers the entity metrics with reg (nil: not exported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		live: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "b2bua_actors_live", Help: "Resident entity actors, by kind.",
		}, []string{"kind"}),
		passivates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "b2bua_actors_passivated_total", Help: "Entities stopped after being idle while holding state, by kind.",
		}, []string{"kind"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "b2bua_actor_failures_total", Help: "Actor failures handled by a supervisor, by kind and directive.",
		}, []string{"kind", "directive"}),
	}
	if reg != nil {
		reg.MustRegister(m.live, m.passivates, m.restarts)
	}
	return m
}

func (m *Metrics) spawned(kind string) {
	if m != nil {
		m.live.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) stopped(kind string) {
	if m != nil {
		m.live.WithLabelValues(kind).Dec()
	}
}

func (m *Metrics) passivated(kind string) {
	if m != nil {
		m.passivates.WithLabelValues(kind).Inc()
	}
}

// failed counts one supervision decision.
func (m *Metrics) failed(kind string, d actor.Directive) {
	if m != nil {
		m.restarts.WithLabelValues(kind, d.String()).Inc()
	}
}

// strategy supervises a kind's entities: its decider and restart budget,
// with every decision counted.
func strategy(spec *Spec) actor.SupervisorStrategy {
	decide := spec.decider()
	counted := func(reason any) actor.Directive {
		d := decide(reason)
		spec.Metrics.failed(spec.Name, d)
		return d
	}
	return supervision.Strategy(spec.Log, spec.Name, counted, spec.budget())
}

// Live is the number of resident entities of kind.
func (m *Metrics) Live(kind string) int {
	if m == nil {
		return 0
	}
	var out dto.Metric
	if err := m.live.WithLabelValues(kind).Write(&out); err != nil {
		return 0
	}
	return int(out.GetGauge().GetValue())
}
