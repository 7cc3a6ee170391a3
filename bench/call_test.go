package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// testCall returns a call scenario and the Request of its call 9 in slot
// 7, as the engine would build them.
func testCall(t *testing.T) (*callScenario, *Request) {
	t.Helper()
	s, err := NewScenario("call", ScenarioOptions{Call: CallOptions{Callees: 4}})
	if err != nil {
		t.Fatal(err)
	}
	c := s.(*callScenario)
	c.now = func() int64 { return 42 }
	env := &Env{Domain: "example.com", UserPrefix: "caller", Transport: "UDP", Expires: 60, run: "01234567"}
	return c, &Request{Seq: 9, CSeq: 1, User: 9, Env: env, Local: "127.0.0.1:5070", slot: 7, gen: 2}
}

// kamailio200 is a 2xx as a record-routing proxy relays it: two
// Record-Route entries (one header with two values, one more header).
var kamailio200 = sipMsg("SIP/2.0 200 OK",
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK01234567.7.2;rport=5070",
	"Record-Route: <sip:10.0.0.2;lr>, <sip:10.0.0.1;lr;ftag=t012345679>",
	"Record-Route: <sip:127.0.0.1:5090;lr;ftag=t012345679>",
	"From: <sip:caller9@example.com>;tag=t012345679",
	"To: <sip:callee1@example.com>;tag=u1a2b3c4d",
	"Call-ID: 01234567-9@b2bua-bench", "CSeq: 1 INVITE",
	"Contact: \"Callee\" <sip:uas@127.0.0.1:5080;transport=udp>;expires=60",
	"Content-Length: 0")

// The INVITE, the ACK of its 2xx, the BYE and the ACK of a failure, as
// RFC 3261 §12-§17 shape them: golden file testdata/call_requests.txt.
func TestCallRequests(t *testing.T) {
	c, r := testCall(t)
	var out bytes.Buffer
	add := func(name string, b []byte) {
		out.WriteString("---------- " + name + "\n")
		out.Write(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
		out.WriteString("\n")
	}
	add("INVITE", c.AppendRequest(nil, r))

	var resp Response
	if err := ParseResponse(kamailio200, &resp); err != nil {
		t.Fatal(err)
	}
	c.observe(r, &resp)
	r.gen++ // the engine moves to the ACK's generation on a 2xx
	add("ACK of the 200", c.answered(nil, r, &resp, 1000))
	r.Step, r.CSeq, r.gen = 1, 2, r.gen+1
	c.prepare(r)
	add("BYE", c.AppendRequest(nil, r))
	add("ACK again", c.reACK(nil, r, &resp))

	var busy Response
	if err := ParseResponse(sipMsg("SIP/2.0 486 Busy Here", "Via: SIP/2.0/UDP h;branch=z9hG4bK01234567.8.1",
		"To: <sip:callee2@example.com>;tag=busy", "Call-ID: 01234567-a@b2bua-bench", "CSeq: 1 INVITE"), &busy); err != nil {
		t.Fatal(err)
	}
	failed := &Request{Seq: 10, CSeq: 1, User: 10, Env: r.Env, Local: r.Local, slot: 8, gen: 1}
	add("ACK of a 486", c.answered(nil, failed, &busy, 1000))
	golden(t, "call_requests.txt", out.Bytes())

	if c.st.up.Load() != 1 || c.st.reACKs.Load() != 1 {
		t.Errorf("up %d, re-ACKs %d", c.st.up.Load(), c.st.reACKs.Load())
	}
	// A 2xx of another call in the slot is not acknowledged.
	other := bytes.Replace(kamailio200, []byte("01234567-9@"), []byte("01234567-5@"), 1)
	if err := ParseResponse(other, &resp); err != nil {
		t.Fatal(err)
	}
	if b := c.reACK(nil, r, &resp); len(b) != 0 {
		t.Errorf("ACK for another call:\n%s", b)
	}
}

// Building INVITE and BYE allocates nothing once the slot's dialog is set.
func TestCallRequestsAllocate(t *testing.T) {
	c, r := testCall(t)
	var resp Response
	if err := ParseResponse(kamailio200, &resp); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(50, func() {
		r.Step = 0
		buf = c.AppendRequest(buf[:0], r)
		c.observe(r, &resp)
		buf = c.answered(buf[:0], r, &resp, 5)
		c.ended(r, 200, 6)
		r.Step = 1
		buf = c.AppendRequest(buf[:0], r)
	}); n != 0 {
		t.Errorf("a call allocates %v times", n)
	}
}

func TestAppendRouteSet(t *testing.T) {
	tests := []struct {
		name string
		rr   []string
		want string
	}{
		{"none", nil, ""},
		{"one", []string{"<sip:p1;lr>"}, "Route: <sip:p1;lr>\r\n"},
		{"two headers reversed", []string{"<sip:p2;lr>", "<sip:p1;lr>"}, "Route: <sip:p1;lr>, <sip:p2;lr>\r\n"},
		{"one header two entries", []string{"<sip:p2;lr> , <sip:p1;lr>"}, "Route: <sip:p1;lr>, <sip:p2;lr>\r\n"},
		{"comma inside brackets and quotes", []string{`"a,b" <sip:p2;lr;x=a,b>`, "<sip:p1;lr>"},
			`Route: <sip:p1;lr>, "a,b" <sip:p2;lr;x=a,b>` + "\r\n"},
		{"empty entries", []string{" , "}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr := make([][]byte, len(tc.rr))
			for i, v := range tc.rr {
				rr[i] = []byte(v)
			}
			if got := string(appendRouteSet(nil, rr)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseResponseDialog(t *testing.T) {
	var r Response
	if err := ParseResponse(kamailio200, &r); err != nil {
		t.Fatal(err)
	}
	if string(r.ToTag) != "u1a2b3c4d" || string(r.Contact) != "sip:uas@127.0.0.1:5080;transport=udp" ||
		r.RecordRoutes != 2 || !strings.HasPrefix(string(r.RecordRoute[1]), "<sip:127.0.0.1:5090") {
		t.Errorf("%+v", r)
	}
	for _, tc := range []struct{ in, want string }{
		{"<sip:a@b>", "sip:a@b"}, {"sip:a@b;expires=3", "sip:a@b"}, {"*", ""}, {"<sip:a", ""},
		{" sip:a@b , sip:c@d", "sip:a@b"}, {`"x" <sip:a@b;lr>;q=1`, "sip:a@b;lr"},
	} {
		if got := string(contactURI([]byte(tc.in))); got != tc.want {
			t.Errorf("contactURI(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCallValidate(t *testing.T) {
	for _, o := range []CallOptions{{Callees: -1}, {UASSockets: 65}, {Hold: -time.Second}, {UAS: "nohost"}} {
		s := newCall(ScenarioOptions{Call: o})
		if err := s.(validator).validate(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if err := newCall(ScenarioOptions{}).(validator).validate(); err != nil {
		t.Error(err)
	}
}

// The report of a call run: golden file testdata/call_summary.txt (table,
// SUMMARY line and the JSON "call" object).
func TestCallReportGolden(t *testing.T) {
	r := fixedResult()
	r.Scenario = "call"
	lat := func(p50 time.Duration) Percentiles {
		return Percentiles{Count: 290, P50: p50, P90: 2 * p50, P99: 4 * p50, P999: 5 * p50, Max: 8 * p50}
	}
	r.Call = &CallResult{Callees: 100, Hold: 30 * time.Second, RegisterOK: 100, RegisterRate: 1990,
		SetupTime: 50 * time.Millisecond, Established: 296, SetupRate: 98.7,
		InviteFailures: map[int]uint64{486: 2, 503: 1}, InviteFailed: 3, InviteTimeouts: 1,
		InviteLatency: lat(700 * time.Microsecond), Completed: 294, ByeFailures: map[int]uint64{481: 1}, ByeFailed: 1,
		ByeTimeouts: 1, ByeLatency: lat(400 * time.Microsecond), ReACKs: 2, PeakCalls: 3000, SampledCalls: 2990,
		MemBefore: 100 << 20, MemPeak: 130 << 20, BytesPerCall: float64(30<<20) / 2990,
		UASCounts: UASCounts{Invites: 300, Acks: 296, Byes: 296}}
	var b bytes.Buffer
	if err := WriteSummary(&b, r); err != nil {
		t.Fatal(err)
	}
	b.WriteString(SummaryLine(r) + "\n")
	var j bytes.Buffer
	if err := WriteJSON(&j, r); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(j.Bytes(), []byte(`    "call": {`))
	k := bytes.Index(j.Bytes(), []byte(`  "series"`))
	if i < 0 || k < i {
		t.Fatalf("no call object in\n%s", j.Bytes())
	}
	b.Write(j.Bytes()[i:k])
	golden(t, "call_summary.txt", b.Bytes())
}
