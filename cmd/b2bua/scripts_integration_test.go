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
		// kamailio marks a case that needs Kamailio's presence modules.
		kamailio bool
	}{
		{"sipp-register", []string{"bench/sipp-register.sh"}, []string{"RATES=200", "SECONDS_PER_STEP=1", "PORT=" + strconv.Itoa(freeUDPPort(t))}, "SUMMARY max_clean_rate=200", false},
		{"compare ours", []string{"bench/compare.sh", "--only", "ours", "--rates", "200", "--step", "1s"}, nil, "server=ours rate=200 ok_rate=", false},
		// --fresh: a new server before the second step, which must work
		// as well as the first.
		{"compare ours fresh", []string{"bench/compare.sh", "--only", "ours", "--fresh", "--rates", "200,300", "--step", "1s"}, nil, "compare.sh: ours restarted on", false},
		{"sipp-compare", []string{"bench/sipp-compare.sh"}, []string{"SERVERS=new=" + binary, "RATES=200", "SECONDS_PER_STEP=1", "PORT=" + strconv.Itoa(freeUDPPort(t))}, "SUMMARY server=new max_clean_rate=200", false},
		{"sipp-refresh", []string{"bench/sipp-refresh.sh"}, []string{"IDLES=1s", "RATES=200", "SECONDS_PER_STEP=1", "FILL_RATE=200", "PORT=" + strconv.Itoa(freeUDPPort(t))}, "SUMMARY idle=1s max_clean_refresh_rate=200", false},
		// Our server answers presence once it implements it; until then
		// the run shows the plumbing works (a STEP line and the table).
		{"compare presence ours", []string{"bench/compare.sh", "--scenario", "presence", "--only", "ours", "--rates", "1", "--step", "1s", "--", "--watchers", "5", "--total", "1"}, nil, "STEP server=ours rate=1 ", false},
		{"compare presence kamailio", []string{"bench/compare.sh", "--scenario", "presence", "--only", "kamailio", "--rates", "1", "--step", "1s", "--", "--watchers", "20", "--total", "1"}, nil, "notify_received=20 ", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.kamailio && !haveKamailioPresence() {
				t.Skip("kamailio with presence modules not installed (apt-get install -y kamailio kamailio-presence-modules)")
			}
			cmd := exec.Command(tc.cmd[0], tc.cmd[1:]...)
			cmd.Dir = root
			cmd.Env = append(append(os.Environ(), "B2BUA="+binary), tc.env...)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("%v: %v\n%s", tc.cmd, err, out)
			}
			steps := strings.Count(string(out), "STEP server=ours")
			if strings.HasPrefix(tc.name, "compare ours") && strings.Count(string(out), " failed=0 ") != steps {
				t.Fatalf("%v reported failures:\n%s", tc.cmd, out)
			}
		})
	}
}

// haveKamailioPresence reports whether kamailio and its presence modules
// (bench/kamailio/presence.cfg loads them from this path) are installed.
func haveKamailioPresence() bool {
	if _, err := exec.LookPath("kamailio"); err != nil {
		return false
	}
	_, err := os.Stat("/usr/lib/x86_64-linux-gnu/kamailio/modules/presence_xml.so")
	return err == nil
}
