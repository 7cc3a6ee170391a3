package media

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/b2bua/b2bua/media/relay"
)

// Metrics are the relay's Prometheus series. The media legs add what
// their streams' counters moved once a second, so the hot path touches
// only its own atomics.
type Metrics struct {
	packets *prometheus.CounterVec // dir = in (from endpoints) | out (to endpoints)
	bytes   *prometheus.CounterVec
	dropped *prometheus.CounterVec // reason = no_peer | hijack | auth

	// the series, looked up once
	pktIn, pktOut, bytesIn, bytesOut, noPeer, hijack, auth prometheus.Counter
}

// NewMetrics registers the relay's series on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer, e *Engine) *Metrics {
	m := &Metrics{
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "b2bua_media_packets_total",
			Help: "RTP and RTCP packets relayed: in from endpoints, out to endpoints."}, []string{"dir"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "b2bua_media_bytes_total",
			Help: "RTP and RTCP bytes relayed: in from endpoints, out to endpoints."}, []string{"dir"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "b2bua_media_dropped_total",
			Help: "Packets received and not relayed: no_peer (no bridge, hold, failed write), hijack (a source the stream would not latch to), auth (SRTP authentication or replay)."}, []string{"reason"}),
	}
	m.pktIn, m.pktOut = m.packets.WithLabelValues("in"), m.packets.WithLabelValues("out")
	m.bytesIn, m.bytesOut = m.bytes.WithLabelValues("in"), m.bytes.WithLabelValues("out")
	m.noPeer, m.hijack, m.auth = m.dropped.WithLabelValues("no_peer"), m.dropped.WithLabelValues("hijack"), m.dropped.WithLabelValues("auth")
	if reg != nil {
		reg.MustRegister(m.packets, m.bytes, m.dropped)
		if e != nil {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "b2bua_media_ports_in_use",
				Help: "RTP/RTCP port pairs handed out."}, func() float64 { return float64(e.PortsInUse()) }))
		}
	}
	return m
}

// Observe adds what a stream's counters moved from before to now.
func (e *Engine) Observe(now, before relay.Stats) {
	m := e.metrics
	if m == nil {
		return
	}
	add(m.pktIn, now.RxPackets, before.RxPackets)
	add(m.pktOut, now.TxPackets, before.TxPackets)
	add(m.bytesIn, now.RxBytes, before.RxBytes)
	add(m.bytesOut, now.TxBytes, before.TxBytes)
	add(m.noPeer, now.Dropped, before.Dropped)
	add(m.hijack, now.Hijack, before.Hijack)
	add(m.auth, now.AuthFailed, before.AuthFailed)
}

func add(c prometheus.Counter, now, before uint64) {
	if now > before {
		c.Add(float64(now - before))
	}
}

// SetMetrics makes the engine report to m.
func (e *Engine) SetMetrics(m *Metrics) { e.metrics = m }
