package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestMetricValue(t *testing.T) {
	body := []byte("# HELP go_memstats_mallocs_total Total number of heap objects allocated.\n" +
		"# TYPE go_memstats_mallocs_total counter\ngo_memstats_mallocs_total_x 1\ngo_memstats_mallocs_total 1.234567e+06\n" +
		"media_packets_total{dir=\"in\"} 5\n")
	for _, tc := range []struct {
		name string
		want float64
		ok   bool
	}{
		{"go_memstats_mallocs_total", 1234567, true},
		{"go_memstats_frees_total", 0, false},
	} {
		v, err := metricValue(body, tc.name)
		if (err == nil) != tc.ok || v != tc.want {
			t.Errorf("%s: %v, %v", tc.name, v, err)
		}
	}
}

func TestParseUDPSNMP(t *testing.T) {
	snmp := "Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n" +
		"Udp: 100 2 7 90 5 3 0 0 0\n" +
		"UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n" +
		"UdpLite: 0 0 0 0 9 9 0 0 0\n"
	if got := parseUDPSNMP([]byte(snmp)); got != (udpSNMP{rcvbufErrors: 5, sndbufErrors: 3}) {
		t.Errorf("%+v", got)
	}
	if got := parseUDPSNMP(nil); got != (udpSNMP{}) {
		t.Errorf("empty: %+v", got)
	}
}

func TestMediaReport(t *testing.T) {
	r := &MediaResult{Control: "ng", Target: "127.0.0.1:2223", Calls: 2, PPS: 50, SRTP: "b", Sockets: 2,
		TargetRate: 200, Sent: 1000, Received: 998, Lost: 2, LossPct: 0.2, RelayCPU: 12.5, CPUPerKPPS: 62.5,
		Latency: MediaLatency{Count: 998, P50: 80.5, P99: 170}}
	line := MediaSummaryLine(r)
	for _, want := range []string{"SUMMARY scenario=media control=ng srtp=b calls=2 pps=50 ", " lost=2 loss_pct=0.2000 ",
		" p50_us=80.500 ", " relay_cpu=12.500 cpu_per_kpps=62.500 ", " allocs_per_pkt=- ", " clean=false"} {
		if !strings.Contains(line, want) {
			t.Errorf("summary lacks %q:\n%s", want, line)
		}
	}
	r.AllocsMeasured, r.AllocsPerPacket, r.LossPct = true, 0, 0.05
	if line := MediaSummaryLine(r); !strings.Contains(line, " allocs_per_pkt=0.000 ") || !strings.Contains(line, " clean=true") {
		t.Errorf("measured zero allocations or a clean run:\n%s", line)
	}
	var text, js bytes.Buffer
	if err := WriteMediaSummary(&text, r); err != nil || !strings.Contains(text.String(), "relay allocs/packet") {
		t.Errorf("%v\n%s", err, text.String())
	}
	if err := WriteMediaJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var back struct{ Media MediaResult }
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Media.Received != 998 || back.Media.Latency.P99 != 170 {
		t.Errorf("json %+v, %v", back.Media, err)
	}
}
