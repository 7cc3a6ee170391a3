package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The presence service (RFC 3903 PUBLISH, RFC 6665 SUBSCRIBE/NOTIFY, RFC 3856)
// driven by SIPp against the real binary. The scenarios live in
// testdata/sipp/ and were first checked against Kamailio 5.6's presence
// module (testdata/sipp/kamailio), so a failure here points at the server
// first.

// presenceScenarios run over UDP and TCP against a server with --auth none.
// Each call is its own user[call_number] (and watcher[call_number]), so the
// calls of a run never share a presentity.
var presenceScenarios = []struct {
	name     string
	scenario string
	calls    int
	rate     int
}{
	// PUBLISH, refresh (SIP-If-Match, no body), modify, remove (Expires: 0).
	{"publish lifecycle", "publish.xml", 100, 50},
	// No Expires in the PUBLISH: the 200 says 3600.
	{"publish default expires", "publish_default_expires.xml", 20, 20},
	// 412 unknown ETag; 489 for Event: foo and for no Event; 415 for text/plain
	// and for a body without Content-Type; 423 with Min-Expires: 60.
	{"publish errors", "publish_errors.xml", 20, 20},
	// SUBSCRIBE with Accept: 200/202 + To tag, Contact, Expires; NOTIFY
	// active/pending with the published PIDF; refresh; unsubscribe and the
	// terminated NOTIFY.
	{"subscribe lifecycle", "subscribe.xml", 50, 25},
	// The same without an Accept header (pidf is the default).
	{"subscribe without accept", "subscribe_no_accept.xml", 20, 20},
	// 489 Event: foo; 481 for a To tag the server never gave.
	{"subscribe errors", "subscribe_errors.xml", 20, 20},
	// The watcher's NOTIFY after a PUBLISH made while it is subscribed.
	{"watcher sees a later publish", "watch.xml", 50, 25},
	// The same with 3 s pauses, past the presentity's passivation (2 s): the
	// subscription and the entity-tag outlive it.
	{"watcher and publisher pause", "watch_idle.xml", 10, 10},
}

func TestPresenceWithSIPp(t *testing.T) {
	p := start(t, t.TempDir())
	for _, tc := range presenceScenarios {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("udp", func(t *testing.T) {
				sippCalls(t, tc.scenario, p.udp, tc.calls, tc.rate)
			})
			t.Run("tcp", func(t *testing.T) {
				sippCalls(t, tc.scenario, p.tcp, max(tc.calls/5, 1), tc.rate, "-t", "t1")
			})
		})
	}
	// Refused requests are the clients' errors, not the server's.
	if logs := p.logs.String(); strings.Contains(logs, `"level":"error"`) {
		t.Fatalf("errors logged:\n%s", head(logs, 6000))
	}
}

// TestPresenceBearerWithSIPp turns authentication on: tokens come from the
// server's own token endpoint over real HTTP, and SIPp sends them in
// Authorization: Bearer (RFC 8898), read from an injection file.
func TestPresenceBearerWithSIPp(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "--auth", "bearer,digest")
	for _, u := range []string{"alice", "bob", "carol"} {
		cli(t, dir, p.http, "pw-"+u+"\n", "user", "add", u, "--password-stdin")
	}
	alice := accessToken(t, p.http, "alice", "sip:presence")
	bob := accessToken(t, p.http, "bob", "sip:presence")
	carol := accessToken(t, p.http, "carol", "sip:register") // a valid token, but not for presence

	t.Run("alice publishes and bob watches", func(t *testing.T) {
		inf := injection(t, "alice;"+alice+";bob;"+bob)
		t.Run("udp", func(t *testing.T) { sippCalls(t, "presence_bearer.xml", p.udp, 1, 1, "-inf", inf) })
		t.Run("tcp", func(t *testing.T) { sippCalls(t, "presence_bearer.xml", p.tcp, 1, 1, "-inf", inf, "-t", "t1") })
	})
	t.Run("no token is challenged", func(t *testing.T) {
		sippCalls(t, "presence_unauthorized.xml", p.udp, 1, 1)
	})
	t.Run("token without sip:presence", func(t *testing.T) {
		sippCalls(t, "publish_forbidden.xml", p.udp, 1, 1, "-inf", injection(t, "carol;carol;"+carol))
		sippCalls(t, "subscribe_forbidden.xml", p.udp, 1, 1, "-inf", injection(t, "carol;alice;"+carol))
	})
	t.Run("alice publishes bob's presence", func(t *testing.T) {
		sippCalls(t, "publish_forbidden.xml", p.udp, 1, 1, "-inf", injection(t, "alice;bob;"+alice))
	})
	if logs := p.logs.String(); strings.Contains(logs, alice) || strings.Contains(logs, bob) {
		t.Fatal("a token appears in the server's logs")
	}
}

// TestPresenceFanOutWithSIPp: 50 watchers of one presentity over UDP, and
// then one PUBLISH: each watcher must get a NOTIFY with the published note.
// The watchers' SIPp runs alongside; the PUBLISH waits until the presence
// API lists all 50 watchers as active, so the note reaches them by fan-out
// rather than in their first NOTIFY.
func TestPresenceFanOutWithSIPp(t *testing.T) {
	needSIPp(t)
	dir := t.TempDir()
	p := start(t, dir)
	const watchers = 50
	presentity := []string{"-key", "presentity", "fan"}
	ctx, cancel := context.WithCancel(context.Background())
	var watchErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchErr = runSIPp(ctx, "fanout_watch.xml", p.udp, watchers, 50, presentity...)
	}()
	t.Cleanup(func() { cancel(); <-done })
	if err := waitForWatchers(t, p, dir, "fan@localhost", watchers, done); err != nil {
		cancel()
		<-done
		t.Fatalf("%v\n%v", err, watchErr)
	}
	sippCalls(t, "publish_note.xml", p.udp, 1, 1, presentity...)
	<-done
	if watchErr != nil {
		t.Fatal(watchErr)
	}
}

// waitForWatchers polls the presence API (with the admin token) until aor
// has n active watchers; it gives up after 30 s or when the watchers' SIPp
// ends.
func waitForWatchers(t *testing.T, p *proc, dir, aor string, n int, sippDone <-chan struct{}) error {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + p.http + "/api/v1/presence/" + aor + "/watchers"
	active := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-sippDone:
			return fmt.Errorf("the watchers' SIPp ended with %d of %d watchers active", active, n)
		default:
		}
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(raw)))
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Watchers []struct {
				State string `json:"state"`
			} `json:"watchers"`
		}
		err = json.NewDecoder(r.Body).Decode(&body)
		r.Body.Close()
		if r.StatusCode != 200 || err != nil {
			t.Fatalf("GET %s: %d %v", url, r.StatusCode, err)
		}
		active = 0
		for _, w := range body.Watchers {
			if w.State == "active" {
				active++
			}
		}
		if active == n {
			return nil
		}
	}
	return fmt.Errorf("%d of %d watchers active after 30 s", active, n)
}

// accessToken gets a token for user (password "pw-"+user) with scope from
// the token endpoint.
func accessToken(t *testing.T, httpAddr, user, scope string) string {
	t.Helper()
	code, body := passwordGrant(t, httpAddr, user, "pw-"+user, scope)
	tok, _ := body["access_token"].(string)
	if code != 200 || tok == "" {
		t.Fatalf("password grant for %s: %d %v", user, code, body)
	}
	if got, _ := body["scope"].(string); got != "" && got != scope {
		t.Fatalf("token for %s has scope %q, want %q", user, got, scope)
	}
	return tok
}

// injection writes a SIPp injection file (-inf) whose lines are read in
// order, one per call, fields separated by ';' ([field0], [field1], ...).
func injection(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fields.csv")
	if err := os.WriteFile(path, []byte("SEQUENTIAL\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sippCalls runs a scenario of testdata/sipp against target, like sipp, and
// checks SIPp's exit status and counters: exactly calls successful calls
// and no failed one. A failure shows SIPp's errors and the whole message
// exchange of the first failed call.
func sippCalls(t *testing.T, scenario, target string, calls, rate int, extra ...string) {
	t.Helper()
	needSIPp(t)
	if err := runSIPp(context.Background(), scenario, target, calls, rate, extra...); err != nil {
		t.Fatal(err)
	}
}

func needSIPp(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		if testing.Short() {
			t.Skip("sipp not installed")
		}
		t.Fatal("sipp not installed: `make test` installs it (apt-get install sip-tester)")
	}
}

// runSIPp is sippCalls for any goroutine: the error holds the report. Every
// run is bounded: -timeout for the run, -recv_timeout for a message that
// never comes, and a kill after two minutes or when ctx ends.
func runSIPp(ctx context.Context, scenario, target string, calls, rate int, extra ...string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	return runSIPpAt(ctx, port, scenario, target, calls, rate, extra...)
}

// runSIPpAt is runSIPp with SIPp on the given local port: for a SIPp that
// acts as a user agent registered at that address.
func runSIPpAt(ctx context.Context, port int, scenario, target string, calls, rate int, extra ...string) error {
	dir, err := os.MkdirTemp("", "sipp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{}
	for _, f := range []string{"errors", "messages", "screen"} {
		files[f] = filepath.Join(dir, f+".log")
	}
	args := []string{"-sf", filepath.Join("..", "..", "testdata", "sipp", scenario), "-key", "domain", "localhost",
		"-i", "127.0.0.1", "-p", fmt.Sprint(port), "-m", fmt.Sprint(calls), "-r", fmt.Sprint(rate),
		"-timeout", "60s", "-timeout_error", "-recv_timeout", "5000", "-nostdin",
		// -aa answers 200 to a NOTIFY a scenario does not wait for: RFC 6665
		// §4.2.2 lets the server send one whenever it likes.
		"-aa",
		"-trace_err", "-error_file", files["errors"], "-trace_msg", "-message_file", files["messages"],
		"-trace_screen", "-screen_file", files["screen"]}
	// extra goes first: SIPp keeps the first -key of a name, so a test
	// can override the domain (-key domain example.net).
	args = append(append(slices.Clone(extra), args...), target)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sipp", args...).CombinedOutput()
	screen, _ := os.ReadFile(files["screen"])
	ok, failed := sippCounter(string(screen), "Successful call"), sippCounter(string(screen), "Failed call")
	if err == nil && ok == calls && failed == 0 {
		return nil
	}
	errs, _ := os.ReadFile(files["errors"])
	msgs, _ := os.ReadFile(files["messages"])
	return fmt.Errorf("sipp %s %v: %v; %d successful and %d failed of %d calls\n%s\n--- errors\n%s\n--- first failed call\n%s",
		scenario, extra, err, ok, failed, calls, head(string(out), 2500), head(string(errs), 3000), head(firstFailedCall(string(errs), string(msgs)), 8000))
}

// freePort is a UDP port free on loopback for SIPp (which opens TCP on the
// same number with -t t1).
func freePort() (int, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

var counterLine = regexp.MustCompile(`\|\s*(\d+)\s*$`)

// sippCounter reads the cumulative column of a counter line of SIPp's final
// screen ("  Successful call  |  0  |  100"); -1 when it is missing.
func sippCounter(screen, name string) int {
	n := -1
	for _, line := range strings.Split(screen, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), name) {
			if m := counterLine.FindStringSubmatch(line); m != nil {
				n, _ = strconv.Atoi(m[1])
			}
		}
	}
	return n
}

// abortedCallID finds the Call-ID in SIPp's error log, which says
// "... for Call-Id '1-42@127.0.0.1': ..." or "Call-Id: 1-42@127.0.0.1, receive timeout ...".
var abortedCallID = regexp.MustCompile(`Call-I[dD]:? '?([^',\s]+)`)

// firstFailedCall picks, from SIPp's message trace, every message of the
// first call its error log names, in the order SIPp sent and received them.
func firstFailedCall(errs, msgs string) string {
	m := abortedCallID.FindStringSubmatch(errs)
	if m == nil {
		return tail(msgs, 4000)
	}
	var b strings.Builder
	for _, block := range strings.Split(msgs, "\n----------------------------------------------- ") {
		if strings.Contains(block, "Call-ID: "+m[1]+"\n") || strings.Contains(block, "Call-ID: "+m[1]+"\r\n") {
			b.WriteString("--- " + block + "\n")
		}
	}
	return b.String()
}
