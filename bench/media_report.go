package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// MediaResult is what a media run measured. Rates are over the streaming
// window: from the first send to the end of the drain.
type MediaResult struct {
	Control  string  `json:"control"`
	Target   string  `json:"target,omitempty"`
	Calls    int     `json:"calls"`
	PPS      int     `json:"pps_per_stream"`
	SRTP     string  `json:"srtp"`
	Sockets  int     `json:"sockets_per_side"`
	Duration float64 `json:"duration_s"`
	SetupS   float64 `json:"setup_s"`
	// TargetRate is calls × 2 × pps.
	TargetRate float64 `json:"target_rate"`
	// Sent and Received are packets; Received counts each once.
	Sent      uint64 `json:"sent"`
	Received  uint64 `json:"received"`
	Lost      uint64 `json:"lost"`
	Dups      uint64 `json:"dups"`
	Reordered uint64 `json:"reordered"`
	// LossPct is Lost / Sent in percent.
	LossPct float64 `json:"loss_pct"`
	// SendRate is packets sent per second of the send phase, RecvRate
	// packets received per second of the window.
	SendRate float64 `json:"send_rate"`
	RecvRate float64 `json:"recv_rate"`
	// SendBehindMS is the most a packet left after its due time: above a
	// few ms the generator could not keep the rate.
	SendBehindMS float64 `json:"send_behind_ms"`
	SendErrors   uint64  `json:"send_errors"`
	// Foreign: datagrams that are not the run's; Misrouted: packets at a
	// socket their stream does not end at; DecryptErrors: SRTP failures.
	Foreign       uint64       `json:"foreign"`
	Misrouted     uint64       `json:"misrouted"`
	DecryptErrors uint64       `json:"decrypt_errors"`
	Latency       MediaLatency `json:"latency"`
	// RelayCPU is the relay's CPU in % of a core over the window,
	// CPUPerKPPS that per 1,000 packets/s received; GenCPU the generator's.
	RelayCPU   float64 `json:"relay_cpu_pct"`
	CPUPerKPPS float64 `json:"relay_cpu_per_kpps"`
	GenCPU     float64 `json:"gen_cpu_pct"`
	// AllocsPerPacket is the relay's go_memstats_mallocs_total growth over
	// the window divided by the packets received (AllocsMeasured).
	// AllocsIdlePerS is its growth per second over one idle second before
	// the window (timers, the scrape itself), and AllocsPerPacketNet the
	// window's growth less that idle rate, per packet.
	AllocsPerPacket    float64 `json:"allocs_per_packet"`
	AllocsIdlePerS     float64 `json:"allocs_idle_per_s"`
	AllocsPerPacketNet float64 `json:"allocs_per_packet_net"`
	AllocsMeasured     bool    `json:"allocs_measured"`
	MetricsError       string  `json:"metrics_error,omitempty"`
	// RcvbufErrors and SndbufErrors are the growth of /proc/net/snmp's Udp
	// counters over the window: datagrams the kernel dropped (any socket).
	RcvbufErrors  uint64 `json:"rcvbuf_errors"`
	SndbufErrors  uint64 `json:"sndbuf_errors"`
	TeardownError string `json:"teardown_error,omitempty"`
}

func (r *MediaResult) fill(sent []uint32, recv []streamRecv, t *mediaTally, senders []*mediaSender, sendEnd, window time.Duration) {
	r.Sent, r.Received, r.Lost, r.Dups, r.Reordered = lossOf(sent, recv)
	r.TargetRate = float64(r.Calls * 2 * r.PPS)
	if r.Sent > 0 {
		r.LossPct = 100 * float64(r.Lost) / float64(r.Sent)
	}
	var first, last time.Duration = sendEnd, 0
	for _, s := range senders {
		r.SendErrors += s.sendErrs
		r.SendBehindMS = max(r.SendBehindMS, float64(s.behind)/1e6)
		first, last = min(first, s.firstSend), max(last, s.lastSend)
	}
	// The send phase runs from the first due packet to the last: rounds-1
	// periods plus the last offset; time.Second/PPS per round is the rate.
	if span := last - first; span > 0 && r.Sent > 1 {
		r.SendRate = float64(r.Sent) / (span.Seconds() + 1/float64(r.PPS))
	}
	if window > 0 {
		r.RecvRate = float64(r.Received) / (min(window, sendEnd+time.Second/time.Duration(r.PPS)).Seconds())
	}
	r.Foreign, r.Misrouted, r.DecryptErrors = t.foreign, t.misrouted, t.decryptErrors
	r.Latency = mediaLatencyOf(t.latency)
}

// Clean tells whether the run lost under 0.1 % of its packets.
func (r *MediaResult) Clean() bool { return r.Sent > 0 && r.LossPct < 0.1 }

// MediaSummaryLine is the machine-readable line of a media run.
func MediaSummaryLine(r *MediaResult) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	allocs, allocsNet, allocsIdle := "-", "-", "-"
	if r.AllocsMeasured {
		allocs, allocsNet, allocsIdle = f(r.AllocsPerPacket), f(r.AllocsPerPacketNet), f(r.AllocsIdlePerS)
	}
	cpu, perK := "-", "-"
	if r.RelayCPU > 0 {
		cpu, perK = f(r.RelayCPU), f(r.CPUPerKPPS)
	}
	kv := []string{
		"scenario=media", "control=" + r.Control, "srtp=" + r.SRTP,
		fmt.Sprintf("calls=%d", r.Calls), fmt.Sprintf("pps=%d", r.PPS), "target_rate=" + f(r.TargetRate),
		fmt.Sprintf("sockets=%d", r.Sockets), "setup_s=" + f(r.SetupS),
		fmt.Sprintf("sent=%d", r.Sent), fmt.Sprintf("received=%d", r.Received), fmt.Sprintf("lost=%d", r.Lost),
		"loss_pct=" + strconv.FormatFloat(r.LossPct, 'f', 4, 64),
		fmt.Sprintf("dups=%d", r.Dups), fmt.Sprintf("reordered=%d", r.Reordered),
		"send_rate=" + f(r.SendRate), "recv_rate=" + f(r.RecvRate), "send_behind_ms=" + f(r.SendBehindMS),
		fmt.Sprintf("send_errors=%d", r.SendErrors), fmt.Sprintf("foreign=%d", r.Foreign),
		fmt.Sprintf("misrouted=%d", r.Misrouted), fmt.Sprintf("decrypt_errors=%d", r.DecryptErrors),
		"p50_us=" + f(r.Latency.P50), "p90_us=" + f(r.Latency.P90), "p99_us=" + f(r.Latency.P99),
		"p999_us=" + f(r.Latency.P999), "max_us=" + f(r.Latency.Max), "mean_us=" + f(r.Latency.Mean),
		"relay_cpu=" + cpu, "cpu_per_kpps=" + perK, "gen_cpu=" + f(r.GenCPU), "allocs_per_pkt=" + allocs,
		"allocs_per_pkt_net=" + allocsNet, "allocs_idle_per_s=" + allocsIdle,
		fmt.Sprintf("rcvbuf_errors=%d", r.RcvbufErrors), fmt.Sprintf("sndbuf_errors=%d", r.SndbufErrors),
		fmt.Sprintf("clean=%t", r.Clean()),
	}
	return "SUMMARY " + strings.Join(kv, " ")
}

// WriteMediaSummary writes the human-readable table of a media run.
func WriteMediaSummary(w io.Writer, r *MediaResult) error {
	bw := bufio.NewWriter(w)
	p := func(k, format string, a ...any) { fmt.Fprintf(bw, "%-22s "+format+"\n", append([]any{k}, a...)...) }
	p("control", "%s %s (srtp %s)", r.Control, r.Target, r.SRTP)
	p("calls", "%d × 2 streams × %d pps = %.0f packets/s offered", r.Calls, r.PPS, r.TargetRate)
	p("setup", "%.3f s", r.SetupS)
	p("sent", "%d (%.0f/s, at most %.2f ms behind, %d send errors)", r.Sent, r.SendRate, r.SendBehindMS, r.SendErrors)
	p("received", "%d (%.0f/s)", r.Received, r.RecvRate)
	p("lost", "%d (%.4f %%), %d duplicates, %d reordered", r.Lost, r.LossPct, r.Dups, r.Reordered)
	p("foreign/misrouted", "%d / %d, %d SRTP failures", r.Foreign, r.Misrouted, r.DecryptErrors)
	l := r.Latency
	p("one-way latency µs", "p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f", l.P50, l.P90, l.P99, l.P999, l.Max)
	if r.RelayCPU > 0 {
		p("relay CPU", "%.1f %% (%.2f %% per 1,000 packets/s)", r.RelayCPU, r.CPUPerKPPS)
	}
	p("generator CPU", "%.1f %%", r.GenCPU)
	if r.AllocsMeasured {
		p("relay allocs/packet", "%.3f (%.3f beyond its idle %.0f/s)", r.AllocsPerPacket, r.AllocsPerPacketNet, r.AllocsIdlePerS)
	} else if r.MetricsError != "" {
		p("relay allocs/packet", "- (%s)", r.MetricsError)
	}
	p("kernel drops", "RcvbufErrors %d, SndbufErrors %d", r.RcvbufErrors, r.SndbufErrors)
	if r.TeardownError != "" {
		p("teardown", "%s", r.TeardownError)
	}
	return bw.Flush()
}

// WriteMediaJSON writes r as JSON.
func WriteMediaJSON(w io.Writer, r *MediaResult) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(map[string]any{"media": r})
}

// readProcTicks returns the CPU ticks of pid and its descendants (-1: this
// process); false when unknown (pid 0 or gone).
func readProcTicks(pid int) (uint64, bool) {
	if pid == 0 {
		return 0, false
	}
	if pid < 0 {
		pid = os.Getpid()
	}
	t, _, err := readTree(pid)
	return t, err == nil
}

// scrapeMallocs reads go_memstats_mallocs_total from a Prometheus text
// endpoint; url "" gives 0.
func scrapeMallocs(ctx context.Context, url string) (float64, error) {
	if url == "" {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, err
	}
	return metricValue(body, "go_memstats_mallocs_total")
}

// metricValue finds "name value" in Prometheus text exposition format.
func metricValue(body []byte, name string) (float64, error) {
	for line := range bytes.Lines(body) {
		f := bytes.Fields(line)
		if len(f) >= 2 && string(f[0]) == name {
			return strconv.ParseFloat(string(f[1]), 64)
		}
	}
	return 0, fmt.Errorf("metrics: no %s", name)
}

// udpSNMP holds the Udp drop counters of /proc/net/snmp.
type udpSNMP struct{ rcvbufErrors, sndbufErrors uint64 }

func readUDPSNMP() udpSNMP {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return udpSNMP{}
	}
	return parseUDPSNMP(b)
}

// parseUDPSNMP reads the "Udp:" header and value lines.
func parseUDPSNMP(b []byte) udpSNMP {
	var names []string
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, "Udp: ") {
			continue
		}
		f := strings.Fields(line)[1:]
		if names == nil {
			names = f
			continue
		}
		var s udpSNMP
		for i, n := range names {
			if i >= len(f) {
				break
			}
			v, _ := strconv.ParseUint(f[i], 10, 64)
			switch n {
			case "RcvbufErrors":
				s.rcvbufErrors = v
			case "SndbufErrors":
				s.sndbufErrors = v
			}
		}
		return s
	}
	return udpSNMP{}
}
