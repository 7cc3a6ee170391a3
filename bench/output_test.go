package bench

import (
	"bytes"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedResult is a deterministic run of three periods.
func fixedResult() *Result {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	r := &Result{Scenario: "register", Transport: "udp", Target: "127.0.0.1:5060", Rate: 100, Start: start,
		SendTime: 3 * time.Second, Elapsed: 3100 * time.Millisecond,
		FailuresByStatus: map[int]uint64{503: 2, 408: 1},
		TargetProc:       ProcStats{PID: 42, CPUAvg: 50, CPUMax: 60, RSSMax: 30 << 20, RSSLast: 29 << 20},
		Generator:        ProcStats{PID: 7, CPUAvg: 10, CPUMax: 12, RSSMax: 20 << 20, RSSLast: 20 << 20},
	}
	var total Counts
	for i := 1; i <= 3; i++ {
		d := Counts{Started: 100, Transactions: 101, Retransmissions: uint64(i), OK: 98, Failed: 1,
			Timeouts: uint64(i % 2), Late: 1, Unmatched: uint64(i - 1)}
		total = Counts{Started: total.Started + d.Started, Transactions: total.Transactions + d.Transactions,
			Retransmissions: total.Retransmissions + d.Retransmissions, OK: total.OK + d.OK,
			Failed: total.Failed + d.Failed, Timeouts: total.Timeouts + d.Timeouts, Late: total.Late + d.Late,
			Unmatched: total.Unmatched + d.Unmatched}
		lat := Percentiles{Count: 98, Mean: time.Duration(i) * 300 * time.Microsecond, StdDev: 50 * time.Microsecond,
			P50: 250 * time.Microsecond, P90: 400 * time.Microsecond, P99: time.Duration(i) * time.Millisecond,
			P999: 4 * time.Millisecond, Max: 5 * time.Millisecond}
		r.Series = append(r.Series, Sample{Time: start.Add(time.Duration(i) * time.Second),
			Elapsed: time.Duration(i) * time.Second, Period: time.Second, TargetRate: 100, Delta: d, Total: total,
			Outstanding: 2, Latency: lat, TotalLatency: lat, Target: ProcSample{CPU: 50, RSS: 30 << 20},
			Generator: ProcSample{CPU: 10, RSS: 20 << 20}})
	}
	r.Total = total
	r.Latency = r.Series[2].Latency
	r.SendRate, r.CompletionRate = 100, 98
	r.FailureRatio = float64(total.Unsuccessful()) / float64(total.Started)
	return r
}

// Wall-clock columns are masked: the goldens must not depend on the time
// zone or the day they were made.
var (
	maskSIPPTime = regexp.MustCompile(`\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d{6}\t\d+\.\d{6}`)
	maskJSONTime = regexp.MustCompile(`"start": "[^"]*"`)
)

func mask(b []byte) []byte {
	b = maskSIPPTime.ReplaceAll(b, []byte("<time>"))
	return maskJSONTime.ReplaceAll(b, []byte(`"start": "<time>"`))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	got = mask(got)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

func TestOutputGolden(t *testing.T) {
	tests := []struct {
		name  string
		write func(*bytes.Buffer, *Result) error
	}{
		{"stat.csv", func(b *bytes.Buffer, r *Result) error { return WriteCSV(b, r) }},
		{"result.json", func(b *bytes.Buffer, r *Result) error { return WriteJSON(b, r) }},
		{"summary.txt", func(b *bytes.Buffer, r *Result) error {
			if err := WriteSummary(b, r); err != nil {
				return err
			}
			b.WriteString(SummaryLine(r) + "\n")
			return nil
		}},
		{"progress.txt", func(b *bytes.Buffer, r *Result) error {
			for _, s := range r.Series {
				writeProgress(b, s, false)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b, fixedResult()); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

func TestCSVShape(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCSV(&b, fixedResult()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if n := strings.Count(l, ";"); n != len(csvColumns) {
			t.Errorf("%d separators, want %d: %s", n, len(csvColumns), l)
		}
	}
}

func TestWritePlot(t *testing.T) {
	var b bytes.Buffer
	if err := WritePlot(&b, fixedResult()); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Bounds().Size(); s.X < 700 || s.Y < 500 {
		t.Errorf("image %v", s)
	}
}
