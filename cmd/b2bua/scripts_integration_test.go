package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBenchScripts runs the benchmark scripts at a tiny rate against the
// real binary, so a change of the server's defaults (authentication on, for
// one) cannot break them unnoticed: they run outside CI otherwise.
func TestBenchScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark scripts")
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatal("sipp not installed: `make test` installs it")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cmd  []string
		env  []string
		want string
	}{
		{"sipp-register", []string{"bench/sipp-register.sh"}, []string{"RATES=200", "SECONDS_PER_STEP=1", "PORT=" + strconv.Itoa(freeUDPPort(t))}, "SUMMARY max_clean_rate=200"},
		{"compare ours", []string{"bench/compare.sh", "--only", "ours", "--rates", "200", "--step", "1s"}, nil, "server=ours rate=200 ok_rate="},
		{"sipp-compare", []string{"bench/sipp-compare.sh"}, []string{"SERVERS=new=" + binary, "RATES=200", "SECONDS_PER_STEP=1", "PORT=" + strconv.Itoa(freeUDPPort(t))}, "SUMMARY server=new max_clean_rate=200"},
		{"sipp-refresh", []string{"bench/sipp-refresh.sh"}, []string{"IDLES=1s", "RATES=200", "SECONDS_PER_STEP=1", "FILL_RATE=200", "PORT=" + strconv.Itoa(freeUDPPort(t))}, "SUMMARY idle=1s max_clean_refresh_rate=200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(tc.cmd[0], tc.cmd[1:]...)
			cmd.Dir = root
			cmd.Env = append(append(os.Environ(), "B2BUA="+binary), tc.env...)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("%v: %v\n%s", tc.cmd, err, out)
			}
			if tc.name == "compare ours" && !strings.Contains(string(out), "failed=0") {
				t.Fatalf("%v reported failures:\n%s", tc.cmd, out)
			}
		})
	}
}
