package relay

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/b2bua/b2bua/media/sdp"
)

// fwdFixture is stream a linked to b, with a reader of a's socket driven
// by hand (no goroutine): forward is the whole per-packet path but the
// read, so its allocations are the relay's own.
type fwdFixture struct {
	epA, epB *endpoint
	a, b     *Stream
	r        *reader
	from     netip.AddrPort
	seq      uint16
	pkts     [][]byte // pre-protected packets, used in order
	kind     int
	payload  []byte
}

func newFwd(t testing.TB, sa, sb sdp.Suite, kind int) *fwdFixture {
	f := &fwdFixture{
		epA: newEndpoint(t, key(sa, 1), key(sa, 2)), epB: newEndpoint(t, key(sb, 3), key(sb, 4)),
		a: newStream(t, Options{}, false), b: newStream(t, Options{}, false),
		kind: kind, payload: make([]byte, 160), // PCMU, 20 ms
	}
	f.a.SetRemote(f.epA.remote())
	f.b.SetRemote(f.epB.remote())
	Link(f.a, f.b)
	f.r = newReader(f.a, kind)
	f.from = addr(f.epA.rtp)
	if kind == kindRTCP {
		f.from = addr(f.epA.rtcp)
	}
	return f
}

// refill protects the next n packets as endpoint A sends them.
func (f *fwdFixture) refill(t testing.TB, n int) {
	f.pkts = f.pkts[:0]
	for range n {
		f.seq++
		var p []byte
		if f.kind == kindRTP {
			p = f.epA.protect(rtpPacket(t, f.seq, 0xA, f.payload), false)
		} else {
			raw, _ := (&rtcp.ReceiverReport{SSRC: 0xA, Reports: []rtcp.ReceptionReport{{SSRC: 1, Jitter: uint32(f.seq)}}}).Marshal()
			p = f.epA.protect(raw, true)
		}
		f.pkts = append(f.pkts, p)
	}
}

// next forwards the next packet.
func (f *fwdFixture) next() {
	p := f.pkts[0]
	f.pkts = f.pkts[1:]
	n := copy(f.r.buf[:], p)
	f.r.forward(n, f.from)
}

var suites = []struct {
	name   string
	sa, sb sdp.Suite
}{
	{"plain", sdp.None, sdp.None},
	{"SRTP80-to-RTP", sdp.AES_CM_128_HMAC_SHA1_80, sdp.None},
	{"RTP-to-SRTP80", sdp.None, sdp.AES_CM_128_HMAC_SHA1_80},
	{"SRTP80-to-SRTP80", sdp.AES_CM_128_HMAC_SHA1_80, sdp.AES_CM_128_HMAC_SHA1_80},
	{"SRTP32-to-SRTP80", sdp.AES_CM_128_HMAC_SHA1_32, sdp.AES_CM_128_HMAC_SHA1_80},
	{"GCM-to-GCM", sdp.AEAD_AES_128_GCM, sdp.AEAD_AES_128_GCM},
}

func TestForwardAllocs(t *testing.T) {
	for _, tc := range suites {
		for _, kind := range []int{kindRTP, kindRTCP} {
			t.Run(tc.name+[]string{"/RTP", "/RTCP"}[kind], func(t *testing.T) {
				f := newFwd(t, tc.sa, tc.sb, kind)
				const runs = 200
				f.refill(t, runs+10)
				f.next() // first packet latches: one allocation, once per call
				allocs := testing.AllocsPerRun(runs, f.next)
				st := f.a.Stats()
				if allocs != 0 && !raceEnabled {
					t.Fatalf("%v allocations per packet", allocs)
				}
				if st.RxPackets != runs+2 || f.b.Stats().TxPackets != runs+2 || st.Dropped != 0 || st.AuthFailed != 0 {
					t.Fatalf("not every packet was relayed: %+v", st)
				}
			})
		}
	}
}

func benchForward(b *testing.B, sa, sb sdp.Suite) {
	f := newFwd(b, sa, sb, kindRTP)
	const batch = 4096
	f.refill(b, batch)
	f.next()
	b.SetBytes(int64(12 + len(f.payload)))
	b.ReportAllocs()
	for b.Loop() {
		if len(f.pkts) == 0 {
			b.StopTimer()
			f.refill(b, batch)
			b.StartTimer()
		}
		f.next()
	}
	if st := f.a.Stats(); st.Dropped+st.AuthFailed != 0 {
		b.Fatalf("dropped: %+v", st)
	}
}

func BenchmarkForwardPlain(b *testing.B) { benchForward(b, sdp.None, sdp.None) }

func BenchmarkForwardSRTP(b *testing.B) {
	for _, tc := range suites[1:] {
		b.Run(tc.name, func(b *testing.B) { benchForward(b, tc.sa, tc.sb) })
	}
}

// BenchmarkRelay is the whole loop through real sockets: endpoint A
// sends 172-byte PCMU packets to stream a (encrypted when it speaks
// SRTP), B counts what arrives. A sends only with one of window tokens in
// hand and B returns a token per arrival, so the kernel buffers never
// overflow and nobody spins; what has not arrived after 50 ms of silence
// is counted lost (the loss metric should be 0). allocs/op include the
// test's sender and receiver, which make none.
func BenchmarkRelay(b *testing.B) {
	for _, tc := range []struct {
		name   string
		sa, sb sdp.Suite
	}{{"plain", sdp.None, sdp.None}, {"SRTP80-to-SRTP80", sdp.AES_CM_128_HMAC_SHA1_80, sdp.AES_CM_128_HMAC_SHA1_80}} {
		b.Run(tc.name, func(b *testing.B) {
			epA, epB := newEndpoint(b, key(tc.sa, 1), Crypto{}), newEndpoint(b, Crypto{}, key(tc.sb, 4))
			a, bs := newStream(b, Options{}, true), newStream(b, Options{}, true)
			a.SetRemote(epA.remote())
			bs.SetRemote(epB.remote())
			Link(a, bs)
			const window = 64
			tokens := make(chan struct{}, window)
			for range window {
				tokens <- struct{}{}
			}
			release := func() {
				select {
				case tokens <- struct{}{}:
				default:
				}
			}
			var sent, got, lost atomic.Int64
			var stop atomic.Bool
			done := make(chan struct{})
			go func() { // B: count arrivals, return tokens
				defer close(done)
				buf := make([]byte, 2048)
				for !stop.Load() {
					epB.rtp.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
					if _, _, err := epB.rtp.ReadFromUDPAddrPort(buf); err == nil {
						got.Add(1)
						release()
						continue
					}
					for range sent.Load() - got.Load() - lost.Load() {
						lost.Add(1)
						release()
					}
				}
			}()
			pkt := rtpPacket(b, 1, 0xA, make([]byte, 160))
			enc := make([]byte, 2048)
			var hdr rtp.Header
			to := a.LocalRTP()
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				<-tokens
				seq := sent.Add(1)
				binary.BigEndian.PutUint16(pkt[2:], uint16(seq))
				out := pkt
				if epA.enc != nil {
					out, _ = epA.enc.EncryptRTP(enc[:0], pkt, &hdr)
				}
				epA.rtp.WriteToUDPAddrPort(out, to)
			}
			elapsed := time.Since(start)
			for range window { // wait for the last ones (or their loss)
				<-tokens
			}
			stop.Store(true)
			<-done
			b.ReportMetric(float64(got.Load())/elapsed.Seconds(), "pps")
			b.ReportMetric(float64(lost.Load())/float64(sent.Load()), "loss")
		})
	}
}

// BenchmarkWrite is the syscall alone (one sendto of the same packet to
// the same kind of socket), the floor under BenchmarkForward*: what
// forward adds is the difference.
func BenchmarkWrite(b *testing.B) {
	from, to := listen(b), listen(b)
	pkt := rtpPacket(b, 1, 1, make([]byte, 160))
	dst := addr(to)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		from.WriteToUDPAddrPort(pkt, dst)
	}
}
