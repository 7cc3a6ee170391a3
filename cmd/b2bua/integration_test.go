package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// These tests build the real binary and drive it over loopback with real
// clients: SIPp for SIP, net/http for the HTTP endpoints.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "b2bua-it")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "b2bua")
	out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running b2bua serve.
type proc struct {
	cmd        *exec.Cmd
	udp, tcp   string
	http       string
	logs       *syncBuffer
	exited     chan error
	exitResult error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs `b2bua serve` on free loopback ports with data in dir and
// waits for its "b2bua ready" log line.
func start(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p, err := tryStart(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	return p
}

func tryStart(dir string, args ...string) (*proc, error) {
	base := []string{"serve", "--listen", "udp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0", "--http", "127.0.0.1:0",
		"--data", dir, "--log-format", "json", "--log-level", "info", "--auth", "none"} // tests of auth override --auth
	cmd := exec.Command(binary, append(base, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, logs: &syncBuffer{}, exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	go p.readLogs(stderr, ready)
	go func() { p.exited <- cmd.Wait() }()
	select {
	case <-ready:
		return p, nil
	case err := <-p.exited:
		p.exitResult = err
		p.exited <- err
		return p, fmt.Errorf("server exited before ready: %v\n%s", err, p.logs)
	case <-time.After(30 * time.Second):
		p.kill()
		return nil, fmt.Errorf("server not ready in 30 s\n%s", p.logs)
	}
}

func (p *proc) readLogs(r io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		_, _ = p.logs.Write([]byte(line + "\n"))
		var entry struct {
			Msg  string   `json:"msg"`
			SIP  []string `json:"sip"`
			Addr string   `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		switch entry.Msg {
		case "http listening":
			p.http = entry.Addr
		case "b2bua ready":
			for _, l := range entry.SIP {
				network, addr, _ := strings.Cut(l, ":")
				if network == "udp" {
					p.udp = addr
				} else {
					p.tcp = addr
				}
			}
			close(ready)
		}
	}
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// stop sends sig and waits for the exit status.
func (p *proc) stop(t *testing.T, sig os.Signal) error {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(15 * time.Second):
		t.Fatalf("server did not stop on %v\n%s", sig, p.logs)
		return nil
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// mediaPortNext hands out SIPp media ports (-mp) below the kernel's
// ephemeral range (32768-60999 here) and the relays' (19000-30000), where
// nothing else in these tests binds: a port freeUDPPort found free can be
// handed to another test's socket before SIPp binds it.
var mediaPortNext atomic.Int32

// sippMediaPort is a SIPp media port: SIPp binds it and the three above
// (RTP and RTCP of audio and of video), so ports go four at a time, and
// four that cannot all be bound now are skipped.
func sippMediaPort(t *testing.T) int {
	t.Helper()
	for range 200 {
		base := 11000 + int(mediaPortNext.Add(4)-4)%7000
		ok := true
		for i := range 4 {
			pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			pc.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no four free UDP ports in 11000-17999 for SIPp's media")
	return 0
}

// sipp runs a scenario of testdata/sipp against target and fails the test
// when any call fails.
func sipp(t *testing.T, scenario, target string, calls, rate int, extra ...string) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		if testing.Short() {
			t.Skip("sipp not installed")
		}
		t.Fatal("sipp not installed: `make test` installs it (apt-get install sip-tester)")
	}
	dir := t.TempDir()
	args := []string{"-sf", filepath.Join("..", "..", "testdata", "sipp", scenario), "-key", "domain", "localhost",
		"-i", "127.0.0.1", "-p", fmt.Sprint(freeUDPPort(t)), "-m", fmt.Sprint(calls), "-r", fmt.Sprint(rate),
		"-timeout", "60s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-trace_screen", "-screen_file", filepath.Join(dir, "screen.log")}
	args = append(append(args, extra...), target)
	cmd := exec.Command("sipp", args...)
	out, err := cmd.CombinedOutput()
	screen, _ := os.ReadFile(filepath.Join(dir, "screen.log"))
	if err != nil {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp %s: %v\n%s\n%s\n%s", scenario, err, out, screen, head(string(errs), 3000))
	}
	if !strings.Contains(string(screen), "Successful call") {
		t.Fatalf("sipp %s: no statistics\n%s", scenario, screen)
	}
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func TestSIPpLifecycleThousandUsers(t *testing.T) {
	p := start(t, t.TempDir())
	sipp(t, "lifecycle.xml", p.udp, 1000, 500)
	sipp(t, "lifecycle.xml", p.tcp, 200, 200, "-t", "t1")
}

func TestKill9KeepsEveryAcknowledgedBinding(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir)
	sipp(t, "register.xml", p.udp, 1000, 1000)
	// SIPp exits once every 200 OK arrived: kill right after the replies.
	if err := p.stop(t, syscall.SIGKILL); err == nil {
		t.Fatal("kill -9 reported a clean exit")
	}
	p = start(t, dir)
	if !strings.Contains(p.logs.String(), `"restored":1000`) {
		t.Fatalf("restart did not restore 1000 registrations:\n%s", p.logs)
	}
	sipp(t, "query.xml", p.udp, 1000, 1000)
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir)
	sipp(t, "register.xml", p.udp, 100, 200)
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
	}
	if strings.Contains(p.logs.String(), `"level":"error"`) {
		t.Fatalf("errors logged during shutdown:\n%s", p.logs)
	}
	p = start(t, dir)
	sipp(t, "query.xml", p.udp, 100, 200)
}

func TestSecondServerOnSameDataDirFails(t *testing.T) {
	dir := t.TempDir()
	start(t, dir)
	p, err := tryStart(dir)
	if err == nil {
		p.kill()
		t.Fatal("a second server opened a data directory in use")
	}
	if !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("unclear error for a locked data directory: %v", err)
	}
}

func TestHTTPEndpoints(t *testing.T) {
	p := start(t, t.TempDir())
	sipp(t, "register.xml", p.udp, 10, 100)
	for _, tc := range []struct {
		path string
		want string
	}{
		{"/healthz", "ok"},
		{"/readyz", "ready"},
		{"/metrics", `b2bua_sip_requests_total{method="REGISTER",status="200"} 10`},
		// --http 127.0.0.1:0: the issuer derived from it names the port bound.
		{"/.well-known/oauth-authorization-server", `"issuer":"http://` + p.http + `"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get("http://" + p.http + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || !strings.Contains(string(body), tc.want) {
				t.Fatalf("%s: %d\n%s", tc.path, res.StatusCode, head(string(body), 2000))
			}
		})
	}
}

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "b2bua.yaml")
	if err := os.WriteFile(file, []byte("registrar:\n  min_expires: 7200\n  max_expires: 9000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The file asks a minimum above SIPp's 3600 s; the flag brings it back
	// down, so the register scenario passes only if flags win over files.
	p := start(t, filepath.Join(dir, "data"), "--config", file, "--min-expires", "60")
	sipp(t, "register.xml", p.udp, 10, 100)
}

func TestBadFlagsFailClearly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad listener", []string{"serve", "--listen", "sctp:1.2.3.4:5060"}, "want udp:HOST:PORT"},
		{"listener port out of range", []string{"serve", "--listen", "udp:127.0.0.1:99999"}, `listener "udp:127.0.0.1:99999": address 99999: invalid port`},
		{"listener without port", []string{"serve", "--listen", "tcp:127.0.0.1"}, "missing port"},
		{"http without port", []string{"serve", "--listen", "udp:127.0.0.1:0", "--http", "localhost"}, `http "localhost": address localhost: missing port`},
		{"http port out of range", []string{"serve", "--listen", "udp:127.0.0.1:0", "--http", "127.0.0.1:70000"}, "invalid port"},
		{"http port in use", []string{"serve", "--listen", "udp:127.0.0.1:0", "--http", busy}, "address already in use"},
		{"sip port in use", []string{"serve", "--listen", "tcp:" + busy, "--http", "127.0.0.1:0"}, "address already in use"},
		{"unknown auth scheme", []string{"serve", "--auth", "basic"}, "auth scheme"},
		{"unknown digest algorithm", []string{"serve", "--digest-algorithms", "SHA-1"}, "digest algorithm"},
		{"bad log level", []string{"serve", "--log-level", "loud", "--data", t.TempDir(), "--listen", "udp:127.0.0.1:0", "--http", "127.0.0.1:0"}, "log level"},
		{"missing config file", []string{"serve", "--config", "/nonexistent.yaml"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary, tc.args...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("b2bua %v: %v\n%s", tc.args, err, out)
			}
			// Bad input is refused before anything touches the disk: no
			// ./data (the default) is left behind.
			if entries, _ := os.ReadDir(cmd.Dir); len(entries) > 0 {
				t.Fatalf("b2bua %v left %v behind", tc.args, entries)
			}
		})
	}
}
