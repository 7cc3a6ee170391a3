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
	// retransmits counts the stateless client path's retransmissions
	// (Timer E): a peer that is slow or loses datagrams.
	retransmits prometheus.Counter
	// retransmitted2xx counts 2xx responses to INVITE sent again while
	// their ACK had not come (RFC 3261 §13.3.1.4).
	retransmitted2xx prometheus.Counter
	reg              prometheus.Registerer // for the gauges of the server, registered by New
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
		retransmits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "b2bua_sip_client_retransmissions_total", Help: "Requests the stateless client path sent again (RFC 3261 Timer E).",
		}),
		retransmitted2xx: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "b2bua_sip_2xx_retransmissions_total", Help: "2xx responses to INVITE sent again before their ACK came.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.malformed, m.shed, m.stray, m.retransmits, m.retransmitted2xx)
	}
	m.reg = reg
	return m
}

// track exports the requests s has handed to actors and not yet answered.
func (m *Metrics) track(s *Server) {
	if m.reg == nil {
		return
	}
	_ = m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "b2bua_sip_inflight", Help: "Requests handed to an actor and not yet answered.",
	}, func() float64 { return float64(s.inflight.Load()) }))
}

func (m *Metrics) observe(method string, code int) {
	m.requests.WithLabelValues(method, codeLabel(code)).Inc()
}

// codeLabels are the status codes 100–699 as label values: strconv.Itoa
// allocates for every number past 99, once per response.
var codeLabels = func() (t [600]string) {
	for i := range t {
		t[i] = strconv.Itoa(100 + i)
	}
	return t
}()

func codeLabel(code int) string {
	if code >= 100 && code < 700 {
		return codeLabels[code-100]
	}
	return strconv.Itoa(code)
}
