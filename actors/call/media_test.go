package call

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/media/sdp"
)

// The relay in the call (media.go): the harness with a real media engine
// on 127.0.0.1, and endpoints that are real UDP sockets.

// mediaHarness runs calls with the relay on ports lo..lo+hi-1.
func mediaHarness(t *testing.T, lo, n int, mod func(*media.Config)) (*harness, *media.Engine) {
	t.Helper()
	mc := media.DefaultConfig()
	mc.Ports, mc.Quarantine = strconv.Itoa(lo)+"-"+strconv.Itoa(lo+n-1), 0
	if mod != nil {
		mod(&mc)
	}
	e, err := media.NewEngine(mc, netip.MustParseAddr("127.0.0.1"), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	c := testConfig()
	c.Media = MediaRelay
	h := newHarness(t, c, func(d *Deps) { d.Media = e })
	return h, e
}

// endpoint is a party's RTP socket on 127.0.0.1.
type endpoint struct {
	conn *net.UDPConn
	port int
}

func newEndpoint(t *testing.T) *endpoint {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &endpoint{conn: c, port: c.LocalAddr().(*net.UDPAddr).Port}
}

// sdpAt is an SDP of user at the endpoint's port.
func (e *endpoint) sdpAt(user string, extra ...string) string {
	return "v=0\r\no=" + user + " 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(e.port) + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" + strings.Join(extra, "")
}

// rtpPacket is a PCMU packet numbered seq.
func rtpPacket(seq uint16, ssrc uint32) []byte {
	p := make([]byte, 172)
	p[0], p[1] = 0x80, 0
	p[2], p[3] = byte(seq>>8), byte(seq)
	p[8], p[9], p[10], p[11] = byte(ssrc>>24), byte(ssrc>>16), byte(ssrc>>8), byte(ssrc)
	for i := 12; i < len(p); i++ {
		p[i] = byte(seq) + byte(i)
	}
	return p
}

// relayOf is the relay's address in an SDP the relay sent.
func relayOf(t *testing.T, body []byte) netip.AddrPort {
	t.Helper()
	d, err := sdp.Parse(body)
	if err != nil || len(d.Streams) == 0 {
		t.Fatalf("SDP from the relay: %v\n%s", err, body)
	}
	return netip.AddrPortFrom(d.Streams[0].Addr, uint16(d.Streams[0].Port))
}

// pass sends packets from one endpoint to relay and checks they reach
// the other, from the relay.
func pass(t *testing.T, from *endpoint, relay netip.AddrPort, to *endpoint) {
	t.Helper()
	buf := make([]byte, 1500)
	for i := uint16(1); i <= 5; i++ {
		want := rtpPacket(i, 0x1234)
		if _, err := from.conn.WriteToUDPAddrPort(want, relay); err != nil {
			t.Fatal(err)
		}
		_ = to.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, src, err := to.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("packet %d not relayed: %v", i, err)
		}
		if string(buf[:n]) != string(want) || !src.Addr().IsLoopback() {
			t.Fatalf("packet %d: %d bytes from %v", i, n, src)
		}
	}
}

// TestRelayedCall: each leg's SDP points at the relay (its own port), and
// RTP goes both ways through it.
func TestRelayedCall(t *testing.T) {
	h, e := mediaHarness(t, 42000, 20, nil)
	alice, bobEP := newEndpoint(t), newEndpoint(t)
	c := h.call(reqBody("application/sdp", alice.sdpAt("alice")))
	b := h.nextInvite(t)
	toBob := relayOf(t, b.Req.Body())
	if toBob.Port() < 42000 || toBob.Port() >= 42020 || strings.Contains(string(b.Req.Body()), "o=alice") {
		t.Fatalf("leg B's offer does not point at the relay:\n%s", b.Req.Body())
	}
	b.Final(200, withTag("bt"), withBody(bobEP.sdpAt("bob")))
	res := c.tx.wait(t, 200, 1)
	toAlice := relayOf(t, res.Body())
	if toAlice.Port() == toBob.Port() || toAlice.Port() < 42000 || toAlice.Port() >= 42020 {
		t.Fatalf("answer to A at %v, offer to B at %v", toAlice, toBob)
	}
	c.local, _ = res.To().Params.Get("tag")
	c.ack()
	pass(t, alice, toAlice, bobEP)
	pass(t, bobEP, toBob, alice)
	if n := e.PortsInUse(); n != 2 {
		t.Fatalf("%d port pairs in use, want 2", n)
	}
	c.send(c.request(sip.BYE))
	h.port.wait(t, sip.BYE, 1).Final(200)
	eventually(t, "ports released", func() bool { return e.PortsInUse() == 0 })
}

// TestRelayExhausted: with ports for one leg only, the fork cannot get
// any: A gets 503 with Retry-After and nobody rings.
func TestRelayExhausted(t *testing.T) {
	h, e := mediaHarness(t, 42100, 2, nil)
	c := h.call()
	res, err := c.tx.final(t)
	if err != nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("final %v %v, want 503 with Retry-After", res, err)
	}
	if n := len(h.port.of(sip.INVITE)); n != 0 {
		t.Fatalf("%d INVITEs sent", n)
	}
	eventually(t, "ports released", func() bool { return e.PortsInUse() == 0 })
}

// TestRelaySilence: an answered call whose parties send no RTP ends with
// BYE on both legs after the media timeout.
func TestRelaySilence(t *testing.T) {
	h, e := mediaHarness(t, 42200, 20, func(c *media.Config) { c.Timeout = time.Second })
	c := h.call()
	c.answered(t)
	h.port.wait(t, sip.BYE, 2)
	eventually(t, "ports released", func() bool { return e.PortsInUse() == 0 })
}

// hold is an SDP with a=sendonly and its version moved on.
func hold(body string) string {
	body = strings.Replace(body, "a=rtpmap:0", "a=sendonly\r\na=rtpmap:0", 1)
	return strings.Replace(body, " 1 1 IN IP4", " 1 2 IN IP4", 1)
}

// TestRelayHoldCrosses: A's re-INVITE with a=sendonly reaches B as an
// offer at the relay with a=sendonly, and B's answer reaches A.
func TestRelayHoldCrosses(t *testing.T) {
	h, _ := mediaHarness(t, 42300, 20, nil)
	c := h.call()
	b := c.answered(t)
	reply := c.send(c.request(sip.INVITE, reqBody("application/sdp", hold(offerSDP))))
	select {
	case r := <-reply:
		t.Fatalf("hold answered at once: %d %s", r.Code, r.Reason)
	case <-time.After(200 * time.Millisecond):
	}
	re := h.port.wait(t, sip.INVITE, 2)
	body := string(re.Req.Body())
	if !strings.Contains(body, "a=sendonly") || strings.Contains(body, "192.0.2.1") || relayOf(t, re.Req.Body()) != relayOf(t, b.Req.Body()) {
		t.Fatalf("hold offer to B:\n%s\nfirst offer:\n%s", body, b.Req.Body())
	}
	re.Final(200, withTag("bt"), withBody(strings.Replace(answerSDP, "a=rtpmap:0", "a=recvonly\r\na=rtpmap:0", 1)))
	select {
	case r := <-reply:
		if r.Code != 200 || !strings.Contains(string(r.Body), "a=recvonly") || strings.Contains(string(r.Body), "192.0.2.2") {
			t.Fatalf("hold answer to A: %d\n%s", r.Code, r.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to A's hold")
	}
}

// TestRelayFailureEndsCall: a media leg that panics ends its call on both
// legs and gives its ports back.
func TestRelayFailureEndsCall(t *testing.T) {
	armed := make(chan struct{}, 1)
	mediaMiddleware = []actor.ReceiverMiddleware{func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			if _, ok := env.Message.(*mediaTick); ok {
				select {
				case <-armed:
					panic("injected media failure")
				default:
				}
			}
			next(c, env)
		}
	}}
	t.Cleanup(func() { mediaMiddleware = nil })
	h, e := mediaHarness(t, 42400, 20, nil)
	c := h.call()
	c.answered(t)
	armed <- struct{}{}
	h.port.wait(t, sip.BYE, 2)
	eventually(t, "ports released", func() bool { return e.PortsInUse() == 0 })
}

// TestRelayNoUsableCrypto: an RTP/SAVP offer whose keys the relay cannot
// use is 488 before anyone rings, and its ports are released.
func TestRelayNoUsableCrypto(t *testing.T) {
	h, e := mediaHarness(t, 42500, 20, nil)
	offer := strings.Replace(offerSDP, "RTP/AVP", "RTP/SAVP", 1) +
		"a=crypto:1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
	c := h.call(reqBody("application/sdp", offer))
	res, err := c.tx.final(t)
	if err != nil || res.StatusCode != 488 {
		t.Fatalf("final %v %v, want 488", res, err)
	}
	if n := len(h.port.of(sip.INVITE)); n != 0 {
		t.Fatalf("%d INVITEs sent", n)
	}
	eventually(t, "ports released", func() bool { return e.PortsInUse() == 0 })
}
