package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Sample is one period (about a second) of the series.
type Sample struct {
	Time       time.Time
	Elapsed    time.Duration
	Period     time.Duration
	TargetRate float64
	// Delta counts what happened in the period, Total since the start.
	Delta       Counts
	Total       Counts
	Outstanding int64
	// Latency is that of the period, TotalLatency of the run so far.
	Latency      Percentiles
	TotalLatency Percentiles
	Target       ProcSample
	Generator    ProcSample
}

// reporter samples the run once per second and prints progress.
type reporter struct {
	e      *engine
	p      *phase
	target *procSampler
	self   *procSampler
	prev   Counts
	prevAt int64
	series []Sample
}

func newReporter(e *engine, p *phase) *reporter {
	return &reporter{e: e, p: p, prevAt: p.t0, target: newProcSampler(e.cfg.TargetPID), self: newProcSampler(os.Getpid())}
}

// run samples every second until ctx ends, then once more for the last
// partial period, and returns the series.
func (r *reporter) run(ctx context.Context) []Sample {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The last, partial period; a tiny one would only add noise.
			if len(r.series) == 0 || time.Duration(r.e.now()-r.prevAt) >= 10*time.Millisecond {
				r.sample()
			}
			if r.e.cfg.Progress != nil && r.e.cfg.Terminal {
				fmt.Fprintln(r.e.cfg.Progress)
			}
			return r.series
		case <-t.C:
			r.sample()
		}
	}
}

func (r *reporter) sample() {
	e := r.e
	now := e.now()
	wall := time.Now()
	p := r.p
	c := p.st.counts()
	s := Sample{
		Time: wall, Elapsed: time.Duration(now - p.t0), Period: time.Duration(now - r.prevAt),
		TargetRate: p.rateAt(now - p.t0), Delta: c.sub(r.prev), Total: c, Outstanding: e.active.Load(),
		Latency: p.st.takePeriod(), TotalLatency: p.st.totalPercentiles(),
		Target: r.target.sample(wall), Generator: r.self.sample(wall),
	}
	r.prev, r.prevAt = c, now
	r.series = append(r.series, s)
	if e.cfg.Progress != nil {
		writeProgress(e.cfg.Progress, s, e.cfg.Terminal)
	}
}

// perSecond divides a period count by the period length.
func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeProgress prints one sample: a line rewritten in place on a
// terminal, else a key=value line.
func writeProgress(w io.Writer, s Sample, terminal bool) {
	sent, ok := perSecond(s.Delta.Started, s.Period), perSecond(s.Delta.OK, s.Period)
	errs := s.Total.Failed + s.Total.Timeouts + s.Total.SendErrors
	if terminal {
		fmt.Fprintf(w, "\r%5.0fs  sent %7.0f/s  ok %7.0f/s  errors %d  retrans %d  throttled %d  open %d  p99 %.2fms   ",
			s.Elapsed.Seconds(), sent, ok, errs, s.Total.Retransmissions, s.Total.Throttled, s.Outstanding,
			ms(s.TotalLatency.P99))
		return
	}
	fmt.Fprintf(w, "PROGRESS t=%.1f target_rate=%.0f sent_rate=%.0f ok_rate=%.0f failed=%d timeouts=%d "+
		"send_errors=%d retrans=%d throttled=%d outstanding=%d p50_ms=%.3f p99_ms=%.3f target_cpu=%.1f target_rss_mb=%.1f\n",
		s.Elapsed.Seconds(), s.TargetRate, sent, ok, s.Total.Failed, s.Total.Timeouts, s.Total.SendErrors,
		s.Total.Retransmissions, s.Total.Throttled, s.Outstanding, ms(s.Latency.P50), ms(s.Latency.P99),
		s.Target.CPU, float64(s.Target.RSS)/(1<<20))
}

// RetransPercent is retransmissions per transaction sent, in percent.
func (r *Result) RetransPercent() float64 {
	if r.Total.Transactions == 0 {
		return 0
	}
	return 100 * float64(r.Total.Retransmissions) / float64(r.Total.Transactions)
}

// WriteSummary prints the human-readable summary table.
func WriteSummary(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	c := r.Total
	fmt.Fprintf(tw, "scenario\t%s over %s to %s\n", r.Scenario, r.Transport, r.Target)
	fmt.Fprintf(tw, "time\tsend %.2fs, total %.2fs\n", r.SendTime.Seconds(), r.Elapsed.Seconds())
	fmt.Fprintf(tw, "rate\ttarget %.0f/s, sent %.0f/s, ok %.0f/s\n", r.Rate, r.SendRate, r.CompletionRate)
	fmt.Fprintf(tw, "requests\tstarted %d, ok %d, failed %d, timeouts %d, throttled %d, outstanding %d\n",
		c.Started, c.OK, c.Failed, c.Timeouts, c.Throttled, r.Outstanding)
	fmt.Fprintf(tw, "transactions\t%d sent, %d retransmissions (%.2f%%), %d challenges, %d send errors\n",
		c.Transactions, c.Retransmissions, r.RetransPercent(), c.Challenges, c.SendErrors)
	fmt.Fprintf(tw, "stray responses\t%d late, %d unmatched, %d garbage\n", c.Late, c.Unmatched, c.Garbage)
	if len(r.FailuresByStatus) > 0 {
		fmt.Fprintf(tw, "failures\t%s\n", strings.Join(statusList(r.FailuresByStatus, ": "), ", "))
	}
	l := r.Latency
	fmt.Fprintf(tw, "latency (ok)\tp50 %.3fms  p90 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms\n",
		ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max))
	if r.TargetProc.PID != 0 {
		fmt.Fprintf(tw, "target pid %d\tcpu avg %.1f%% max %.1f%%, rss max %.1f MB\n", r.TargetProc.PID,
			r.TargetProc.CPUAvg, r.TargetProc.CPUMax, float64(r.TargetProc.RSSMax)/(1<<20))
	}
	fmt.Fprintf(tw, "generator\tcpu avg %.1f%% max %.1f%%, rss max %.1f MB\n",
		r.Generator.CPUAvg, r.Generator.CPUMax, float64(r.Generator.RSSMax)/(1<<20))
	if r.Presence != nil {
		writePresence(tw, r.Presence)
	}
	if r.Message != nil {
		writeMessage(tw, r.Message)
	}
	if r.Call != nil {
		writeCall(tw, r.Call)
	}
	fmt.Fprintf(tw, "failure ratio\t%.4f\n", r.FailureRatio)
	return tw.Flush()
}

// statusList renders failures by status sorted by code, "503<sep>12".
func statusList(m map[int]uint64, sep string) []string {
	codes := make([]int, 0, len(m))
	for code := range m {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	out := make([]string, len(codes))
	for i, code := range codes {
		out[i] = fmt.Sprintf("%d%s%d", code, sep, m[code])
	}
	return out
}

// SummaryLine returns the machine-readable "SUMMARY key=value ..." line
// (no newline). Keys are stable; fail_<code> keys appear per status seen.
func SummaryLine(r *Result) string {
	c, l := r.Total, r.Latency
	var b strings.Builder
	fmt.Fprintf(&b, "SUMMARY scenario=%s transport=%s target=%s rate=%.0f send_s=%.2f started=%d ok=%d failed=%d "+
		"timeouts=%d throttled=%d transactions=%d retrans=%d retrans_pct=%.3f challenges=%d send_errors=%d "+
		"late=%d unmatched=%d garbage=%d outstanding=%d send_rate=%.0f ok_rate=%.0f failure_ratio=%.4f "+
		"p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f",
		r.Scenario, r.Transport, r.Target, r.Rate, r.SendTime.Seconds(), c.Started, c.OK, c.Failed,
		c.Timeouts, c.Throttled, c.Transactions, c.Retransmissions, r.RetransPercent(), c.Challenges, c.SendErrors,
		c.Late, c.Unmatched, c.Garbage, r.Outstanding, r.SendRate, r.CompletionRate, r.FailureRatio,
		ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max))
	for _, kv := range statusList(r.FailuresByStatus, "=") {
		b.WriteString(" fail_" + kv)
	}
	if r.Presence != nil {
		presenceKeys(&b, r.Presence)
	}
	if r.Message != nil {
		messageKeys(&b, r.Message)
	}
	if r.Call != nil {
		callKeys(&b, r.Call)
	}
	fmt.Fprintf(&b, " target_cpu_avg=%.1f target_cpu_max=%.1f target_rss_max_mb=%.1f gen_cpu_avg=%.1f gen_rss_max_mb=%.1f",
		r.TargetProc.CPUAvg, r.TargetProc.CPUMax, float64(r.TargetProc.RSSMax)/(1<<20),
		r.Generator.CPUAvg, float64(r.Generator.RSSMax)/(1<<20))
	return b.String()
}
