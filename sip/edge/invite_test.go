package edge_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
)

// runGoldens sends each golden request of dir to s over network, each from
// a client of its own (sipgo retransmits a non-2xx final answer to an
// INVITE until its ACK: the next case must not read it).
func runGoldens(t *testing.T, s *server, network, dir string) {
	for _, g := range siptest.LoadGoldens(t, dir) {
		t.Run(g.Name, func(t *testing.T) {
			c := s.dial(t, network)
			req := strings.Replace(string(g.Request), goldenVia, c.LocalAddr(), 1)
			if network == "tcp" {
				req = strings.Replace(req, "SIP/2.0/UDP", "SIP/2.0/TCP", 1)
			}
			res, err := c.Do([]byte(req), 3*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", g.Name, err)
			}
			res = strings.Replace(res, c.LocalAddr(), goldenVia, 1)
			if network == "tcp" {
				res = strings.Replace(res, "SIP/2.0/TCP", "SIP/2.0/UDP", 1)
				if *siptest.Update {
					return // the UDP run writes the files
				}
			}
			g.Check(t, res)
		})
	}
}

// TestInviteGolden: what the edge answers on the INVITE row without a call
// actor getting involved (483, 404 for another domain without an outbound
// proxy), and the 481s of CANCEL and BYE that match nothing.
func TestInviteGolden(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			runGoldens(t, startServer(t), network, "testdata/invite")
		})
	}
}

// TestInviteNoCalls: an edge built without the call kind answers INVITE
// 501.
func TestInviteNoCalls(t *testing.T) {
	s := startServerOpts(t, options{edit: func(_ *edge.Config, _ *actors.System, r *actors.Routers) { r.Calls = nil }})
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) { runGoldens(t, s, network, "testdata/invite-nocalls") })
	}
}

// callParties is a caller and a registered callee on UDP, talking to the
// server raw.
type callParties struct {
	s           *server
	alice, bob  *siptest.Client
	invite, res string // A's INVITE and the 2xx A got
}

const sdpBody = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

// answeredCall registers bob, calls him from alice, has bob answer 200 and
// returns once alice got the 2xx (not ACKed).
func answeredCall(t *testing.T, s *server, id string) *callParties {
	t.Helper()
	s.sys.Outbound.Set(s.edge.Port(s.sys.Actors))
	t.Cleanup(func() { s.sys.Outbound.Set(nil) })
	p := &callParties{s: s, alice: s.dial(t, "udp"), bob: s.dial(t, "udp")}
	res, err := p.bob.Do(siptest.Lines(
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP "+p.bob.LocalAddr()+";branch=z9hG4bK-r"+id,
		"From: <sip:bob@localhost>;tag=r"+id,
		"To: <sip:bob@localhost>",
		"Call-ID: r"+id,
		"CSeq: 1 REGISTER",
		"Max-Forwards: 70",
		"Contact: <sip:bob@"+p.bob.LocalAddr()+">",
		"Expires: 600",
		"Content-Length: 0"), 3*time.Second)
	if err != nil || siptest.Status(res) != 200 {
		t.Fatalf("REGISTER: %v\n%s", err, res)
	}
	p.invite = strings.Join([]string{
		"INVITE sip:bob@localhost SIP/2.0",
		"Via: SIP/2.0/UDP " + p.alice.LocalAddr() + ";branch=z9hG4bK-" + id,
		"From: <sip:alice@localhost>;tag=a" + id,
		"To: <sip:bob@localhost>",
		"Call-ID: " + id,
		"CSeq: 1 INVITE",
		"Contact: <sip:alice@" + p.alice.LocalAddr() + ">",
		"Max-Forwards: 70",
		"Content-Type: application/sdp",
		"Content-Length: " + strconv.Itoa(len(sdpBody)),
		"", sdpBody}, "\r\n")
	if err := p.alice.Send([]byte(p.invite)); err != nil {
		t.Fatal(err)
	}
	inv := readRequest(t, p.bob, "INVITE")
	if err := p.bob.Send(uasReply(inv, 200, "Contact: <sip:bob@"+p.bob.LocalAddr()+">", "Content-Type: application/sdp")); err != nil {
		t.Fatal(err)
	}
	p.res = readStatus(t, p.alice, 200, 3*time.Second)
	return p
}

// ack is alice's ACK of the 2xx.
func (p *callParties) ack(t *testing.T) {
	t.Helper()
	to := siptest.Header(p.res, "To")[0]
	if err := p.alice.Send(siptest.Lines(
		"ACK sip:bob@localhost SIP/2.0",
		"Via: SIP/2.0/UDP "+p.alice.LocalAddr()+";branch=z9hG4bK-ack"+siptest.Header(p.invite, "Call-ID")[0],
		"From: "+siptest.Header(p.invite, "From")[0],
		"To: "+to,
		"Call-ID: "+siptest.Header(p.invite, "Call-ID")[0],
		"CSeq: 1 ACK",
		"Max-Forwards: 70",
		"Content-Length: 0")); err != nil {
		t.Fatal(err)
	}
}

// count200 reads alice's socket for d and returns when each 2xx came,
// relative to start.
func (p *callParties) count200(start time.Time, d time.Duration) []time.Duration {
	var at []time.Duration
	until := time.Now().Add(d)
	for {
		left := time.Until(until)
		if left <= 0 {
			return at
		}
		res, err := p.alice.Read(left)
		if err != nil {
			return at
		}
		if siptest.Status(res) == 200 && strings.Contains(siptest.Header(res, "CSeq")[0], "INVITE") {
			at = append(at, time.Since(start))
		}
	}
}

// The 2xx to an INVITE over UDP is retransmitted until its ACK comes (RFC
// 3261 §13.3.1.4): here after two retransmissions, and then no more.
func TestInvite2xxRetransmittedUntilAck(t *testing.T) {
	t1, t2 := 50*time.Millisecond, 200*time.Millisecond
	t.Cleanup(edge.SetAckTimers(t1, t2)) // runs after the server stopped
	s := startServer(t)
	p := answeredCall(t, s, "rt1")
	start := time.Now()
	var got []time.Duration
	for len(got) < 2 {
		res, err := p.alice.Read(2 * time.Second)
		if err != nil {
			t.Fatalf("%d retransmissions of the 2xx, want 2: %v", len(got), err)
		}
		if siptest.Status(res) == 200 {
			got = append(got, time.Since(start))
		}
	}
	t.Logf("2xx retransmitted at %v, then ACKed", got)
	p.ack(t)
	// Retransmissions at T1 and 3*T1 so far; the next would be at 7*T1.
	if late := p.count200(start, 10*t1); len(late) > 0 {
		t.Errorf("2xx retransmitted after its ACK at %v", late)
	}
	if got[0] < t1/2 || got[1] < t1+t1 {
		t.Errorf("retransmissions at %v, want about %v and %v", got, t1, 3*t1)
	}
}

// Without an ACK the retransmissions stop after 64*T1.
func TestInvite2xxRetransmissionsStop(t *testing.T) {
	t1, t2 := 20*time.Millisecond, 80*time.Millisecond
	t.Cleanup(edge.SetAckTimers(t1, t2))
	s := startServer(t)
	p := answeredCall(t, s, "rt2")
	start := time.Now()
	got := p.count200(start, 64*t1+20*t1)
	t.Logf("2xx retransmitted at %v", got)
	// At T1, 3 T1, 7 T1, then every T2 = 4 T1 until 64 T1: 16 or so.
	if len(got) < 10 {
		t.Fatalf("%d retransmissions of the 2xx in 64*T1, want about 16", len(got))
	}
	if last := got[len(got)-1]; last > 64*t1+2*t1 {
		t.Errorf("last retransmission at %v, after 64*T1 = %v", last, 64*t1)
	}
	for i := 1; i < len(got); i++ {
		if d := got[i] - got[i-1]; d > t2+t2/2 {
			t.Errorf("retransmissions %d and %d %v apart, more than T2 = %v", i-1, i, d, t2)
		}
	}
}

// readRequest reads from c until a request of method comes.
func readRequest(t *testing.T, c *siptest.Client, method string) string {
	t.Helper()
	for {
		m, err := c.Read(3 * time.Second)
		if err != nil {
			t.Fatalf("no %s: %v", method, err)
		}
		if strings.HasPrefix(m, method+" ") {
			return m
		}
	}
}

// readStatus reads from c until a response with code comes.
func readStatus(t *testing.T, c *siptest.Client, code int, d time.Duration) string {
	t.Helper()
	for {
		m, err := c.Read(d)
		if err != nil {
			t.Fatalf("no %d: %v", code, err)
		}
		if siptest.Status(m) == code {
			return m
		}
	}
}

// uasReply is a UAS's response to the raw request req: its Via, From, To
// (with a tag), Call-ID and CSeq, the extra headers, and an SDP answer on
// a 2xx to INVITE.
func uasReply(req string, code int, extra ...string) []byte {
	lines := []string{"SIP/2.0 " + strconv.Itoa(code) + " " + map[int]string{200: "OK", 180: "Ringing"}[code]}
	for _, v := range siptest.Header(req, "Via") {
		lines = append(lines, "Via: "+v)
	}
	to := siptest.Header(req, "To")[0]
	if !strings.Contains(to, "tag=") {
		to += ";tag=callee"
	}
	lines = append(lines, "From: "+siptest.Header(req, "From")[0], "To: "+to,
		"Call-ID: "+siptest.Header(req, "Call-ID")[0], "CSeq: "+siptest.Header(req, "CSeq")[0])
	lines = append(lines, extra...)
	body := ""
	if code == 200 && strings.HasPrefix(req, "INVITE ") {
		body = sdpBody
	}
	lines = append(lines, "Content-Length: "+strconv.Itoa(len(body)), "", body)
	return []byte(strings.Join(lines, "\r\n"))
}
