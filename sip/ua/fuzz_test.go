package ua

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/sip/siptest"
)

// FuzzSubscriptionState: any Subscription-State value parses to a known
// state with waits that are never negative.
func FuzzSubscriptionState(f *testing.F) {
	for _, s := range []string{"active;expires=600", "pending", "terminated;reason=timeout;retry-after=30",
		"terminated;reason=rejected", "Active ; Expires = 5", "terminated;retry-after=99999999999999999999",
		"active;expires=-5", ";;;=", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s := parseSubscriptionState(v)
		if s.state != SubPending && s.state != SubActive && s.state != SubTerminated {
			t.Fatalf("%q: state %d", v, s.state)
		}
		if s.expires < 0 || s.retryAfter < 0 {
			t.Fatalf("%q: expires %v, retry-after %v", v, s.expires, s.retryAfter)
		}
	})
}

// FuzzPeerRequest: whatever datagram reaches a peer, it keeps answering:
// an OPTIONS sent after it still gets 200.
func FuzzPeerRequest(f *testing.F) {
	for _, s := range []string{
		"NOTIFY sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-1\r\nFrom: <sip:bob@x>;tag=1\r\nTo: <sip:alice@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 NOTIFY\r\nEvent: presence\r\nSubscription-State: terminated;retry-after=-1\r\nContent-Type: application/pidf+xml\r\nContent-Length: 3\r\n\r\n<a>",
		"SUBSCRIBE sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-2\r\nFrom: <sip:bob@x>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: s\r\nCSeq: 1 SUBSCRIBE\r\nEvent: presence\r\nExpires: 99999999999\r\nContact: <sip:bob@127.0.0.1:9>\r\nContent-Length: 0\r\n\r\n",
		"MESSAGE sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-3\r\nFrom: <sip:bob@x>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: m\r\nCSeq: 1 MESSAGE\r\nDate: yesterday\r\nContent-Length: 2\r\n\r\nhi",
		"garbage\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	p, err := New("sip:alice@example.com", "udp:127.0.0.1:0", zap.NewNop(), WithHeartbeat(time.Hour, time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	go func() { // the inbox: messages the fuzzer delivers are read and dropped
		for range p.Messages() {
		}
	}()
	c, err := siptest.Dial("udp", p.Addr())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = c.Close() })
	n := 0
	f.Fuzz(func(t *testing.T, raw []byte) {
		n++
		_ = c.Send(raw)
		res, err := c.Do(siptest.Lines(
			"OPTIONS sip:alice@"+p.Addr()+" SIP/2.0",
			"Via: SIP/2.0/UDP "+c.LocalAddr()+";branch=z9hG4bK-probe"+itoa(n),
			"From: <sip:probe@example.com>;tag=p",
			"To: <sip:alice@example.com>",
			"Call-ID: probe-"+itoa(n),
			"CSeq: 1 OPTIONS",
			"Content-Length: 0"), 2*time.Second)
		for err == nil && !strings.Contains(res, "probe-"+itoa(n)+"\r\n") { // an answer to the fuzzed datagram came first
			res, err = c.Read(2 * time.Second)
		}
		if err == nil && siptest.Status(res) != 200 {
			t.Fatalf("OPTIONS after %q: %s", raw, res)
		}
		if err != nil {
			t.Fatalf("no answer to OPTIONS after %q: %v", raw, err)
		}
	})
}

// FuzzSDPDirection: any body gives one of the four directions or an
// error, and our answer to it, parsed back, says what answerDirection
// chose.
func FuzzSDPDirection(f *testing.F) {
	for _, dir := range []string{dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive} {
		f.Add(buildSDP("127.0.0.1", 40000, 1, 1, dir))
	}
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\na=sendonly\r\nm=video 4000 RTP/AVP 96\r\nm=audio 0 RTP/AVP 0\r\n"))
	f.Add([]byte("v=0\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		dir, err := sdpDirection(body)
		if err != nil {
			return
		}
		switch dir {
		case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
		default:
			t.Fatalf("direction %q", dir)
		}
		for _, holding := range []bool{false, true} {
			want := answerDirection(dir, holding)
			got, err := sdpDirection(buildSDP("192.0.2.1", 40000, 7, 2, want))
			if err != nil || got != want {
				t.Fatalf("answer to %q (holding %v): %q, %v; want %q", dir, holding, got, err, want)
			}
		}
	})
}

// FuzzDTMFRelay: a body that parses gives a valid digit and duration, and
// the body we would send for it parses back to the same.
func FuzzDTMFRelay(f *testing.F) {
	for _, s := range []string{"Signal=5\r\nDuration=160\r\n", "signal= 11\nduration=100", "Signal=a", "Signal=55\r\n",
		"Duration=-1\r\nSignal=#", "Signal=\r\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, ms, ok := parseDTMFRelay(body)
		if !ok {
			return
		}
		if !validDigit(d) || ms < 0 {
			t.Fatalf("%q: digit %q, %d ms", body, d, ms)
		}
		d2, ms2, ok := parseDTMFRelay(formatDTMFRelay(d, ms))
		if !ok || d2 != d || ms2 != ms {
			t.Fatalf("%q: round trip %q %d, want %q %d", body, d2, ms2, d, ms)
		}
	})
}
