package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBenchAgainstRealServer drives the real server with `b2bua bench`:
// every scenario step must succeed and the JSON report must say so.
func TestBenchAgainstRealServer(t *testing.T) {
	p := start(t, t.TempDir())
	out := filepath.Join(t.TempDir(), "report.json")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"register with refresh and unregister", []string{"register", "--rate", "500", "--total", "500", "--refresh", "--unregister", "--json", out}},
		{"options", []string{"options", "--rate", "500", "--total", "500"}},
		{"register over tcp", []string{"register", "--rate", "200", "--total", "200", "--transport", "tcp", "--user-prefix", "tcp"}},
		// The generator's socket is the online recipients' contact and
		// answers the relayed MESSAGEs: 200 only when relayed, 202 only when stored.
		{"message to online recipients", []string{"message", "--to", "online", "--recipients", "10", "--rate", "200", "--total", "200"}},
		{"message to offline recipients", []string{"message", "--to", "offline", "--recipients", "10", "--recipient-prefix", "off",
			"--rate", "200", "--total", "200"}},
		// Calls through our B2BUA to the generator's own UAS: INVITE,
		// 180/200 relayed, ACK and BYE across both legs, some held.
		{"call", []string{"call", "--callees", "5", "--rate", "100", "--total", "100", "--hold", "200ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := p.udp
			if strings.Contains(strings.Join(tc.args, " "), "tcp") {
				target = p.tcp
			}
			res, err := exec.Command(binary, append(append([]string{"bench"}, tc.args...), target)...).CombinedOutput()
			if err != nil {
				t.Fatalf("bench %v: %v\n%s", tc.args, err, res)
			}
			if !strings.Contains(string(res), "failed=0") || !strings.Contains(string(res), "timeouts=0") {
				t.Fatalf("bench %v reported failures:\n%s", tc.args, res)
			}
			if tc.name == "call" && (!strings.Contains(string(res), " calls_up=100 ") ||
				!strings.Contains(string(res), " calls_done=100 ")) {
				t.Fatalf("bench %v: not every call was set up and hung up:\n%s", tc.args, res)
			}
			if strings.Contains(tc.name, "online") && !strings.Contains(string(res), " requests_in=200 ") {
				t.Fatalf("bench %v: not every MESSAGE reached the generator:\n%s", tc.args, res)
			}
		})
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var report map[string]any
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, raw)
	}
}

// TestBenchTargetDown: a target that never answers yields a non-zero exit
// in bounded time, never a hang.
func TestBenchTargetDown(t *testing.T) {
	port := freeUDPPort(t)
	start := time.Now()
	cmd := exec.Command(binary, "bench", "options", "--rate", "50", "--total", "20", "--timeout", "1s", "127.0.0.1:"+strconv.Itoa(port))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("bench against nothing exited 0:\n%s", out)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("bench took %v against a dead target", time.Since(start))
	}
	if !strings.Contains(string(out), "timeouts=20") {
		t.Fatalf("timeouts not counted:\n%s", out)
	}
}
