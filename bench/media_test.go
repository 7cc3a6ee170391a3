package bench

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

func TestRunMediaDirect(t *testing.T) {
	cfg := MediaConfig{Control: "direct", Calls: 10, PPS: 50, Duration: time.Second, Sockets: 3, Drain: 500 * time.Millisecond}
	res, err := RunMedia(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 1000 || res.Received != 1000 || res.Lost != 0 || res.Dups != 0 {
		t.Errorf("sent %d received %d lost %d dups %d, want 1000 1000 0 0", res.Sent, res.Received, res.Lost, res.Dups)
	}
	if res.Misrouted != 0 || res.Foreign != 0 || res.Latency.Count != 1000 || res.Latency.P50 <= 0 || !res.Clean() {
		t.Errorf("misrouted %d foreign %d latency %+v", res.Misrouted, res.Foreign, res.Latency)
	}
	if res.TargetRate != 1000 || res.Sockets != 3 {
		t.Errorf("target %v sockets %d", res.TargetRate, res.Sockets)
	}
}

func TestRunMediaConfigErrors(t *testing.T) {
	for name, cfg := range map[string]MediaConfig{
		"control":          {Control: "rtpproxy", Calls: 1, Duration: time.Second},
		"ng without addr":  {Control: "ng", Calls: 1, Duration: time.Second},
		"direct with srtp": {Control: "direct", Calls: 1, Duration: time.Second, SRTP: SRTPA},
		"no calls":         {Control: "direct", Duration: time.Second},
		"no duration":      {Control: "direct", Calls: 1},
	} {
		if _, err := RunMedia(context.Background(), cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", name, err)
		}
	}
}

// TestRunMediaSRTP runs the generator through a one-call SRTP-to-RTP relay
// written here: with SRTP on A (or B) the relay decrypts what that side
// sends with the side's key from its SDP and encrypts what it sends there
// with a key of its own, which it announced in its SDP.
func TestRunMediaSRTP(t *testing.T) {
	for _, mode := range []MediaSRTP{SRTPA, SRTPB} {
		t.Run(mode.String(), func(t *testing.T) {
			fr := newFakeSRTPRelay(t, mode)
			cfg := MediaConfig{Control: "direct", Calls: 1, PPS: 50, Duration: time.Second, SRTP: mode, Drain: 500 * time.Millisecond}
			r := &mediaRun{cfg: cfg}
			cfg.Sockets, cfg.Local, cfg.SocketBuffer, cfg.Tick = 1, "127.0.0.1", 1<<20, time.Millisecond
			r.cfg = cfg
			defer r.closeConns()
			if err := r.open(); err != nil {
				t.Fatal(err)
			}
			if err := fr.setup(context.Background(), r.calls); err != nil {
				t.Fatal(err)
			}
			res := &MediaResult{Calls: 1, PPS: 50}
			if err := r.stream(context.Background(), res); err != nil {
				t.Fatal(err)
			}
			fr.close()
			if res.Sent != 100 || res.Received != 100 || res.DecryptErrors != 0 || res.Foreign != 0 {
				t.Errorf("sent %d received %d decrypt errors %d foreign %d", res.Sent, res.Received, res.DecryptErrors, res.Foreign)
			}
			if fr.decrypted != 50 || fr.encrypted != 50 {
				t.Errorf("relay decrypted %d encrypted %d, want 50 each", fr.decrypted, fr.encrypted)
			}
		})
	}
}

// fakeSRTPRelay relays one call; srtpConn faces the SRTP side, plainConn
// the other.
type fakeSRTPRelay struct {
	t                    *testing.T
	mode                 MediaSRTP
	srtpConn, plainConn  *net.UDPConn
	key                  []byte
	wg                   sync.WaitGroup
	decrypted, encrypted int
}

func newFakeSRTPRelay(t *testing.T, mode MediaSRTP) *fakeSRTPRelay {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return &fakeSRTPRelay{t: t, mode: mode, srtpConn: listen(), plainConn: listen(), key: newSRTPKey()}
}

// setup plays the offer/answer through the relay as a control would.
func (f *fakeSRTPRelay) setup(_ context.Context, calls []*mediaCall) error {
	mc := calls[0]
	srtpAddr, plainAddr := f.srtpConn.LocalAddr().(*net.UDPAddr).AddrPort(), f.plainConn.LocalAddr().(*net.UDPAddr).AddrPort()
	aFaces, bFaces := mediaSDP{Addr: plainAddr}, mediaSDP{Addr: plainAddr}
	var sideKey []byte
	if f.mode == SRTPA {
		aFaces = mediaSDP{Addr: srtpAddr, Key: f.key, CryptoTag: 1}
		sideKey = mc.keyA
	} else {
		bFaces = mediaSDP{Addr: srtpAddr, Key: f.key, CryptoTag: 3}
	}
	if err := mc.readOfferAtB(appendSDP(nil, 1, bFaces)); err != nil {
		return err
	}
	if f.mode == SRTPB {
		if mc.tagB != 3 {
			f.t.Errorf("B answers tag %d, want 3", mc.tagB)
		}
		ans, err := parseSDP(mc.answerSDP())
		if err != nil {
			return err
		}
		sideKey = ans.Key
	}
	if err := mc.readAnswerAtA(appendSDP(nil, 1, aFaces)); err != nil {
		return err
	}
	srtpPeer, plainPeer := mc.a, mc.b
	if f.mode == SRTPB {
		srtpPeer, plainPeer = mc.b, mc.a
	}
	dec, err := srtp.CreateContext(sideKey[:srtpKeyLen], sideKey[srtpKeyLen:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		return err
	}
	enc, err := srtp.CreateContext(f.key[:srtpKeyLen], f.key[srtpKeyLen:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		return err
	}
	f.wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, err := f.srtpConn.Read(buf)
			if err != nil {
				return
			}
			if out, err := dec.DecryptRTP(nil, buf[:n], nil); err == nil {
				f.decrypted++
				_, _ = f.plainConn.WriteToUDPAddrPort(out, plainPeer)
			}
		}
	})
	f.wg.Go(func() {
		buf := make([]byte, 2048)
		var h rtp.Header
		for {
			n, err := f.plainConn.Read(buf)
			if err != nil {
				return
			}
			if _, err := h.Unmarshal(buf[:n]); err != nil {
				continue
			}
			if out, err := enc.EncryptRTP(nil, buf[:n], &h); err == nil {
				f.encrypted++
				_, _ = f.srtpConn.WriteToUDPAddrPort(out, srtpPeer)
			}
		}
	})
	return nil
}

func (f *fakeSRTPRelay) close() {
	_ = f.srtpConn.Close()
	_ = f.plainConn.Close()
	f.wg.Wait()
}
