package bench

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// streamRecv is what the receiver of one stream knows: packets received
// once, duplicates and packets that came after a later one. Only the
// stream's receiving goroutine touches it.
type streamRecv struct {
	received, dups, reordered uint64
	// next is the highest sequence number seen + 1; bit i of window is set
	// when next-1-i was seen.
	next   uint32
	window uint64
}

// add records sequence number seq and reports whether it is new.
func (s *streamRecv) add(seq uint32) bool {
	switch {
	case s.received == 0 && s.next == 0 || seq >= s.next:
		shift := seq + 1 - s.next
		if s.received == 0 || shift >= 64 {
			s.window = 0
		} else {
			s.window <<= shift
		}
		s.window |= 1
		s.next = seq + 1
	default:
		d := s.next - 1 - seq
		if d < 64 {
			if s.window&(1<<d) != 0 {
				s.dups++
				return false
			}
			s.window |= 1 << d
		} // older than the window: counted as new (a duplicate that late is improbable)
		s.reordered++
	}
	s.received++
	return true
}

// mediaTally is one receiving goroutine's share of the figures: its
// latency histogram and the packets it could not account to a stream.
type mediaTally struct {
	// latency of every new packet, in ns from its send to its receipt.
	latency *hdrhistogram.Histogram
	// foreign: datagrams that are not the run's packets; misrouted: the
	// run's packets that came to a socket their stream does not end at;
	// decryptErrors: SRTP packets that failed authentication or replay.
	foreign, misrouted, decryptErrors uint64
	bytes                             uint64
}

func newMediaTally() *mediaTally {
	return &mediaTally{latency: hdrhistogram.New(1, int64(30*time.Second), 3)}
}

// record notes a new packet sent at sentNS and received at nowNS.
func (t *mediaTally) record(sentNS, nowNS int64) {
	d := nowNS - sentNS
	if d < 1 {
		d = 1
	}
	_ = t.latency.RecordValue(d) // above 30 s: not recorded
}

// merge adds o into t.
func (t *mediaTally) merge(o *mediaTally) {
	t.latency.Merge(o.latency)
	t.foreign += o.foreign
	t.misrouted += o.misrouted
	t.decryptErrors += o.decryptErrors
	t.bytes += o.bytes
}

// MediaLatency holds one-way latency percentiles in µs (fractions kept:
// a relay adds tens of µs).
type MediaLatency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
	Mean  float64 `json:"mean_us"`
}

func mediaLatencyOf(h *hdrhistogram.Histogram) MediaLatency {
	if h.TotalCount() == 0 {
		return MediaLatency{}
	}
	us := func(v int64) float64 { return float64(v) / 1e3 }
	return MediaLatency{
		Count: h.TotalCount(),
		P50:   us(h.ValueAtQuantile(50)), P90: us(h.ValueAtQuantile(90)),
		P99: us(h.ValueAtQuantile(99)), P999: us(h.ValueAtQuantile(99.9)),
		Max: us(h.Max()), Mean: h.Mean() / 1e3,
	}
}

// lossOf sums, over streams, what was sent and not received; a stream
// that received more than was sent (duplicates are not counted) gives 0.
func lossOf(sent []uint32, recv []streamRecv) (sentTotal, received, lost, dups, reordered uint64) {
	for i := range recv {
		s, r := uint64(sent[i]), recv[i].received
		sentTotal += s
		received += r
		if s > r {
			lost += s - r
		}
		dups += recv[i].dups
		reordered += recv[i].reordered
	}
	return
}
