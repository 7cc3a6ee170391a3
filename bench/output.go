package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// csvColumns are the columns of WriteCSV: SIPp -trace_stat names where one
// applies ((P) = this period, (C) = cumulative), then ours. The mapping:
//
//	OutgoingCall, TotalCallCreated  logical requests started
//	CurrentCall                     outstanding logical requests
//	SuccessfulCall                  ended with 2xx
//	FailedCall                      failed + timed out + throttled
//	FailedCannotSendMessage         writes the socket refused
//	FailedMaxUDPRetrans             Timer F timeouts (UDP and TCP)
//	FailedUnexpectedMessage         ended with a final status >= 300
//	FailedOutboundCongestion        throttled by --concurrency
//	OutOfCallMsgs                   unmatched or unparsable responses
//	DeadCallMsgs                    late responses (transaction over)
//	ResponseTime1, ...StDev         mean and standard deviation of the
//	                                latency of successful requests
//	ResponseTime1P50/P99            our percentiles (not in SIPp)
//	TargetCPU, TargetRSS, ...       --target-pid and generator samples
var csvColumns = []string{
	"StartTime", "LastResetTime", "CurrentTime", "ElapsedTime(P)", "ElapsedTime(C)", "TargetRate",
	"CallRate(P)", "CallRate(C)", "OutgoingCall(P)", "OutgoingCall(C)", "TotalCallCreated", "CurrentCall",
	"SuccessfulCall(P)", "SuccessfulCall(C)", "FailedCall(P)", "FailedCall(C)",
	"FailedCannotSendMessage(P)", "FailedCannotSendMessage(C)", "FailedMaxUDPRetrans(P)", "FailedMaxUDPRetrans(C)",
	"FailedUnexpectedMessage(P)", "FailedUnexpectedMessage(C)", "FailedOutboundCongestion(P)", "FailedOutboundCongestion(C)",
	"OutOfCallMsgs(P)", "OutOfCallMsgs(C)", "DeadCallMsgs(P)", "DeadCallMsgs(C)",
	"Retransmissions(P)", "Retransmissions(C)", "ResponseTime1(P)", "ResponseTime1(C)",
	"ResponseTime1StDev(P)", "ResponseTime1StDev(C)",
	"ResponseTime1P50(P)", "ResponseTime1P99(P)", "ResponseTime1P99(C)",
	"TargetCPU(P)", "TargetRSS(P)", "GeneratorCPU(P)",
}

// sippTime formats like SIPp's stat file: date, time with µs, epoch.
func sippTime(t time.Time) string {
	return t.Format("2006-01-02\t15:04:05.000000") + "\t" +
		strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', 6, 64)
}

// sippDuration formats like SIPp's msToHHMMSSus: HH:MM:SS:uuuuuu.
func sippDuration(d time.Duration) string {
	us := d.Microseconds()
	return fmt.Sprintf("%02d:%02d:%02d:%06d", us/3600e6, us/60e6%60, us/1e6%60, us%1e6)
}

// WriteCSV writes the series in SIPp's -trace_stat style: ';'-separated,
// one header line, one row per period, each line ending in ';'.
func WriteCSV(w io.Writer, r *Result) error {
	if _, err := io.WriteString(w, strings.Join(csvColumns, ";")+";\n"); err != nil {
		return err
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	for _, s := range r.Series {
		d, c := s.Delta, s.Total
		row := []string{
			sippTime(r.Start), sippTime(s.Time.Add(-s.Period)), sippTime(s.Time),
			sippDuration(s.Period), sippDuration(s.Elapsed), f(s.TargetRate),
			f(perSecond(d.Started, s.Period)), f(perSecond(c.Started, s.Elapsed)), u(d.Started), u(c.Started),
			u(c.Started), strconv.FormatInt(s.Outstanding, 10), u(d.OK), u(c.OK),
			u(d.Unsuccessful()), u(c.Unsuccessful()), u(d.SendErrors), u(c.SendErrors),
			u(d.Timeouts), u(c.Timeouts), u(d.Failed), u(c.Failed), u(d.Throttled), u(c.Throttled),
			u(d.Unmatched + d.Garbage), u(c.Unmatched + c.Garbage), u(d.Late), u(c.Late),
			u(d.Retransmissions), u(c.Retransmissions),
			sippDuration(s.Latency.Mean), sippDuration(s.TotalLatency.Mean),
			sippDuration(s.Latency.StdDev), sippDuration(s.TotalLatency.StdDev),
			sippDuration(s.Latency.P50), sippDuration(s.Latency.P99), sippDuration(s.TotalLatency.P99),
			f(s.Target.CPU), u(s.Target.RSS), f(s.Generator.CPU),
		}
		if _, err := io.WriteString(w, strings.Join(row, ";")+";\n"); err != nil {
			return err
		}
	}
	return nil
}

// jsonLatency is a latency summary in milliseconds.
type jsonLatency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

func latencyMS(p Percentiles) jsonLatency {
	return jsonLatency{Count: p.Count, Mean: ms(p.Mean), P50: ms(p.P50), P90: ms(p.P90),
		P99: ms(p.P99), P999: ms(p.P999), Max: ms(p.Max)}
}

// jsonSummary is the "summary" object of WriteJSON.
type jsonSummary struct {
	Scenario  string    `json:"scenario"`
	Transport string    `json:"transport"`
	Target    string    `json:"target"`
	Start     time.Time `json:"start"`
	Rate      float64   `json:"target_rate"`
	SendS     float64   `json:"send_s"`
	ElapsedS  float64   `json:"elapsed_s"`
	Counts
	Outstanding      int64             `json:"outstanding"`
	RetransPct       float64           `json:"retrans_pct"`
	SendRate         float64           `json:"send_rate"`
	OKRate           float64           `json:"ok_rate"`
	FailureRatio     float64           `json:"failure_ratio"`
	FailuresByStatus map[string]uint64 `json:"failures_by_status"`
	LatencyMS        jsonLatency       `json:"latency_ms"`
	TargetProc       ProcStats         `json:"target_proc"`
	Generator        ProcStats         `json:"generator_proc"`
	Presence         *jsonPresence     `json:"presence,omitempty"`
	Message          *jsonMessage      `json:"message,omitempty"`
	Call             *jsonCall         `json:"call,omitempty"`
}

// jsonPresence is the "presence" object of the summary: the keys of the
// presence SUMMARY line.
type jsonPresence struct {
	Presentities       int               `json:"presentities"`
	Watchers           int               `json:"watchers"`
	Subscriptions      uint64            `json:"subscriptions"`
	SubscribeOK        uint64            `json:"subscribe_ok"`
	SubscribeFailed    uint64            `json:"subscribe_failed"`
	SubscribeRetrans   uint64            `json:"subscribe_retrans"`
	SubscribeFailures  map[string]uint64 `json:"subscribe_failures_by_status"`
	SubscribeRate      float64           `json:"subscribe_rate"`
	SubscribeLatencyMS jsonLatency       `json:"subscribe_latency_ms"`
	SetupS             float64           `json:"setup_s"`
	NotifyInitial      uint64            `json:"notify_initial"`
	NotifyExpected     uint64            `json:"notify_expected"`
	NotifyExpectedSubs uint64            `json:"notify_expected_subscribed"`
	NotifyReceived     uint64            `json:"notify_received"`
	NotifyDup          uint64            `json:"notify_dup"`
	NotifyForeign      uint64            `json:"notify_foreign"`
	OtherRequests      uint64            `json:"other_requests"`
	RequestsIn         uint64            `json:"requests_in"`
	NotifyRate         float64           `json:"notify_rate"`
	NotifyWindowS      float64           `json:"notify_window_s"`
	NotifyLatencyMS    jsonLatency       `json:"notify_latency_ms"`
	MemBefore          uint64            `json:"mem_before_bytes"`
	MemSetup           uint64            `json:"mem_setup_bytes"`
	MemAfter           uint64            `json:"mem_after_bytes"`
	BytesPerSub        float64           `json:"bytes_per_sub"`
	BytesPerPresentity float64           `json:"bytes_per_presentity"`
}

func presenceJSON(pr *PresenceResult) *jsonPresence {
	if pr == nil {
		return nil
	}
	return &jsonPresence{
		Presentities: pr.Presentities, Watchers: pr.Watchers, Subscriptions: pr.Subscriptions,
		SubscribeOK: pr.SubscribeOK, SubscribeFailed: pr.SubscribeFailed, SubscribeRetrans: pr.SubscribeRetrans,
		SubscribeFailures: statusKeys(pr.SubscribeFailures), SubscribeRate: pr.SubscribeRate,
		SubscribeLatencyMS: latencyMS(pr.SubscribeLatency), SetupS: pr.SetupTime.Seconds(),
		NotifyInitial: pr.NotifyInitial, NotifyExpected: pr.NotifyExpected,
		NotifyExpectedSubs: pr.NotifyExpectedSubscribed, NotifyReceived: pr.NotifyReceived,
		NotifyDup: pr.NotifyDuplicates, NotifyForeign: pr.NotifyForeign, OtherRequests: pr.OtherRequests,
		RequestsIn: pr.RequestsAnswered, NotifyRate: pr.NotifyRate, NotifyWindowS: pr.NotifyWindow.Seconds(),
		NotifyLatencyMS: latencyMS(pr.NotifyLatency), MemBefore: pr.MemBefore, MemSetup: pr.MemSetup,
		MemAfter: pr.MemAfter, BytesPerSub: pr.BytesPerSub, BytesPerPresentity: pr.BytesPerPresentity,
	}
}

// statusKeys turns counts by status into a map with string keys for JSON.
func statusKeys(m map[int]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for code, n := range m {
		out[strconv.Itoa(code)] = n
	}
	return out
}

// jsonSample is one element of the "series" array of WriteJSON.
type jsonSample struct {
	T          float64     `json:"t_s"`
	PeriodS    float64     `json:"period_s"`
	TargetRate float64     `json:"target_rate"`
	SentRate   float64     `json:"sent_rate"`
	OKRate     float64     `json:"ok_rate"`
	Period     Counts      `json:"period"`
	Open       int64       `json:"outstanding"`
	LatencyMS  jsonLatency `json:"latency_ms"`
	Target     ProcSample  `json:"target_proc"`
	Generator  ProcSample  `json:"generator_proc"`
}

// WriteJSON writes {"summary": {...}, "series": [...]}, durations in
// seconds or milliseconds as the key names say.
func WriteJSON(w io.Writer, r *Result) error {
	byStatus := statusKeys(r.FailuresByStatus)
	out := struct {
		Summary jsonSummary  `json:"summary"`
		Series  []jsonSample `json:"series"`
	}{Summary: jsonSummary{
		Scenario: r.Scenario, Transport: r.Transport, Target: r.Target, Start: r.Start, Rate: r.Rate,
		SendS: r.SendTime.Seconds(), ElapsedS: r.Elapsed.Seconds(), Counts: r.Total,
		Outstanding: r.Outstanding, RetransPct: r.RetransPercent(), SendRate: r.SendRate,
		OKRate: r.CompletionRate, FailureRatio: r.FailureRatio, FailuresByStatus: byStatus,
		LatencyMS: latencyMS(r.Latency), TargetProc: r.TargetProc, Generator: r.Generator,
		Presence: presenceJSON(r.Presence), Message: messageJSON(r.Message),
		Call: callJSON(r.Call),
	}, Series: make([]jsonSample, 0, len(r.Series))}
	for _, s := range r.Series {
		out.Series = append(out.Series, jsonSample{
			T: s.Elapsed.Seconds(), PeriodS: s.Period.Seconds(), TargetRate: s.TargetRate,
			SentRate: perSecond(s.Delta.Started, s.Period), OKRate: perSecond(s.Delta.OK, s.Period),
			Period: s.Delta, Open: s.Outstanding, LatencyMS: latencyMS(s.Latency),
			Target: s.Target, Generator: s.Generator,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
