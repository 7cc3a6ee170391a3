package edge_test

import (
	"testing"
	"time"

	"github.com/b2bua/b2bua/sip/siptest"
)

// TestOverloadAnswers503: with one request allowed in flight and a store
// that holds every write 300 ms, a second REGISTER while the first waits is
// answered 503 with Retry-After at once; the first still gets its 200, and
// once it is answered the server admits requests again.
func TestOverloadAnswers503(t *testing.T) {
	s := startServerOpts(t, options{maxInFlight: 1, slowStore: 300 * time.Millisecond})
	a, b := s.dial(t, "udp"), s.dial(t, "udp")
	reg := func(c *siptest.Client, user string) []byte {
		return siptest.Lines(
			"REGISTER sip:localhost SIP/2.0",
			"Via: SIP/2.0/UDP "+c.LocalAddr()+";branch=z9hG4bK-ovl-"+user,
			"From: <sip:"+user+"@localhost>;tag=1",
			"To: <sip:"+user+"@localhost>",
			"Call-ID: ovl-"+user,
			"CSeq: 1 REGISTER",
			"Contact: <sip:"+user+"@"+c.LocalAddr()+">",
			"Content-Length: 0",
		)
	}
	if err := a.Send(reg(a, "first")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	res, err := b.Do(reg(b, "second"), time.Second)
	if err != nil || siptest.Status(res) != 503 || len(siptest.Header(res, "Retry-After")) != 1 {
		t.Fatalf("second REGISTER while the first is in flight: %v\n%s", err, res)
	}
	if res, err := a.Read(2 * time.Second); err != nil || siptest.Status(res) != 200 {
		t.Fatalf("first REGISTER: %v\n%s", err, res)
	}
	c := s.dial(t, "udp")
	if res, err := c.Do(reg(c, "third"), 2*time.Second); err != nil || siptest.Status(res) != 200 {
		t.Fatalf("REGISTER after the load went: %v\n%s", err, res)
	}
}
