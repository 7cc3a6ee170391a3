package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Counts are the event counters of a run, either for one period of the
// series or cumulative.
type Counts struct {
	// Started counts logical requests whose first transaction was sent.
	Started uint64 `json:"started"`
	// Transactions counts transactions sent (steps and challenge answers
	// included), Retransmissions the UDP retransmissions among the writes.
	Transactions    uint64 `json:"transactions"`
	Retransmissions uint64 `json:"retransmissions"`
	// OK counts logical requests that ended with a 2xx (the 2xx a strict
	// scenario expects: message to online or offline recipients).
	OK uint64 `json:"ok"`
	// Failed counts logical requests that ended with a final response >= 300,
	// or a 2xx other than the one a strict scenario expects.
	Failed uint64 `json:"failed"`
	// Timeouts counts logical requests without a final response within
	// Timer F.
	Timeouts uint64 `json:"timeouts"`
	// SendErrors counts writes the socket refused.
	SendErrors uint64 `json:"send_errors"`
	// Throttled counts logical requests not sent because Concurrency
	// requests were outstanding.
	Throttled uint64 `json:"throttled"`
	// Challenges counts Digest challenges answered.
	Challenges uint64 `json:"challenges"`
	// Unmatched counts responses whose branch is not one of this run's,
	// Late responses to transactions already over (e.g. answers to
	// retransmissions), Garbage datagrams that did not parse.
	Unmatched uint64 `json:"unmatched"`
	Late      uint64 `json:"late"`
	Garbage   uint64 `json:"garbage"`
	// Requests counts requests from the server (NOTIFY) answered with 200.
	Requests uint64 `json:"requests,omitempty"`
}

// sub returns c - o field by field.
func (c Counts) sub(o Counts) Counts {
	return Counts{
		Started: c.Started - o.Started, Transactions: c.Transactions - o.Transactions,
		Retransmissions: c.Retransmissions - o.Retransmissions, OK: c.OK - o.OK,
		Failed: c.Failed - o.Failed, Timeouts: c.Timeouts - o.Timeouts,
		SendErrors: c.SendErrors - o.SendErrors, Throttled: c.Throttled - o.Throttled,
		Challenges: c.Challenges - o.Challenges, Unmatched: c.Unmatched - o.Unmatched,
		Late: c.Late - o.Late, Garbage: c.Garbage - o.Garbage, Requests: c.Requests - o.Requests,
	}
}

// Unsuccessful is every logical request that was offered and did not
// succeed: failed, timed out or throttled.
func (c Counts) Unsuccessful() uint64 { return c.Failed + c.Timeouts + c.Throttled }

// Percentiles summarises a latency histogram.
type Percentiles struct {
	Count  int64
	Mean   time.Duration
	StdDev time.Duration
	P50    time.Duration
	P90    time.Duration
	P99    time.Duration
	P999   time.Duration
	Max    time.Duration
}

// stats is shared by the sender, the readers and the sweeper. Counters are
// atomics; the histograms (latency of successful logical requests, in µs)
// sit behind mu.
type stats struct {
	started, transactions, retrans, ok, failed, timeouts atomic.Uint64
	sendErrors, throttled, challenges, unmatched, late   atomic.Uint64
	garbage, requests                                    atomic.Uint64
	byStatus                                             [700]atomic.Uint64

	mu     sync.Mutex
	total  *hdrhistogram.Histogram
	period *hdrhistogram.Histogram
}

// maxLatencyUS bounds the histograms: an hour, far above any Timer F.
const maxLatencyUS = int64(time.Hour / time.Microsecond)

func newStats() *stats {
	return &stats{
		total:  hdrhistogram.New(1, maxLatencyUS, 3),
		period: hdrhistogram.New(1, maxLatencyUS, 3),
	}
}

// record adds the latency of one successful logical request.
func (s *stats) record(d time.Duration) {
	us := min(max(int64(d/time.Microsecond), 1), maxLatencyUS)
	s.mu.Lock()
	_ = s.total.RecordValue(us)
	_ = s.period.RecordValue(us)
	s.mu.Unlock()
}

// fail counts a logical request that ended with a final status >= 300.
func (s *stats) fail(status int) {
	s.failed.Add(1)
	if status >= 0 && status < len(s.byStatus) {
		s.byStatus[status].Add(1)
	}
}

// counts reads the counters. Each is read atomically; together they are a
// close, not an exact, snapshot.
func (s *stats) counts() Counts {
	return Counts{
		Started: s.started.Load(), Transactions: s.transactions.Load(),
		Retransmissions: s.retrans.Load(), OK: s.ok.Load(), Failed: s.failed.Load(),
		Timeouts: s.timeouts.Load(), SendErrors: s.sendErrors.Load(),
		Throttled: s.throttled.Load(), Challenges: s.challenges.Load(),
		Unmatched: s.unmatched.Load(), Late: s.late.Load(), Garbage: s.garbage.Load(),
		Requests: s.requests.Load(),
	}
}

// failuresByStatus returns the non-zero status counters.
func (s *stats) failuresByStatus() map[int]uint64 {
	m := map[int]uint64{}
	for code := range s.byStatus {
		if n := s.byStatus[code].Load(); n > 0 {
			m[code] = n
		}
	}
	return m
}

// takePeriod returns the percentiles of the period histogram and resets it.
func (s *stats) takePeriod() Percentiles {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := percentilesOf(s.period)
	s.period.Reset()
	return p
}

// totalPercentiles returns the percentiles of the whole run so far.
func (s *stats) totalPercentiles() Percentiles {
	s.mu.Lock()
	defer s.mu.Unlock()
	return percentilesOf(s.total)
}

func percentilesOf(h *hdrhistogram.Histogram) Percentiles {
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count:  h.TotalCount(),
		Mean:   time.Duration(h.Mean() * float64(time.Microsecond)),
		StdDev: time.Duration(h.StdDev() * float64(time.Microsecond)),
		P50:    us(h.ValueAtQuantile(50)),
		P90:    us(h.ValueAtQuantile(90)),
		P99:    us(h.ValueAtQuantile(99)),
		P999:   us(h.ValueAtQuantile(99.9)),
		Max:    us(h.Max()),
	}
}
