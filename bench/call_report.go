package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// CallResult is what the call scenario measured beyond the Result of its
// logical requests (a call from INVITE to BYE's 200).
type CallResult struct {
	// Callees is N, UAS where their Contact points ("" for the
	// generator's own UAS), Hold the pause between ACK and BYE.
	Callees int
	UAS     string
	Hold    time.Duration
	// RegisterOK counts callees registered, RegisterFailed the others, by
	// status in RegisterFailures; RegisterRate is successes per second.
	RegisterOK, RegisterFailed, RegisterRetrans uint64
	RegisterFailures                            map[int]uint64
	RegisterRate                                float64
	SetupTime                                   time.Duration
	// Established counts INVITEs answered 2xx; SetupRate is them per
	// second from the first INVITE to the last 2xx: the calls/s set up
	// cleanly. InviteFailures counts the other final statuses,
	// InviteTimeouts INVITEs without a final response.
	Established    uint64
	SetupRate      float64
	InviteFailures map[int]uint64
	InviteFailed   uint64
	InviteTimeouts uint64
	// InviteLatency is from the first INVITE sent to its 2xx.
	InviteLatency Percentiles
	// Completed counts BYEs answered 2xx (Result.Total.OK too), ByeFailed
	// and ByeTimeouts the others; ByeLatency is from the BYE sent to its
	// 2xx.
	Completed   uint64
	ByeFailures map[int]uint64
	ByeFailed   uint64
	ByeTimeouts uint64
	ByeLatency  Percentiles
	// ReACKs counts ACKs sent again for a retransmitted 2xx.
	ReACKs uint64
	// PeakCalls is the most calls up at once (2xx received, BYE not yet
	// answered). SampledCalls and MemPeak are the calls up and the
	// target's memory (PSS of its process tree) at the memory sample with
	// the most calls up; MemBefore the memory before the first INVITE.
	PeakCalls          int64
	SampledCalls       int64
	MemBefore, MemPeak uint64
	// BytesPerCall is (MemPeak-MemBefore)/SampledCalls; -1 when not
	// measured.
	BytesPerCall float64
	// UASCounts are the requests the generator's own UAS received (zero
	// with an external one); RequestsAnswered the requests the
	// generator's socket answered (none expected).
	UASCounts        UASCounts
	RequestsAnswered uint64
}

// minCallsForMemory is the fewest calls up at the memory sample for which
// BytesPerCall is reported.
const minCallsForMemory = 1000

// callStats counts the two legs of the calls; shared by the readers and
// the sweeper.
type callStats struct {
	up, peak, lastUp atomic.Int64
	reACKs           atomic.Uint64

	mu                                        sync.Mutex
	inviteOK, inviteTimeouts, byeOK, byeTimes uint64
	inviteFail, byeFail                       map[int]uint64
	invite, bye                               *hdrhistogram.Histogram
}

func newCallStats() *callStats {
	return &callStats{
		inviteFail: map[int]uint64{}, byeFail: map[int]uint64{},
		invite: hdrhistogram.New(1, maxLatencyUS, 3), bye: hdrhistogram.New(1, maxLatencyUS, 3),
	}
}

func latencyUS(d time.Duration) int64 { return min(max(int64(d/time.Microsecond), 1), maxLatencyUS) }

// established counts a 2xx to an INVITE after lat.
func (s *callStats) established(lat time.Duration, now int64) {
	s.mu.Lock()
	s.inviteOK++
	_ = s.invite.RecordValue(latencyUS(lat))
	s.mu.Unlock()
	n := s.up.Add(1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	s.lastUp.Store(now)
}

// inviteEnded counts a call that ended at its INVITE: status >= 300, or 0
// for a timeout.
func (s *callStats) inviteEnded(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		s.inviteTimeouts++
	} else {
		s.inviteFail[status]++
	}
}

// byeEnded counts a call that ended at its BYE after lat.
func (s *callStats) byeEnded(status int, lat time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case status == 0:
		s.byeTimes++
	case status < 300:
		s.byeOK++
		_ = s.bye.RecordValue(latencyUS(lat))
	default:
		s.byeFail[status]++
	}
}

// fill copies the counts into cr once phase p has drained.
func (s *callStats) fill(cr *CallResult, p *phase, mem *peakSampler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := func(m map[int]uint64) (n uint64) {
		for _, v := range m {
			n += v
		}
		return n
	}
	cr.Established, cr.InviteTimeouts = s.inviteOK, s.inviteTimeouts
	cr.InviteFailures, cr.InviteFailed = copyCounts(s.inviteFail), sum(s.inviteFail)
	cr.Completed, cr.ByeTimeouts = s.byeOK, s.byeTimes
	cr.ByeFailures, cr.ByeFailed = copyCounts(s.byeFail), sum(s.byeFail)
	cr.InviteLatency, cr.ByeLatency = percentilesOf(s.invite), percentilesOf(s.bye)
	cr.ReACKs, cr.PeakCalls = s.reACKs.Load(), s.peak.Load()
	if d := time.Duration(s.lastUp.Load() - p.t0).Seconds(); s.inviteOK > 0 && d > 0 {
		cr.SetupRate = float64(s.inviteOK) / d
	}
	cr.SampledCalls, cr.MemPeak = mem.peak()
	cr.BytesPerCall = -1
	// Below minCallsForMemory calls the memory's noise (a Go heap grows in
	// steps, Kamailio keeps transactions 5 s) swamps the calls.
	if cr.SampledCalls >= minCallsForMemory && cr.MemBefore > 0 && cr.MemPeak > 0 {
		cr.BytesPerCall = (float64(cr.MemPeak) - float64(cr.MemBefore)) / float64(cr.SampledCalls)
	}
}

func copyCounts(m map[int]uint64) map[int]uint64 {
	out := make(map[int]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// writeCall prints the call lines of the summary table.
func writeCall(w io.Writer, cr *CallResult) {
	uas := cr.UAS
	if uas == "" {
		uas = "the generator's UAS"
	}
	fmt.Fprintf(w, "callees\t%d (contact at %s), hold %s\n", cr.Callees, uas, cr.Hold)
	fmt.Fprintf(w, "setup\t%d registered, %d failed, %d retransmissions in %.2fs (%.0f/s)\n",
		cr.RegisterOK, cr.RegisterFailed, cr.RegisterRetrans, cr.SetupTime.Seconds(), cr.RegisterRate)
	if len(cr.RegisterFailures) > 0 {
		fmt.Fprintf(w, "setup failures\t%s\n", strings.Join(statusList(cr.RegisterFailures, ": "), ", "))
	}
	fmt.Fprintf(w, "calls set up\t%d (INVITE 2xx, %.0f/s), %d failed, %d timeouts, %d re-ACKed\n",
		cr.Established, cr.SetupRate, cr.InviteFailed, cr.InviteTimeouts, cr.ReACKs)
	if len(cr.InviteFailures) > 0 {
		fmt.Fprintf(w, "INVITE failures\t%s\n", strings.Join(statusList(cr.InviteFailures, ": "), ", "))
	}
	l := cr.InviteLatency
	fmt.Fprintf(w, "INVITE->2xx\tp50 %.3fms  p90 %.3fms  p99 %.3fms  max %.3fms\n", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max))
	fmt.Fprintf(w, "calls completed\t%d (BYE 2xx), %d failed, %d timeouts\n", cr.Completed, cr.ByeFailed, cr.ByeTimeouts)
	if len(cr.ByeFailures) > 0 {
		fmt.Fprintf(w, "BYE failures\t%s\n", strings.Join(statusList(cr.ByeFailures, ": "), ", "))
	}
	l = cr.ByeLatency
	fmt.Fprintf(w, "BYE->2xx\tp50 %.3fms  p90 %.3fms  p99 %.3fms  max %.3fms\n", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max))
	fmt.Fprintf(w, "concurrent calls\tpeak %d\n", cr.PeakCalls)
	if cr.MemBefore > 0 {
		fmt.Fprintf(w, "target memory\t%.1f MB before, %.1f MB with %d calls up: %s B per call\n",
			mb(cr.MemBefore), mb(cr.MemPeak), cr.SampledCalls, perUnitText(cr.BytesPerCall))
	}
	if cr.UAS == "" {
		u := cr.UASCounts
		fmt.Fprintf(w, "uas\t%d INVITE, %d ACK, %d BYE, %d other\n", u.Invites, u.Acks, u.Byes, u.Others)
	}
	if cr.RequestsAnswered > 0 {
		fmt.Fprintf(w, "warning\t%d requests came to the generator's socket\n", cr.RequestsAnswered)
	}
}

// callKeys appends the call keys of the SUMMARY line.
func callKeys(b *strings.Builder, cr *CallResult) {
	uas := cr.UAS
	if uas == "" {
		uas = "-"
	}
	il, bl := cr.InviteLatency, cr.ByeLatency
	fmt.Fprintf(b, " callees=%d uas=%s hold_s=%.3f register_ok=%d register_failed=%d register_retrans=%d "+
		"register_rate=%.0f setup_s=%.2f calls_up=%d call_rate=%.0f invite_failed=%d invite_timeouts=%d "+
		"invite_p50_ms=%.3f invite_p90_ms=%.3f invite_p99_ms=%.3f invite_max_ms=%.3f "+
		"calls_done=%d bye_failed=%d bye_timeouts=%d bye_p50_ms=%.3f bye_p90_ms=%.3f bye_p99_ms=%.3f bye_max_ms=%.3f "+
		"reack=%d peak_calls=%d sampled_calls=%d mem_before_mb=%.1f mem_peak_mb=%.1f bytes_per_call=%s "+
		"uas_invites=%d uas_acks=%d uas_byes=%d requests_in=%d",
		cr.Callees, uas, cr.Hold.Seconds(), cr.RegisterOK, cr.RegisterFailed, cr.RegisterRetrans,
		cr.RegisterRate, cr.SetupTime.Seconds(), cr.Established, cr.SetupRate, cr.InviteFailed, cr.InviteTimeouts,
		ms(il.P50), ms(il.P90), ms(il.P99), ms(il.Max),
		cr.Completed, cr.ByeFailed, cr.ByeTimeouts, ms(bl.P50), ms(bl.P90), ms(bl.P99), ms(bl.Max),
		cr.ReACKs, cr.PeakCalls, cr.SampledCalls, mb(cr.MemBefore), mb(cr.MemPeak), perUnitText(cr.BytesPerCall),
		cr.UASCounts.Invites, cr.UASCounts.Acks, cr.UASCounts.Byes, cr.RequestsAnswered)
	for _, s := range statusList(cr.InviteFailures, "=") {
		b.WriteString(" invite_fail_" + s)
	}
	for _, s := range statusList(cr.ByeFailures, "=") {
		b.WriteString(" bye_fail_" + s)
	}
}

// jsonCall is the "call" object of the summary: the keys of the call
// SUMMARY line.
type jsonCall struct {
	Callees          int               `json:"callees"`
	UAS              string            `json:"uas"`
	HoldS            float64           `json:"hold_s"`
	RegisterOK       uint64            `json:"register_ok"`
	RegisterFailed   uint64            `json:"register_failed"`
	RegisterRetrans  uint64            `json:"register_retrans"`
	RegisterFailures map[string]uint64 `json:"register_failures_by_status"`
	RegisterRate     float64           `json:"register_rate"`
	SetupS           float64           `json:"setup_s"`
	CallsUp          uint64            `json:"calls_up"`
	CallRate         float64           `json:"call_rate"`
	InviteFailed     uint64            `json:"invite_failed"`
	InviteFailures   map[string]uint64 `json:"invite_failures_by_status"`
	InviteTimeouts   uint64            `json:"invite_timeouts"`
	InviteLatencyMS  jsonLatency       `json:"invite_latency_ms"`
	CallsDone        uint64            `json:"calls_done"`
	ByeFailed        uint64            `json:"bye_failed"`
	ByeFailures      map[string]uint64 `json:"bye_failures_by_status"`
	ByeTimeouts      uint64            `json:"bye_timeouts"`
	ByeLatencyMS     jsonLatency       `json:"bye_latency_ms"`
	ReACK            uint64            `json:"reack"`
	PeakCalls        int64             `json:"peak_calls"`
	SampledCalls     int64             `json:"sampled_calls"`
	MemBefore        uint64            `json:"mem_before_bytes"`
	MemPeak          uint64            `json:"mem_peak_bytes"`
	BytesPerCall     float64           `json:"bytes_per_call"`
	UASInvites       uint64            `json:"uas_invites"`
	UASAcks          uint64            `json:"uas_acks"`
	UASByes          uint64            `json:"uas_byes"`
	RequestsIn       uint64            `json:"requests_in"`
}

func callJSON(cr *CallResult) *jsonCall {
	if cr == nil {
		return nil
	}
	return &jsonCall{
		Callees: cr.Callees, UAS: cr.UAS, HoldS: cr.Hold.Seconds(), RegisterOK: cr.RegisterOK,
		RegisterFailed: cr.RegisterFailed, RegisterRetrans: cr.RegisterRetrans,
		RegisterFailures: statusKeys(cr.RegisterFailures), RegisterRate: cr.RegisterRate,
		SetupS: cr.SetupTime.Seconds(), CallsUp: cr.Established, CallRate: cr.SetupRate,
		InviteFailed: cr.InviteFailed, InviteFailures: statusKeys(cr.InviteFailures),
		InviteTimeouts: cr.InviteTimeouts, InviteLatencyMS: latencyMS(cr.InviteLatency),
		CallsDone: cr.Completed, ByeFailed: cr.ByeFailed, ByeFailures: statusKeys(cr.ByeFailures),
		ByeTimeouts: cr.ByeTimeouts, ByeLatencyMS: latencyMS(cr.ByeLatency), ReACK: cr.ReACKs,
		PeakCalls: cr.PeakCalls, SampledCalls: cr.SampledCalls, MemBefore: cr.MemBefore, MemPeak: cr.MemPeak,
		BytesPerCall: cr.BytesPerCall, UASInvites: cr.UASCounts.Invites, UASAcks: cr.UASCounts.Acks,
		UASByes: cr.UASCounts.Byes, RequestsIn: cr.RequestsAnswered,
	}
}
