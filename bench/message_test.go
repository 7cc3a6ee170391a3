package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMessage runs the scenario end to end against the fake messaging
// server: recipients registered online (the generator or an echo UAS
// answers the relayed MESSAGEs) or offline (stored), and a server that
// answers with the wrong status for the recipients' state.
func TestMessage(t *testing.T) {
	tests := []struct {
		name string
		fake fakeMessagingOptions
		opt  MessageOptions
		// echoUAS points the online recipients at an echo server.
		echoUAS bool
		users   int
		total   uint64
		// want: MESSAGEs ok, failed by status, relayed and stored by the
		// server, relayed MESSAGEs answered by the generator.
		ok                        uint64
		fails                     map[int]uint64
		relayed, stored, answered int
	}{
		{name: "online, the generator answers", opt: MessageOptions{To: ToOnline, Recipients: 3}, total: 10,
			ok: 10, relayed: 10, answered: 10},
		{name: "online, an echo UAS answers", opt: MessageOptions{To: ToOnline, Recipients: 4}, echoUAS: true,
			total: 8, ok: 8, relayed: 8},
		{name: "online, fewer users than recipients", opt: MessageOptions{To: ToOnline, Recipients: 5}, users: 2,
			total: 6, ok: 6, relayed: 6, answered: 6},
		{name: "offline", opt: MessageOptions{To: ToOffline, Recipients: 3}, total: 9, ok: 9, stored: 9},
		{name: "online but stored is a failure", fake: fakeMessagingOptions{noBind: true},
			opt: MessageOptions{To: ToOnline, Recipients: 2}, total: 4, fails: map[int]uint64{202: 4}, stored: 4},
		{name: "offline but unknown", fake: fakeMessagingOptions{forget: true},
			opt: MessageOptions{To: ToOffline, Recipients: 2}, total: 3, fails: map[int]uint64{404: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeMessaging(t, tc.fake)
			if tc.echoUAS {
				echo, err := ListenEcho("udp", "127.0.0.1:0", EchoConfig{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = echo.Close() })
				tc.opt.UAS = echo.Addr().String()
			}
			s, err := NewScenario("message", ScenarioOptions{Message: tc.opt})
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Scenario: s, Target: f.addr(), Rate: 100, Total: tc.total, Users: tc.users,
				MaxFailures: 1, Timeout: 2 * time.Second}
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			mr := res.Message
			if mr == nil {
				t.Fatal("no message result")
			}
			if mr.RegisterOK != uint64(tc.opt.Recipients) || mr.RegisterFailed != 0 {
				t.Errorf("setup: %d registered, %d failed; want %d", mr.RegisterOK, mr.RegisterFailed, tc.opt.Recipients)
			}
			if res.Total.OK != tc.ok || res.Total.Failed != tc.total-tc.ok || res.Total.Timeouts != 0 {
				t.Errorf("MESSAGE ok %d failed %d timeouts %d; want %d of %d", res.Total.OK, res.Total.Failed,
					res.Total.Timeouts, tc.ok, tc.total)
			}
			for code, n := range tc.fails {
				if res.FailuresByStatus[code] != n {
					t.Errorf("failures %v, want %d × %d", res.FailuresByStatus, n, code)
				}
			}
			relayed, stored := f.counts()
			if relayed != tc.relayed || stored != tc.stored || mr.RequestsAnswered != uint64(tc.answered) {
				t.Errorf("relayed %d, stored %d, answered by the generator %d; want %d, %d, %d", relayed, stored,
					mr.RequestsAnswered, tc.relayed, tc.stored, tc.answered)
			}
			if l := res.Latency; l.Count != int64(tc.ok) || tc.ok > 0 && (l.P50 <= 0 || l.P999 < l.P50) {
				t.Errorf("latency %+v", l)
			}
			line := SummaryLine(res)
			for _, key := range []string{"to=" + tc.opt.To, "register_ok=", "requests_in=", "bytes_per_msg=-", "p999_ms="} {
				if !strings.Contains(line, " "+key) {
					t.Errorf("SUMMARY lacks %s: %s", key, line)
				}
			}
		})
	}
}

// Without a setup (--to peer) the scenario sends to user<n+1> as it always
// did, any 2xx succeeds, and no message figures are reported.
func TestMessagePeer(t *testing.T) {
	echo, err := ListenEcho("udp", "127.0.0.1:0", EchoConfig{Status: 202})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = echo.Close() })
	s, _ := NewScenario("message", ScenarioOptions{})
	res, err := Run(context.Background(), Config{Scenario: s, Target: echo.Addr().String(), Rate: 100, Total: 5, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.OK != 5 || res.Message != nil || echo.Requests() != 5 {
		t.Errorf("ok %d, message %+v, echo saw %d", res.Total.OK, res.Message, echo.Requests())
	}
}

// A setup that fails fails the run, with the MESSAGE figures still given.
func TestMessageSetupFails(t *testing.T) {
	echo, err := ListenEcho("udp", "127.0.0.1:0", EchoConfig{Respond: func(req []byte, _ uint64) (int, string) {
		if bytes.HasPrefix(req, []byte("REGISTER")) {
			return 403, ""
		}
		return 200, ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = echo.Close() })
	s, _ := NewScenario("message", ScenarioOptions{Message: MessageOptions{To: ToOnline, Recipients: 4}})
	res, err := Run(context.Background(), Config{Scenario: s, Target: echo.Addr().String(), Rate: 100, Total: 2, Timeout: 2 * time.Second})
	if !errors.Is(err, ErrTooManyFailures) || res == nil || res.Message.RegisterFailed != 4 ||
		res.Message.RegisterFailures[403] != 4 || res.Total.OK != 2 {
		t.Fatalf("err %v, result %+v", err, res)
	}
}

// The requests of both phases: the setup's REGISTER (a Contact at the UAS
// or the local socket, Expires: 0 in the offline unregister step) and the
// MESSAGE from user<n> to rcpt<n mod N>.
func TestMessageRequests(t *testing.T) {
	env := &Env{Domain: "example.com", UserPrefix: "user", Transport: "UDP", Expires: 600, Body: "hi", run: "01234567"}
	online := newMessage(ScenarioOptions{Message: MessageOptions{To: ToOnline, Recipients: 3, UAS: "127.0.0.1:5099"}}).(*messageScenario)
	self := newMessage(ScenarioOptions{Message: MessageOptions{To: ToOnline, Recipients: 3}}).(*messageScenario)
	offline := newMessage(ScenarioOptions{Message: MessageOptions{To: ToOffline, Recipients: 3, RecipientPrefix: "off"}}).(*messageScenario)
	peer := newMessage(ScenarioOptions{}).(*messageScenario)
	tests := []struct {
		name       string
		scen       Scenario
		seq        uint64
		user, step int
		line       string
		headers    map[string]string
	}{
		{name: "register at the UAS", scen: messageRegister{online}, seq: 2, line: "REGISTER sip:example.com SIP/2.0",
			headers: map[string]string{"From": "<sip:rcpt2@example.com>;tag=t012345672", "To": "<sip:rcpt2@example.com>",
				"Contact": "<sip:rcpt2@127.0.0.1:5099>", "Expires": "600", "CSeq": "1 REGISTER"}},
		{name: "register at the generator", scen: messageRegister{self}, seq: 1, line: "REGISTER sip:example.com SIP/2.0",
			headers: map[string]string{"Contact": "<sip:rcpt1@127.0.0.1:5070>", "Expires": "600"}},
		{name: "offline register", scen: messageRegister{offline}, seq: 0, line: "REGISTER sip:example.com SIP/2.0",
			headers: map[string]string{"To": "<sip:off0@example.com>", "Contact": "<sip:off0@127.0.0.1:5070>", "Expires": "600"}},
		{name: "offline unregister", scen: messageRegister{offline}, seq: 0, step: 1, line: "REGISTER sip:example.com SIP/2.0",
			headers: map[string]string{"Contact": "<sip:off0@127.0.0.1:5070>", "Expires": "0"}},
		{name: "message to a recipient", scen: online, seq: 7, user: 4, line: "MESSAGE sip:rcpt1@example.com SIP/2.0",
			headers: map[string]string{"From": "<sip:user4@example.com>;tag=t012345677", "To": "<sip:rcpt1@example.com>",
				"Content-Type": "text/plain", "Content-Length": "2", "CSeq": "1 MESSAGE", "Contact": ""}},
		{name: "message to a peer", scen: peer, seq: 4, user: 4, line: "MESSAGE sip:user5@example.com SIP/2.0",
			headers: map[string]string{"From": "<sip:user4@example.com>;tag=t012345674", "To": "<sip:user5@example.com>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Request{Seq: tc.seq, Step: tc.step, CSeq: 1, User: tc.user, Peer: tc.user + 1, Env: env, Local: "127.0.0.1:5070"}
			b := tc.scen.AppendRequest(nil, &r)
			if line, _, _ := strings.Cut(string(b), "\r\n"); line != tc.line {
				t.Errorf("request line %q, want %q", line, tc.line)
			}
			for name, want := range tc.headers {
				if got := header(b, name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			var req IncomingRequest
			if err := ParseRequest(b, &req); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Only the status the recipients' state calls for is a success.
func TestMessageSuccess(t *testing.T) {
	tests := []struct {
		to     string
		status int
		want   bool
	}{
		{ToOnline, 200, true}, {ToOnline, 202, false}, {ToOnline, 404, false},
		{ToOffline, 202, true}, {ToOffline, 200, false}, {ToOffline, 480, false},
		{ToPeer, 200, true}, {ToPeer, 202, true}, {ToPeer, 405, false},
	}
	for _, tc := range tests {
		m := newMessage(ScenarioOptions{Message: MessageOptions{To: tc.to}}).(*messageScenario)
		if got := m.success(tc.status); got != tc.want {
			t.Errorf("%s: success(%d) = %v, want %v", tc.to, tc.status, got, tc.want)
		}
	}
}

func TestMessageValidate(t *testing.T) {
	tests := []struct {
		name string
		opt  MessageOptions
		bad  bool
	}{
		{name: "defaults", opt: MessageOptions{}},
		{name: "online at a UAS", opt: MessageOptions{To: ToOnline, UAS: "127.0.0.1:5099"}},
		{name: "unknown state", opt: MessageOptions{To: "away"}, bad: true},
		{name: "UAS without port", opt: MessageOptions{To: ToOnline, UAS: "127.0.0.1"}, bad: true},
		{name: "negative recipients", opt: MessageOptions{To: ToOffline, Recipients: -1}, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := NewScenario("message", ScenarioOptions{Message: tc.opt})
			err := Config{Scenario: s, Target: "127.0.0.1:5060", Rate: 1, Total: 1}.WithDefaults().Validate()
			if bad := errors.Is(err, ErrBadConfig); bad != tc.bad {
				t.Errorf("Validate() = %v, want bad %v", err, tc.bad)
			}
		})
	}
}

// With --target-pid the memory and write counters of the target are read
// around the MESSAGE phase and reported per MESSAGE, in JSON too.
func TestMessageCost(t *testing.T) {
	f := newFakeMessaging(t, fakeMessagingOptions{})
	s, _ := NewScenario("message", ScenarioOptions{Message: MessageOptions{To: ToOffline, Recipients: 2}})
	res, err := Run(context.Background(), Config{Scenario: s, Target: f.addr(), Rate: 100, Total: 4,
		TargetPID: os.Getpid(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mr := res.Message
	if mr.MemBefore == 0 || mr.MemAfter == 0 || mr.BytesPerMsg == -1 || !mr.IOBefore.OK || mr.WcharPerMsg < 0 {
		t.Errorf("cost %+v", mr)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Summary struct {
			Message struct {
				To         string  `json:"to"`
				RegisterOK uint64  `json:"register_ok"`
				PerMsg     float64 `json:"bytes_per_msg"`
			} `json:"message"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if m := out.Summary.Message; m.To != ToOffline || m.RegisterOK != 2 || m.PerMsg != mr.BytesPerMsg {
		t.Errorf("JSON message %+v", m)
	}
}
