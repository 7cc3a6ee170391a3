package media

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestStatsAfterClose: a closed session's counters still add up. The
// media leg reports its last moves to Prometheus after Close (its ports
// are in quarantine by then); an empty Stats lost whatever moved in the
// leg's last second, a whole short call.
func TestStatsAfterClose(t *testing.T) {
	e := newEngine(t, testConfig(31700))
	a, b := e.NewSession(Caller, "c9", "a"), e.NewSession(Callee, "c9", "b")
	defer a.Close()
	defer b.Close()
	alice, bob := listen(t), listen(t)
	offer, answer := sdpAt(alice), sdpAt(bob)
	if err := a.Received(offer, true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Sent(offer, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Received(answer, false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sent(answer, false); err != nil {
		t.Fatal(err)
	}
	Bridge(a, b)
	a.Start(nil)
	b.Start(nil)
	pkt := []byte{0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7, 1, 2, 3, 4}
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: a.Ports()[0]}
	if _, err := alice.WriteToUDP(pkt, to); err != nil {
		t.Fatal(err)
	}
	_ = bob.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, _, err := bob.ReadFromUDP(make([]byte, 1500)); err != nil {
		t.Fatalf("the packet did not cross the relay: %v", err)
	}
	a.Close()
	b.Close()
	if got := a.Stats(); got.RxPackets != 1 {
		t.Fatalf("A's session after Close: %d packets received, want 1", got.RxPackets)
	}
	if got := b.Stats(); got.TxPackets != 1 {
		t.Fatalf("B's session after Close: %d packets sent, want 1", got.TxPackets)
	}
}

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sdpAt is a plain offer or answer whose media goes to c.
func sdpAt(c *net.UDPConn) []byte {
	return []byte(fmt.Sprintf("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
		c.LocalAddr().(*net.UDPAddr).Port))
}
