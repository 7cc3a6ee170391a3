package edge_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
)

// TestTwoUDPListeners starts an IPv4 and an IPv6 UDP listener and sends
// OPTIONS on both at once: the read filter of one listener must not race
// with Start registering the other (run with -race).
func TestTwoUDPListeners(t *testing.T) {
	for round := range 3 {
		s := startServerOpts(t, options{listen: []edge.Listener{{Network: "udp", Addr: "127.0.0.1:0"}, {Network: "udp", Addr: "[::1]:0"}}})
		addrs := s.edge.Addrs()
		if len(addrs) != 2 {
			t.Fatalf("listening on %v", addrs)
		}
		done := make(chan error, len(addrs))
		for _, l := range addrs {
			go func() {
				c, err := siptest.Dial("udp", l.Addr)
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				res, err := c.Do(optionsTo(c, fmt.Sprintf("two-%d-%s", round, l.Addr)), 2*time.Second)
				if err == nil && siptest.Status(res) != 200 {
					err = fmt.Errorf("OPTIONS on %s:\n%s", l, res)
				}
				done <- err
			}()
		}
		for range addrs {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// optionsTo is an OPTIONS to the server itself from c.
func optionsTo(c *siptest.Client, callID string) []byte {
	return siptest.Lines(
		"OPTIONS sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP "+c.LocalAddr()+";branch=z9hG4bK-"+callID+";rport",
		"From: <sip:probe@localhost>;tag=1",
		"To: <sip:localhost>",
		"Call-ID: "+callID,
		"CSeq: 1 OPTIONS",
		"Content-Length: 0",
	)
}
