package media

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/media/sdp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Offers and answers of the endpoints in these tests.
const (
	plainOffer = "v=0\r\no=alice 10 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
	plainAnswer = "v=0\r\no=bob 20 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n" +
		"m=audio 5000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	srtpOffer = "v=0\r\no=alice 10 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n" +
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n" +
		"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n"
)

func newEngine(t *testing.T, c Config) *Engine {
	t.Helper()
	e, err := NewEngine(c, netip.MustParseAddr("127.0.0.1"), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func testConfig(lo int) Config {
	c := DefaultConfig()
	c.Ports = strconv.Itoa(lo) + "-" + strconv.Itoa(lo+99)
	c.Quarantine = 0
	return c
}

// legs are a call's two sessions, closed when the test ends.
func legs(t *testing.T, e *Engine, callID string) (a, b *Session) {
	t.Helper()
	a, b = e.NewSession(Caller, callID, "a"), e.NewSession(Callee, callID, "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func parse(t *testing.T, body []byte) *sdp.Description {
	t.Helper()
	d, err := sdp.Parse(body)
	if err != nil {
		t.Fatalf("%v in\n%s", err, body)
	}
	return d
}

// TestOfferAnswerPlain: each endpoint gets the relay's address and its own
// leg's port; the o= line is the leg's, its version moves only when the
// description changes.
func TestOfferAnswerPlain(t *testing.T) {
	e := newEngine(t, testConfig(41000))
	a, b := legs(t, e, "c1")
	if err := a.Received([]byte(plainOffer), true); err != nil {
		t.Fatal(err)
	}
	toB, err := b.Sent([]byte(plainOffer), true)
	if err != nil {
		t.Fatal(err)
	}
	db := parse(t, toB)
	if got := db.Streams[0]; got.Addr.String() != "127.0.0.1" || got.Port != b.Ports()[0] || got.Secure {
		t.Fatalf("offer to B: %+v, want 127.0.0.1:%d RTP/AVP", got, b.Ports()[0])
	}
	if err := b.Received([]byte(plainAnswer), false); err != nil {
		t.Fatal(err)
	}
	toA, err := a.Sent([]byte(plainAnswer), false)
	if err != nil {
		t.Fatal(err)
	}
	da := parse(t, toA)
	if got := da.Streams[0]; got.Port != a.Ports()[0] || a.Ports()[0] == b.Ports()[0] {
		t.Fatalf("answer to A: port %d, A's %v B's %v", got.Port, a.Ports(), b.Ports())
	}
	if bytes.Contains(toA, []byte("192.0.2.")) || bytes.Contains(toB, []byte("192.0.2.")) {
		t.Fatalf("an endpoint's address leaked:\n%s\n%s", toA, toB)
	}
	if !bytes.Contains(toA, []byte("telephone-event/8000")) {
		t.Fatalf("codecs not passed through:\n%s", toA)
	}
	again, _ := a.Sent([]byte(plainAnswer), false)
	if !bytes.Equal(again, toA) {
		t.Fatalf("the same answer again changed:\n%s\n%s", toA, again)
	}
	held, _ := a.Sent([]byte(strings.Replace(plainAnswer, "a=rtpmap:101", "a=sendonly\r\na=rtpmap:101", 1)), true)
	if v := parse(t, held).Version; v != da.Version+1 {
		t.Fatalf("version %d after a change, want %d", v, da.Version+1)
	}
}

// TestSRTPToRTP: with srtp=rtp, an SRTP caller's callee is offered plain
// RTP and the caller gets an SRTP answer with the tag it offered and a
// key of the relay's.
func TestSRTPToRTP(t *testing.T) {
	c := testConfig(41100)
	c.SRTP = SRTPOff
	e := newEngine(t, c)
	a, b := legs(t, e, "c2")
	if err := a.Received([]byte(srtpOffer), true); err != nil {
		t.Fatal(err)
	}
	toB, err := b.Sent([]byte(srtpOffer), true)
	if err != nil {
		t.Fatal(err)
	}
	if s := parse(t, toB).Streams[0]; s.Secure || len(s.Crypto) > 0 || bytes.Contains(toB, []byte("crypto")) {
		t.Fatalf("callee offered SRTP:\n%s", toB)
	}
	if err := b.Received([]byte(plainAnswer), false); err != nil {
		t.Fatal(err)
	}
	toA, err := a.Sent([]byte(plainAnswer), false)
	if err != nil {
		t.Fatal(err)
	}
	s := parse(t, toA).Streams[0]
	if !s.Secure || len(s.Crypto) != 1 || s.Crypto[0].Tag != 1 || s.Crypto[0].Suite != sdp.AES_CM_128_HMAC_SHA1_80 {
		t.Fatalf("answer to the SRTP caller:\n%s", toA)
	}
	if bytes.Contains(toA, []byte("WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")) {
		t.Fatal("the caller's own key came back")
	}
}

// TestRTPToSRTP: with srtp=srtp, a plain caller's callee is offered
// SDES-SRTP, and its answer picks one of our lines by tag.
func TestRTPToSRTP(t *testing.T) {
	c := testConfig(41200)
	c.SRTP = SRTPOn
	e := newEngine(t, c)
	a, b := legs(t, e, "c3")
	if err := a.Received([]byte(plainOffer), true); err != nil {
		t.Fatal(err)
	}
	toB, err := b.Sent([]byte(plainOffer), true)
	if err != nil {
		t.Fatal(err)
	}
	s := parse(t, toB).Streams[0]
	if !s.Secure || len(s.Crypto) != 2 {
		t.Fatalf("callee not offered SRTP:\n%s", toB)
	}
	answer := strings.Replace(plainAnswer, "RTP/AVP", "RTP/SAVP", 1) +
		"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n"
	bad := strings.Replace(answer, "a=crypto:2", "a=crypto:7", 1)
	if err := b.Received([]byte(bad), false); err != ErrNoCrypto {
		t.Fatalf("an answer with a tag we never offered: %v, want ErrNoCrypto", err)
	}
	if err := b.Received([]byte(answer), false); err != nil {
		t.Fatal(err)
	}
	toA, err := a.Sent([]byte(answer), false)
	if err != nil {
		t.Fatal(err)
	}
	if s := parse(t, toA).Streams[0]; s.Secure || bytes.Contains(toA, []byte("crypto")) {
		t.Fatalf("plain caller got SRTP:\n%s", toA)
	}
}

// TestNoCrypto: an RTP/SAVP offer without a line the relay can use is
// refused (488 in the call).
func TestNoCrypto(t *testing.T) {
	e := newEngine(t, testConfig(41300))
	a := e.NewSession(Caller, "c4", "a")
	defer a.Close()
	offer := strings.Replace(srtpOffer, "AES_CM_128_HMAC_SHA1_80", "F8_128_HMAC_SHA1_80", 1)
	offer = strings.Replace(offer, "AES_CM_128_HMAC_SHA1_32", "NULL_HMAC_SHA1_32", 1)
	if err := a.Received([]byte(offer), true); err != ErrNoCrypto {
		t.Fatalf("err %v, want ErrNoCrypto", err)
	}
	if err := a.Prepare([]byte(offer)); err != ErrNoCrypto { // the call answers 488 before anyone rings
		t.Fatalf("Prepare: err %v, want ErrNoCrypto", err)
	}
}

// TestExhausted: the range holds two pairs: a third session gets
// ErrExhausted, and Close gives the ports back.
func TestExhausted(t *testing.T) {
	c := DefaultConfig()
	c.Ports, c.Quarantine = "41400-41403", 0
	e := newEngine(t, c)
	a, b, x := e.NewSession(Caller, "c5", "a"), e.NewSession(Callee, "c5", "b"), e.NewSession(Caller, "c6", "a")
	defer b.Close()
	defer x.Close()
	if err := a.Prepare([]byte(plainOffer)); err != nil {
		t.Fatal(err)
	}
	if err := b.Prepare([]byte(plainOffer)); err != nil {
		t.Fatal(err)
	}
	if err := x.Prepare([]byte(plainOffer)); err != ErrExhausted {
		t.Fatalf("err %v, want ErrExhausted", err)
	}
	a.Close()
	if err := x.Prepare([]byte(plainOffer)); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	if n := e.PortsInUse(); n != 2 {
		t.Fatalf("%d pairs in use, want 2", n)
	}
}

// TestHeldAndIdle: a sendonly offer holds the session; Idle counts only
// once armed.
func TestHeldAndIdle(t *testing.T) {
	e := newEngine(t, testConfig(41500))
	a := e.NewSession(Caller, "c7", "a")
	defer a.Close()
	if err := a.Received([]byte(plainOffer), true); err != nil {
		t.Fatal(err)
	}
	if a.Held() || !a.LastRx().IsZero() {
		t.Fatal("a fresh session is held or armed")
	}
	a.Arm()
	if time.Since(a.LastRx()) > time.Second {
		t.Fatal("armed without a clock")
	}
	if err := a.Received([]byte(strings.Replace(plainOffer, "a=rtpmap:0", "a=sendonly\r\na=rtpmap:0", 1)), true); err != nil {
		t.Fatal(err)
	}
	if !a.Held() {
		t.Fatal("sendonly does not hold")
	}
	if err := a.Received([]byte(strings.Replace(plainOffer, "c=IN IP4 192.0.2.1", "c=IN IP4 0.0.0.0", 1)), true); err != nil {
		t.Fatal(err)
	}
	if !a.Held() {
		t.Fatal("c=0.0.0.0 does not hold")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"odd low bound", func(c *Config) { c.Ports = "20001-20010" }, true},
		{"one port", func(c *Config) { c.Ports = "20000-20000" }, false},
		{"only an odd and the next even", func(c *Config) { c.Ports = "20001-20002" }, false},
		{"not a range", func(c *Config) { c.Ports = "20000" }, false},
		{"privileged", func(c *Config) { c.Ports = "80-100" }, false},
		{"above 65535", func(c *Config) { c.Ports = "65000-70000" }, false},
		{"bad address", func(c *Config) { c.Address = "localhost" }, false},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, false},
		{"unknown srtp", func(c *Config) { c.SRTP = "dtls" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
