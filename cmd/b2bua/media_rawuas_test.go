package main

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/b2bua/b2bua/sip/siptest"
)

// rawUAS is a callee that answers the server's INVITE when and with what
// the test says (sip/ua rings 180 without SDP and holds with a=sendonly
// only): 183 or 200 with its SDP, re-INVITEs of its own. It answers a
// CANCEL (200, then 487), a BYE (200), and registers its socket as a
// contact of a user: two of them registered as one user are two forks.
type rawUAS struct {
	t       *testing.T
	conn    *net.UDPConn
	server  netip.AddrPort
	user    string
	tag     string
	invites chan string // the server's INVITE (not its retransmissions)
	acks    chan string
	res     chan string // responses to our re-INVITEs
	done    chan struct{}
	invite  string // the INVITE answered
	seq     int    // our CSeq
}

func newRawUAS(t *testing.T, p *proc, user string) *rawUAS {
	t.Helper()
	u := &rawUAS{t: t, conn: listenUDP(t), server: netip.MustParseAddrPort(p.udp), user: user,
		tag: strconv.FormatInt(time.Now().UnixNano(), 36), invites: make(chan string, 1), acks: make(chan string, 4),
		res: make(chan string, 8), done: make(chan struct{}), seq: 100}
	id := u.tag + "r"
	u.sendRaw(siptest.Lines("REGISTER sip:localhost SIP/2.0", "Via: SIP/2.0/UDP "+u.addr()+";branch=z9hG4bK-"+id,
		"From: <sip:"+user+"@localhost>;tag="+id, "To: <sip:"+user+"@localhost>", "Call-ID: "+id, "CSeq: 1 REGISTER",
		"Contact: <sip:"+user+"@"+u.addr()+">", "Max-Forwards: 70", "Expires: 600", "Content-Length: 0"))
	if res := u.read(3 * time.Second); siptest.Status(res) != 200 {
		t.Fatalf("REGISTER %s: %q", user, res)
	}
	go u.serve()
	return u
}

func (u *rawUAS) addr() string { return u.conn.LocalAddr().String() }

func (u *rawUAS) sendRaw(b []byte) {
	if _, err := u.conn.WriteToUDPAddrPort(b, u.server); err != nil {
		u.t.Error(err)
	}
}

// read is the next message, "" after within (or once the socket closed).
func (u *rawUAS) read(within time.Duration) string {
	buf := make([]byte, 65535)
	_ = u.conn.SetReadDeadline(time.Now().Add(within))
	n, _, err := u.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// serve answers what comes until the socket closes (the test's cleanup).
func (u *rawUAS) serve() {
	var inv string // the INVITE, for its 487 (u.invite is the test's)
	for {
		msg := u.read(time.Minute)
		if msg == "" {
			return
		}
		method, _, _ := strings.Cut(msg, " ")
		switch method {
		case "SIP/2.0":
			u.res <- msg
		case "INVITE":
			if inv == "" && !strings.Contains(siptest.Header(msg, "To")[0], "tag=") {
				inv = msg
				u.invites <- msg
			}
		case "ACK":
			u.acks <- msg
		case "CANCEL":
			u.sendRaw(u.response(msg, 200, nil))
			u.sendRaw(u.response(inv, 487, nil))
		case "BYE":
			u.sendRaw(u.response(msg, 200, nil))
			select {
			case <-u.done: // a retransmission
			default:
				close(u.done)
			}
		}
	}
}

// awaitInvite waits for the server's INVITE and returns its SDP.
func (u *rawUAS) awaitInvite() []byte {
	u.t.Helper()
	select {
	case u.invite = <-u.invites:
	case <-time.After(5 * time.Second):
		u.t.Fatalf("%s@%s got no INVITE", u.user, u.addr())
	}
	_, body, _ := strings.Cut(u.invite, "\r\n\r\n")
	return []byte(body)
}

// respond answers the INVITE with code and body (SDP).
func (u *rawUAS) respond(code int, body []byte) { u.sendRaw(u.response(u.invite, code, body)) }

// response is a response to req: its Vias, From, Call-ID and CSeq, its To
// with our tag.
func (u *rawUAS) response(req string, code int, body []byte) []byte {
	lines := []string{fmt.Sprintf("SIP/2.0 %d %s", code, map[int]string{183: "Session Progress", 200: "OK", 487: "Request Terminated"}[code])}
	for _, v := range siptest.Header(req, "Via") {
		lines = append(lines, "Via: "+v)
	}
	to := siptest.Header(req, "To")[0]
	if !strings.Contains(to, "tag=") {
		to += ";tag=" + u.tag
	}
	lines = append(lines, "From: "+siptest.Header(req, "From")[0], "To: "+to, "Call-ID: "+siptest.Header(req, "Call-ID")[0],
		"CSeq: "+siptest.Header(req, "CSeq")[0], "Contact: <sip:"+u.user+"@"+u.addr()+">")
	if len(body) > 0 {
		lines = append(lines, "Content-Type: application/sdp")
	}
	return append(siptest.Lines(append(lines, fmt.Sprintf("Content-Length: %d", len(body)))...), body...)
}

// reinvite sends a re-INVITE with body in the dialog of the INVITE it
// answered, ACKs the 200 and returns the answer's SDP.
func (u *rawUAS) reinvite(body []byte) []byte {
	u.t.Helper()
	u.seq++
	target := strings.Trim(siptest.Header(u.invite, "Contact")[0], "<>")
	to := siptest.Header(u.invite, "From")[0]
	from := siptest.Header(u.invite, "To")[0] + ";tag=" + u.tag
	head := func(method, branch string, seq int) []string {
		return []string{method + " " + target + " SIP/2.0", "Via: SIP/2.0/UDP " + u.addr() + ";branch=z9hG4bK-" + branch,
			"From: " + from, "To: " + to, "Call-ID: " + siptest.Header(u.invite, "Call-ID")[0],
			fmt.Sprintf("CSeq: %d %s", seq, method), "Max-Forwards: 70"}
	}
	branch := fmt.Sprintf("%s-%d", u.tag, u.seq)
	u.sendRaw(append(siptest.Lines(append(head("INVITE", branch, u.seq), "Contact: <sip:"+u.user+"@"+u.addr()+">",
		"Content-Type: application/sdp", fmt.Sprintf("Content-Length: %d", len(body)))...), body...))
	for {
		select {
		case res := <-u.res:
			code := siptest.Status(res)
			if code < 200 {
				continue
			}
			if code != 200 {
				u.t.Fatalf("re-INVITE: %q", res)
			}
			u.sendRaw(siptest.Lines(append(head("ACK", branch+"a", u.seq), "Content-Length: 0")...))
			_, answer, _ := strings.Cut(res, "\r\n\r\n")
			return []byte(answer)
		case <-time.After(5 * time.Second):
			u.t.Fatal("no answer to the re-INVITE")
		}
	}
}

// awaitACK waits for the server's ACK of our 200.
func (u *rawUAS) awaitACK() {
	u.t.Helper()
	select {
	case <-u.acks:
	case <-time.After(5 * time.Second):
		u.t.Fatal("no ACK for the 200")
	}
}

// awaitBYE waits for the server's BYE (answered).
func (u *rawUAS) awaitBYE() {
	u.t.Helper()
	select {
	case <-u.done:
	case <-time.After(5 * time.Second):
		u.t.Fatal("the callee got no BYE")
	}
}

// readRaw reads n datagrams on conn within d, as they came.
func readRaw(t *testing.T, conn *net.UDPConn, n int, d time.Duration) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 1500)
	_ = conn.SetReadDeadline(time.Now().Add(d))
	for len(got) < n {
		k, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("%d datagrams of %d came through the relay: %v", len(got), n, err)
		}
		got = append(got, append([]byte(nil), buf[:k]...))
	}
	return got
}

// sendRaw sends each datagram from conn to to.
func sendRaw(t *testing.T, conn *net.UDPConn, to netip.AddrPort, pkts [][]byte) {
	t.Helper()
	for _, b := range pkts {
		if _, err := conn.WriteToUDPAddrPort(b, to); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

// sameBytes fails the test unless got are want, datagram for datagram.
func sameBytes(t *testing.T, got, want [][]byte, what string) {
	t.Helper()
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("%s %d changed on the way:\nsent % x\ngot  % x", what, i, want[i], got[i])
		}
	}
}

// telephoneEvent is the payload type an SDP maps to telephone-event.
func telephoneEvent(t *testing.T, body []byte) uint8 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^a=rtpmap:(\d+) telephone-event/8000\r?$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no telephone-event in the relay's SDP:\n%s", body)
	}
	pt, _ := strconv.Atoi(string(m[1]))
	return uint8(pt)
}
