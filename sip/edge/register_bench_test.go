package edge_test

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// BenchmarkRegisterEndToEnd measures a REGISTER from the raw datagram to
// the bytes of the response, as issue 13 counts allocations: a client
// socket sends REGISTERs of a new AOR each (as the bench's register
// scenario does) to a real edge on loopback, whose UDP read loop hands
// them to sipgo's parser and the stateless path (readFilter), the
// registrar's router, shard and registration actor, a bbolt store in a
// temp dir, and back through the listener's sender. Up to window
// requests are in flight, so the store's group commits batch as they do
// under load. The client side allocates nothing: allocs/op is the
// server's cost per REGISTER.
//
//	go test ./sip/edge -run '^$' -bench RegisterEndToEnd -benchtime 2000x -benchmem
func BenchmarkRegisterEndToEnd(b *testing.B) {
	s := startServer(b)
	to, err := netip.ParseAddrPort(s.udp)
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()

	const window = 32
	sem := make(chan struct{}, window)
	failed := make(chan string, 1)
	done := make(chan struct{})
	go func() { // the reader: one response frees one slot
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed
			}
			if !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200 ")) {
				select {
				case failed <- string(buf[:n]):
				default:
				}
			}
			<-sem
		}
	}()
	// Warm up: the first REGISTER spawns the shards and opens the bucket.
	req := make([]byte, 0, 1024)
	send := func(i int) {
		req = appendRegister(req[:0], local, i)
		if _, err := c.WriteToUDPAddrPort(req, to); err != nil {
			b.Fatal(err)
		}
	}
	sem <- struct{}{}
	send(-1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		select {
		case sem <- struct{}{}:
		default: // window full: wait, with a timer only now (it allocates)
			select {
			case sem <- struct{}{}:
			case <-time.After(5 * time.Second):
				b.Fatalf("no response in 5 s (lost datagram?) after %d requests", i)
			}
		}
		send(i)
		select {
		case res := <-failed:
			b.Fatalf("not 200:\n%s", res)
		default:
		}
	}
	for range window { // wait for the last responses
		sem <- struct{}{}
	}
	b.StopTimer()
	_ = c.Close()
	<-done
}

// appendRegister appends a REGISTER of AOR sip:e2e<n>@localhost from the
// client at local, shaped like the bench's register scenario.
func appendRegister(dst []byte, local string, n int) []byte {
	user := func(dst []byte) []byte {
		dst = append(dst, "e2e"...)
		return strconv.AppendInt(dst, int64(n), 10)
	}
	dst = append(dst, "REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP "...)
	dst = append(dst, local...)
	dst = append(dst, ";branch=z9hG4bK-e2e-"...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, ";rport\r\nMax-Forwards: 70\r\nFrom: <sip:"...)
	dst = user(dst)
	dst = append(dst, "@localhost>;tag=t"...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, "\r\nTo: <sip:"...)
	dst = user(dst)
	dst = append(dst, "@localhost>\r\nCall-ID: c"...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, "@e2e\r\nCSeq: 1 REGISTER\r\nContact: <sip:"...)
	dst = user(dst)
	dst = append(dst, '@')
	dst = append(dst, local...)
	dst = append(dst, ">\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"...)
	return dst
}
