package relay

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"go.uber.org/goleak"

	"github.com/b2bua/b2bua/media/sdp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func listen(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addr(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// newStream is a stream on two fresh sockets; started unless start is false.
func newStream(t testing.TB, o Options, start bool) *Stream {
	t.Helper()
	s := NewStream(listen(t), listen(t), o)
	if start {
		s.Start()
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func localRTCP(s *Stream) netip.AddrPort { return addr(s.conns[kindRTCP]) }

// key is a test master key||salt for suite, different for each seed.
func key(suite sdp.Suite, seed byte) Crypto {
	if suite == sdp.None {
		return Crypto{}
	}
	k := make([]byte, suite.KeyLen())
	for i := range k {
		k[i] = seed + byte(i)*7
	}
	return Crypto{Suite: suite, Key: k}
}

func mustContext(t testing.TB, c Crypto, decrypt bool) *srtp.Context {
	t.Helper()
	if c.Suite == sdp.None {
		return nil
	}
	ctx, err := newContext(c, decrypt)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// endpoint is a phone: it sends with its key (in, the relay's Remote.In)
// and receives with ours (out, the relay's Remote.Out).
type endpoint struct {
	t          testing.TB
	rtp, rtcp  *net.UDPConn
	in, out    Crypto
	enc, dec   *srtp.Context // RTP
	encC, decC *srtp.Context // RTCP
}

func newEndpoint(t testing.TB, in, out Crypto) *endpoint {
	return &endpoint{
		t: t, rtp: listen(t), rtcp: listen(t), in: in, out: out,
		enc: mustContext(t, in, false), encC: mustContext(t, in, false),
		dec: mustContext(t, out, true), decC: mustContext(t, out, true),
	}
}

// remote is what the endpoint's SDP says.
func (e *endpoint) remote() Remote {
	return Remote{RTP: addr(e.rtp), RTCP: addr(e.rtcp), Send: true, In: e.in, Out: e.out}
}

func rtpPacket(t testing.TB, seq uint16, ssrc uint32, payload []byte) []byte {
	b, err := (&rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc},
		Payload: payload,
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// protect is pkt as the endpoint sends it (encrypted when it speaks SRTP).
func (e *endpoint) protect(pkt []byte, isRTCP bool) []byte {
	e.t.Helper()
	var err error
	switch {
	case isRTCP && e.encC != nil:
		pkt, err = e.encC.EncryptRTCP(nil, pkt, nil)
	case !isRTCP && e.enc != nil:
		pkt, err = e.enc.EncryptRTP(nil, pkt, nil)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return pkt
}

func (e *endpoint) sendRTP(to netip.AddrPort, seq uint16, ssrc uint32, payload []byte) {
	e.t.Helper()
	e.sendFrom(e.rtp, to, e.protect(rtpPacket(e.t, seq, ssrc, payload), false))
}

func (e *endpoint) sendFrom(c *net.UDPConn, to netip.AddrPort, b []byte) {
	e.t.Helper()
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		e.t.Fatal(err)
	}
}

// recvRTP is the next RTP packet the endpoint gets, decrypted; nil after
// wait without one.
func (e *endpoint) recvRTP(wait time.Duration) *rtp.Packet {
	e.t.Helper()
	b := e.recv(e.rtp, wait)
	if b == nil {
		return nil
	}
	if e.dec != nil {
		var err error
		if b, err = e.dec.DecryptRTP(nil, b, nil); err != nil {
			e.t.Fatalf("endpoint decrypt: %v", err)
		}
	}
	p := &rtp.Packet{}
	if err := p.Unmarshal(b); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *endpoint) recvRTCP(wait time.Duration) []rtcp.Packet {
	e.t.Helper()
	b := e.recv(e.rtcp, wait)
	if b == nil {
		return nil
	}
	if e.decC != nil {
		var err error
		if b, err = e.decC.DecryptRTCP(nil, b, nil); err != nil {
			e.t.Fatalf("endpoint decrypt RTCP: %v", err)
		}
	}
	ps, err := rtcp.Unmarshal(b)
	if err != nil {
		e.t.Fatal(err)
	}
	return ps
}

// recv is the next datagram on c; nil after wait without one.
func (e *endpoint) recv(c *net.UDPConn, wait time.Duration) []byte {
	e.t.Helper()
	b, _ := recvFrom(e.t, c, wait)
	return b
}

func recvFrom(t testing.TB, c *net.UDPConn, wait time.Duration) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(wait))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, netip.AddrPort{}
		}
		t.Fatal(err)
	}
	return buf[:n], from
}

// eventually waits for cond, up to 2 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

const wait = 2 * time.Second
const quiet = 100 * time.Millisecond
