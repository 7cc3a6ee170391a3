package bench

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// testInvite is an INVITE as a record-routing proxy forwards it.
var testInvite = sipMsg("INVITE sip:callee1@127.0.0.1:5080 SIP/2.0",
	"Record-Route: <sip:127.0.0.1:5090;lr>",
	"Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKp1",
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK01234567.7.2;rport=5070",
	"From: <sip:caller9@example.com>;tag=t012345679", "To: <sip:callee1@example.com>",
	"Call-ID: 01234567-9@b2bua-bench", "CSeq: 1 INVITE", "Contact: <sip:caller9@127.0.0.1:5070>",
	"Content-Type: application/sdp", "Content-Length: 0")

func inDialog(method string, cseq string) []byte {
	return sipMsg(method+" sip:uas@127.0.0.1:5080 SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKp"+method,
		"From: <sip:caller9@example.com>;tag=t012345679", "To: <sip:callee1@example.com>;tag=u00000000",
		"Call-ID: 01234567-9@b2bua-bench", "CSeq: "+cseq+" "+method, "Content-Length: 0")
}

// The UAS answers over UDP: INVITE with 180 and 200 (the same To tag for a
// retransmission, Record-Route copied, Contact, SDP), nothing to ACK, 200
// to BYE; it counts each.
func TestUAS(t *testing.T) {
	uas, err := ListenUAS("127.0.0.1:0", UASConfig{Sockets: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = uas.Close() }()
	if len(uas.Addrs()) != 2 || uas.Addrs()[0] == uas.Addrs()[1] {
		t.Fatalf("addrs %v", uas.Addrs())
	}
	ua, err := net.ResolveUDPAddr("udp", uas.Addrs()[1])
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	read := func() []byte {
		t.Helper()
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	send := func(b []byte) {
		t.Helper()
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	var tags []string
	for range 2 { // the INVITE and its retransmission
		send(testInvite)
		for _, want := range []int{180, 200} {
			b := read()
			var r Response
			if err := ParseResponse(b, &r); err != nil || r.Status != want {
				t.Fatalf("want %d: %v\n%s", want, err, b)
			}
			if string(r.Contact) != "sip:uas@"+uas.Addrs()[1] || r.RecordRoutes != 1 || len(r.ToTag) == 0 ||
				string(r.Branch) != "z9hG4bKp1" {
				t.Errorf("%d: %+v", want, r)
			}
			tags = append(tags, string(r.ToTag))
			if sdp := b[r.HeaderLen:]; (want == 200) != (len(sdp) == r.ContentLength && bytes.Contains(sdp, []byte("PCMU/8000"))) {
				t.Errorf("%d body %q", want, sdp)
			}
		}
	}
	for _, tag := range tags[1:] {
		if tag != tags[0] {
			t.Errorf("To tags %v differ", tags)
		}
	}
	send(inDialog("ACK", "1"))
	send(inDialog("BYE", "2"))
	b := read()
	var r Response
	if err := ParseResponse(b, &r); err != nil || r.Status != 200 || string(r.CSeqMethod) != "BYE" ||
		string(r.ToTag) != "u00000000" || r.RecordRoutes != 0 || r.Contact != nil {
		t.Fatalf("BYE answer %v\n%s", err, b)
	}
	if c := uas.Counts(); c != (UASCounts{Invites: 2, Acks: 1, Byes: 1}) {
		t.Errorf("counts %+v", c)
	}
}

func TestAppendUASResponse(t *testing.T) {
	a := newUASAnswers("127.0.0.1:5080")
	if _, err := AppendUASResponse(nil, inDialog("ACK", "1"), 200, a); !errors.Is(err, ErrNotSIP) {
		t.Errorf("ACK answered: %v", err)
	}
	if _, err := AppendUASResponse(nil, kamailio200, 200, a); err == nil {
		t.Error("a response answered")
	}
	b, err := AppendUASResponse(nil, testInvite, 100, a)
	var r Response
	if err != nil || ParseResponse(b, &r) != nil || r.ToTag != nil || strings.Contains(string(b), "Contact") {
		t.Errorf("100: %v\n%s", err, b)
	}
	buf := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(50, func() { buf, _ = AppendUASResponse(buf[:0], testInvite, 200, a) }); n != 0 {
		t.Errorf("AppendUASResponse allocates %v times", n)
	}
}

func FuzzUASResponse(f *testing.F) {
	f.Add(testInvite, 200)
	f.Add(inDialog("BYE", "2"), 200)
	f.Add([]byte("INVITE sip:a SIP/2.0\nv: x;branch=b\nf: <sip:a>;tag=1\nt: <sip:b>\ni: c\nCSeq: 1 INVITE\nl: 0\n\n"), 180)
	a := newUASAnswers("127.0.0.1:5080")
	f.Fuzz(func(t *testing.T, req []byte, status int) {
		status = 100 + (status%600+600)%600
		b, err := AppendUASResponse(nil, req, status, a)
		if err != nil {
			return
		}
		var in IncomingRequest
		if err := ParseRequest(req, &in); err != nil {
			t.Fatalf("answered a request that does not parse: %v", err)
		}
		var r Response
		if err := ParseResponse(b, &r); err != nil {
			t.Fatalf("answer does not parse: %v\n%q", err, b)
		}
		if r.Status != status || !bytes.Equal(r.CallID, in.CallID) || r.CSeq != in.CSeq {
			t.Fatalf("answer %+v to %+v", r, in)
		}
		if status > 100 && len(r.ToTag) == 0 && len(in.ToTag) == 0 && bytes.Contains(b, []byte("\nTo:")) {
			t.Fatalf("no To tag:\n%q", b)
		}
		again, _ := AppendUASResponse(nil, req, status, a)
		if !bytes.Equal(again, b) {
			t.Fatalf("not deterministic:\n%q\n%q", b, again)
		}
	})
}
