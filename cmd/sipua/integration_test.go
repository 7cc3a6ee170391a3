package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests build the sipua and b2bua binaries and drive sipua against
// the real server over loopback, and against another sipua peer to peer.

var sipuaBin, serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sipua-it")
	if err != nil {
		panic(err)
	}
	sipuaBin, serverBin = filepath.Join(dir, "sipua"), filepath.Join(dir, "b2bua")
	for _, b := range []struct{ out, pkg string }{{sipuaBin, "."}, {serverBin, "../b2bua"}} {
		if out, err := exec.Command("go", "build", "-o", b.out, b.pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `b2bua serve`.
type server struct {
	udp, http string
	logs      *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs `b2bua serve` on free loopback ports with data in dir
// (auth none unless args say otherwise) and waits until it is ready.
func startServer(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	base := []string{"serve", "--listen", "udp:127.0.0.1:0", "--http", "127.0.0.1:0", "--data", dir,
		"--log-format", "json", "--log-level", "info", "--auth", "none"}
	cmd := exec.Command(serverBin, append(base, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{logs: &lockedBuffer{}}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			_, _ = fmt.Fprintln(s.logs, sc.Text())
			var e struct {
				Msg  string   `json:"msg"`
				SIP  []string `json:"sip"`
				Addr string   `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			switch e.Msg {
			case "http listening":
				s.http = e.Addr
			case "b2bua ready":
				for _, l := range e.SIP {
					if network, addr, _ := strings.Cut(l, ":"); network == "udp" {
						s.udp = addr
					}
				}
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("server exited before ready:\n%s", s.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("server not ready in 30 s:\n%s", s.logs)
	}
	return s
}

// result is how a sipua run ended.
type result struct {
	stdout, stderr string
	code           int
}

// sipua runs the client to its end, feeding stdin.
func sipua(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipuaBin, append([]string{"--timeout", "5s"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: strings.TrimSpace(out.String()), stderr: strings.TrimSpace(errOut.String())}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sipua %v: %v", args, err)
	}
	return r
}

// want checks that r succeeded with stdout containing s.
func (r result) want(t *testing.T, s string) {
	t.Helper()
	if r.code != 0 || !strings.Contains(r.stdout, s) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and %q", r.code, r.stdout, r.stderr, s)
	}
}

// oneLineError checks that r failed with exit code and one line on stderr
// that starts with prefix.
func (r result) oneLineError(t *testing.T, code int, prefix string) {
	t.Helper()
	if r.code != code || strings.Contains(r.stderr, "\n") || !strings.HasPrefix(r.stderr, prefix) {
		t.Fatalf("exit %d, stderr %q; want %d and one line starting %q", r.code, r.stderr, code, prefix)
	}
}

// background is a long-running sipua (watch, listen, p2p serve).
type background struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *lockedBuffer
	exited chan struct{}
	code   int
}

func startSipua(t *testing.T, args ...string) *background {
	t.Helper()
	cmd := exec.Command(sipuaBin, append([]string{"--timeout", "5s"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &background{cmd: cmd, lines: make(chan string, 100), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = b.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		close(b.lines)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			b.code = ee.ExitCode()
		}
		close(b.exited)
	}()
	t.Cleanup(func() {
		select { // not ProcessState: Wait writes it on the reader goroutine
		case <-b.exited:
		default:
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	})
	return b
}

// waitLine returns the first line of output that contains s.
func (b *background) waitLine(t *testing.T, s string) string {
	t.Helper()
	var seen []string
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				<-b.exited
				t.Fatalf("sipua %v exited (%d) before a line with %q:\n%s\nstderr: %s", b.cmd.Args[1:], b.code, s, strings.Join(seen, "\n"), b.stderr)
			}
			seen = append(seen, l)
			if strings.Contains(l, s) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line with %q in 20 s:\n%s\nstderr: %s", s, strings.Join(seen, "\n"), b.stderr)
		}
	}
}

// interrupt sends Ctrl-C and wants a clean exit (0) within the clean-up
// time.
func (b *background) interrupt(t *testing.T) {
	t.Helper()
	_ = b.cmd.Process.Signal(os.Interrupt)
	go func() {
		for range b.lines { // drain
		}
	}()
	select {
	case <-b.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("sipua %v did not stop on Ctrl-C", b.cmd.Args[1:])
	}
	if b.code != 0 {
		t.Fatalf("sipua %v: exit %d after Ctrl-C, stderr %s", b.cmd.Args[1:], b.code, b.stderr)
	}
}

func TestRegisterPresenceWatchMessageAgainstServer(t *testing.T) {
	s := startServer(t, t.TempDir())
	alice := []string{"--id", "sip:alice@localhost", "--server", s.udp}
	bob := []string{"--id", "sip:bob@localhost", "--server", s.udp}

	sipua(t, "", append(alice, "register", "--once")...).want(t, "registered sip:alice@localhost at "+s.udp)
	sipua(t, "", append(alice, "presence", "set", "busy", "--note", "x", "--once")...).want(t, `published busy "x"`)

	w := startSipua(t, append(bob, "watch", "alice")...)
	line := w.waitLine(t, " busy")
	if !strings.Contains(line, "alice busy \"x\"") {
		t.Fatalf("watch line %q: want time, target, status and note", line)
	}
	w.interrupt(t)

	// carol registered once, so the server knows her, and is offline: the
	// server stores the message (202) and hands it over when she is back.
	carol := []string{"--id", "sip:carol@localhost", "--server", s.udp}
	sipua(t, "", append(carol, "register", "--unregister")...).want(t, "unregistered")
	r := sipua(t, "", append(alice, "message", "carol", "are you there?")...)
	if r.code != 0 || (r.stdout != "stored for later delivery") {
		t.Fatalf("message to an offline user: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	l := startSipua(t, append(carol, "listen")...)
	l.waitLine(t, "message from sip:alice@localhost: are you there?")
	l.interrupt(t)

	// Nobody ever registered as dave: 404, one line, exit 1.
	sipua(t, "", append(alice, "message", "dave", "hello?")...).oneLineError(t, exitError, "sipua: message: 404 Not Found")
}

func TestListenPrintsMessagesAndPresence(t *testing.T) {
	s := startServer(t, t.TempDir())
	alice := []string{"--id", "sip:alice@localhost", "--server", s.udp}
	bob := []string{"--id", "sip:bob@localhost", "--server", s.udp}

	l := startSipua(t, append(bob, "listen", "--watch", "alice")...)
	l.waitLine(t, "registered sip:bob@localhost")
	sipua(t, "", append(alice, "presence", "set", "away", "--once")...).want(t, "published away")
	l.waitLine(t, "alice away")
	sipua(t, "", append(alice, "message", "bob", "hi", "bob")...).want(t, "")
	l.waitLine(t, "message from sip:alice@localhost: hi bob")
	l.interrupt(t)
}

func TestBearerPasswordGrant(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "--auth", "bearer")
	add := exec.Command(serverBin, "user", "add", "alice", "--password-stdin", "--data", dir, "--http", s.http)
	add.Stdin = strings.NewReader("s3cret-alice\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("b2bua user add: %v\n%s", err, out)
	}
	alice := []string{"--id", "sip:alice@localhost", "--server", s.udp}
	grant := append(alice, "--token-url", "http://"+s.http+"/oauth/token")

	t.Run("password on stdin", func(t *testing.T) {
		sipua(t, "s3cret-alice\n", append(grant, "register", "--once")...).want(t, "registered sip:alice@localhost")
	})
	t.Run("presence with the grant", func(t *testing.T) {
		sipua(t, "s3cret-alice\n", append(grant, "presence", "set", "dnd", "--once")...).want(t, "published dnd")
	})
	t.Run("wrong password exits 3", func(t *testing.T) {
		sipua(t, "wrong\n", append(grant, "register", "--once")...).oneLineError(t, exitAuth, "sipua: register: ")
	})
	t.Run("no credentials exits 3", func(t *testing.T) {
		sipua(t, "", append(alice, "register", "--once")...).oneLineError(t, exitAuth, "sipua: register: ")
	})
	t.Run("no password on stdin", func(t *testing.T) {
		sipua(t, "", append(grant, "register", "--once")...).oneLineError(t, exitError, "sipua: read password: ")
	})
}

func TestPeerToPeer(t *testing.T) {
	port := freeUDPPort(t)
	bobURI := fmt.Sprintf("sip:bob@127.0.0.1:%d", port)
	alice := []string{"--id", "sip:alice@127.0.0.1"}

	serve := startSipua(t, "--id", bobURI, "--listen", fmt.Sprintf("udp:127.0.0.1:%d", port),
		"p2p", "serve", "--status", "busy", "--note", "deep work", "--allow", "sip:alice@127.0.0.1")
	serve.waitLine(t, "serving "+bobURI)

	w := startSipua(t, append(alice, "p2p", "watch", bobURI)...)
	w.waitLine(t, bobURI+` busy "deep work"`)
	w.interrupt(t)

	r := sipua(t, "", append(alice, "p2p", "message", bobURI, "hi")...)
	if r.stdout != "delivered" {
		t.Fatalf("p2p message: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	serve.waitLine(t, "message from sip:alice@127.0.0.1: hi")

	t.Run("not on the allow list", func(t *testing.T) {
		// Refused (403): sipua exits 3, or shows the subscription ended.
		m := startSipua(t, "--id", "sip:mallory@127.0.0.1", "p2p", "watch", bobURI)
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-m.lines:
				if ok && strings.Contains(l, " busy") {
					t.Fatalf("a watcher off the allow list sees %q", l)
				}
				if ok && strings.Contains(l, "ended") {
					m.interrupt(t)
					return
				}
				if !ok {
					<-m.exited
					if m.code != exitAuth {
						t.Fatalf("exit %d, want 3: %s", m.code, m.stderr)
					}
					return
				}
			case <-timeout:
				t.Fatal("a watcher off the allow list was not refused in 20 s")
			}
		}
	})
	serve.interrupt(t)
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

// TestCtrlCUnregisters: after Ctrl-C the server no longer has the binding,
// so a message to the user is stored (202) instead of sent to a listener
// that is gone (which, with `register --once`, ends in no answer).
func TestCtrlCUnregisters(t *testing.T) {
	s := startServer(t, t.TempDir())
	carol := []string{"--id", "sip:carol@localhost", "--server", s.udp}
	reg := startSipua(t, append(carol, "register")...)
	reg.waitLine(t, "registered sip:carol@localhost")
	reg.interrupt(t)
	r := sipua(t, "", "--id", "sip:alice@localhost", "--server", s.udp, "message", "carol", "still there?")
	if r.code != 0 || (r.stdout != "stored for later delivery") {
		t.Fatalf("message after Ctrl-C: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
}

// TestPeerToPeerCall: `p2p call` to a `p2p answer`: rings, is answered,
// sends DTMF and hangs up after --duration; and a rejected call is an
// error with the status.
func TestPeerToPeerCall(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			port := freeUDPPort(t)
			bobURI := fmt.Sprintf("sip:bob@127.0.0.1:%d", port)
			target := bobURI
			if network == "tcp" {
				target += ";transport=tcp"
			}
			alice := []string{"--id", "sip:alice@127.0.0.1", "--listen", network + ":127.0.0.1:0"}
			listen := fmt.Sprintf("%s:127.0.0.1:%d", network, port)

			bob := startSipua(t, "--id", bobURI, "--listen", listen, "p2p", "answer", "--after", "300ms")
			bob.waitLine(t, "waiting for a call")
			r := sipua(t, "", append(alice, "p2p", "call", target, "--duration", "500ms", "--dtmf", "12#")...)
			if r.code != 0 || r.stdout != "ringing\nanswered\nsent dtmf 12#\nended" {
				t.Fatalf("call: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			bob.waitLine(t, "call from sip:alice@127.0.0.1")
			bob.waitLine(t, "answered")
			for _, d := range []string{"dtmf 1", "dtmf 2", "dtmf #", "ended"} {
				bob.waitLine(t, d)
			}
			<-bob.exited
			if bob.code != 0 {
				t.Fatalf("answer: exit %d, stderr %s", bob.code, bob.stderr)
			}

			busy := startSipua(t, "--id", bobURI, "--listen", listen, "p2p", "answer", "--reject", "486")
			busy.waitLine(t, "waiting for a call")
			sipua(t, "", append(alice, "p2p", "call", target)...).oneLineError(t, exitError, "sipua: call "+target+": 486 Busy Here")
			busy.waitLine(t, "rejected 486")
			<-busy.exited
			if busy.code != 0 {
				t.Fatalf("answer --reject: exit %d, stderr %s", busy.code, busy.stderr)
			}
		})
	}
}

// TestCallThroughServer: alice `call bob` through the b2bua while bob runs
// `answer`: ringing, answered, DTMF across the B2BUA, hang-up after
// --duration seen by bob; then a rejected call, and a call to nobody.
func TestCallThroughServer(t *testing.T) {
	s := startServer(t, t.TempDir())
	alice := []string{"--id", "sip:alice@localhost", "--server", s.udp}
	bob := []string{"--id", "sip:bob@localhost", "--server", s.udp}

	b := startSipua(t, append(bob, "answer", "--after", "300ms")...)
	b.waitLine(t, "waiting for a call")
	r := sipua(t, "", append(alice, "call", "bob", "--duration", "1s", "--dtmf", "12")...)
	if r.code != 0 || r.stdout != "ringing\nanswered\nsent dtmf 12\nended" {
		t.Fatalf("call: exit %d, stdout %q, stderr %q\nserver: %s", r.code, r.stdout, r.stderr, s.logs)
	}
	b.waitLine(t, "call from sip:alice@localhost")
	for _, l := range []string{"answered", "dtmf 1", "dtmf 2", "ended"} {
		b.waitLine(t, l)
	}
	<-b.exited
	if b.code != 0 {
		t.Fatalf("answer: exit %d, stderr %s", b.code, b.stderr)
	}

	busy := startSipua(t, append(bob, "answer", "--reject", "486")...)
	busy.waitLine(t, "waiting for a call")
	sipua(t, "", append(alice, "call", "bob")...).oneLineError(t, exitError, "sipua: call bob: 486")
	busy.waitLine(t, "rejected 486")
	<-busy.exited

	r = sipua(t, "", append(alice, "call", "nobody")...)
	if r.code != exitError || !strings.HasPrefix(r.stderr, "sipua: call nobody: 4") {
		t.Fatalf("call nobody: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestCallWithDigestAndCancel: through a server that wants Digest, the
// INVITE is challenged and sent again with the credentials; a wrong
// password exits 3; Ctrl-C while it rings cancels the call (CANCEL
// through the b2bua), which the callee sees.
func TestCallWithDigestAndCancel(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "--auth", "digest")
	for _, u := range []string{"alice", "bob"} {
		add := exec.Command(serverBin, "user", "add", u, "--password-stdin", "--data", dir, "--http", s.http)
		add.Stdin = strings.NewReader("pw-" + u + "\n")
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("b2bua user add %s: %v\n%s", u, err, out)
		}
	}
	alice := []string{"--id", "sip:alice@localhost", "--server", s.udp, "--user", "alice"}
	bob := []string{"--id", "sip:bob@localhost", "--server", s.udp, "--user", "bob", "--password", "pw-bob"}

	b := startSipua(t, append(bob, "answer")...)
	b.waitLine(t, "waiting for a call")
	r := sipua(t, "pw-alice\n", append(alice, "call", "bob", "--duration", "300ms")...)
	if r.code != 0 || !strings.HasSuffix(r.stdout, "answered\nended") {
		t.Fatalf("call with digest: exit %d, stdout %q, stderr %q\nserver: %s", r.code, r.stdout, r.stderr, s.logs)
	}
	b.waitLine(t, "ended")
	<-b.exited

	sipua(t, "wrong\n", append(alice, "call", "bob")...).oneLineError(t, exitAuth, "sipua: call bob: ")

	b = startSipua(t, append(bob, "answer", "--after", "20s")...)
	b.waitLine(t, "waiting for a call")
	a := startSipua(t, append(alice, "--password", "pw-alice", "call", "bob")...)
	a.waitLine(t, "ringing")
	b.waitLine(t, "call from sip:alice@localhost")
	a.interrupt(t)
	b.waitLine(t, "cancelled by the caller")
	<-b.exited
	if b.code != 0 {
		t.Fatalf("answer: exit %d, stderr %s", b.code, b.stderr)
	}
}
