package edge

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the edge answers.
type Metrics struct {
	requests  *prometheus.CounterVec
	malformed prometheus.Counter
	shed      prometheus.Counter
	stray     prometheus.Counter
}

// NewMetrics registers the edge's metrics with reg (nil: not exported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "b2bua_sip_requests_total", Help: "SIP requests answered, by method and status.",
		}, []string{"method", "status"}), // method: the method table's, or "other"
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "b2bua_sip_malformed_total", Help: "Datagrams that did not parse as SIP.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "b2bua_sip_shed_total", Help: "Requests answered 503 because too many were in flight.",
		}),
		stray: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "b2bua_sip_stray_responses_total", Help: "Responses that matched no client transaction (late or retransmitted).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.malformed, m.shed, m.stray)
	}
	return m
}

func (m *Metrics) observe(method string, code int) {
	m.requests.WithLabelValues(method, strconv.Itoa(code)).Inc()
}
