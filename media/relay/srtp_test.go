package relay

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/pion/rtcp"

	"github.com/b2bua/b2bua/media/sdp"
)

// TestRelaySRTP sends RTP and RTCP both ways between two endpoints whose
// suites and keys differ, across a sequence number rollover (the ROC must
// follow on both contexts), and checks every payload and sequence number.
func TestRelaySRTP(t *testing.T) {
	const (
		cm80 = sdp.AES_CM_128_HMAC_SHA1_80
		cm32 = sdp.AES_CM_128_HMAC_SHA1_32
		gcm  = sdp.AEAD_AES_128_GCM
		none = sdp.None
	)
	for _, tc := range []struct {
		name   string
		sa, sb sdp.Suite
	}{
		{"SRTP80 <-> RTP", cm80, none},
		{"RTP <-> SRTP32", none, cm32},
		{"SRTP80 <-> SRTP80 other keys", cm80, cm80},
		{"SRTP32 <-> SRTP80", cm32, cm80},
		{"GCM <-> SRTP80", gcm, cm80},
		{"GCM <-> GCM other keys", gcm, gcm},
		{"GCM <-> RTP", gcm, none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Four different keys: what A sends, what we send A, and B's.
			epA := newEndpoint(t, key(tc.sa, 1), key(tc.sa, 2))
			epB := newEndpoint(t, key(tc.sb, 3), key(tc.sb, 4))
			a, b := newStream(t, Options{}, true), newStream(t, Options{}, true)
			for _, x := range []struct {
				s *Stream
				e *endpoint
			}{{a, epA}, {b, epB}} {
				if err := x.s.SetRemote(x.e.remote()); err != nil {
					t.Fatal(err)
				}
			}
			Link(a, b)
			const n = 12
			for _, dir := range []struct {
				name     string
				from, to *endpoint
				via      *Stream
				ssrc     uint32
			}{{"a->b", epA, epB, a, 0xAAAA}, {"b->a", epB, epA, b, 0xBBBB}} {
				for i := range n {
					seq := uint16(65530 + i) // wraps after 65535
					payload := []byte(fmt.Sprintf("%s %d", dir.name, i))
					dir.from.sendRTP(dir.via.LocalRTP(), seq, dir.ssrc, payload)
					got := dir.to.recvRTP(wait)
					if got == nil {
						t.Fatalf("%s: packet %d lost", dir.name, i)
					}
					if got.SequenceNumber != seq || got.SSRC != dir.ssrc || !bytes.Equal(got.Payload, payload) {
						t.Fatalf("%s: got seq %d ssrc %x %q, want %d %q", dir.name, got.SequenceNumber, got.SSRC, got.Payload, seq, payload)
					}
				}
				// RTCP: a receiver report the relay reads on its way through.
				rr := &rtcp.ReceiverReport{SSRC: dir.ssrc, Reports: []rtcp.ReceptionReport{{
					SSRC: 1, FractionLost: 64, TotalLost: 7, Jitter: 321,
				}}}
				raw, err := rr.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				dir.from.sendFrom(dir.from.rtcp, localRTCP(dir.via), dir.from.protect(raw, true))
				ps := dir.to.recvRTCP(wait)
				if len(ps) != 1 {
					t.Fatalf("%s: RTCP %v", dir.name, ps)
				}
				got, ok := ps[0].(*rtcp.ReceiverReport)
				if !ok || got.SSRC != dir.ssrc || got.Reports[0].Jitter != 321 {
					t.Fatalf("%s: RTCP %+v", dir.name, ps[0])
				}
				st := dir.via.Stats()
				if st.Loss != 0.25 || st.Lost != 7 || st.Jitter != 321 || st.AuthFailed != 0 {
					t.Fatalf("%s: stats %+v", dir.name, st)
				}
			}
		})
	}
}

// TestAuthFailed: a packet under the wrong key, or replayed, is dropped
// and counted, and the stream goes on.
func TestAuthFailed(t *testing.T) {
	suite := sdp.AES_CM_128_HMAC_SHA1_80
	epA := newEndpoint(t, key(suite, 1), key(suite, 2))
	epB := newEndpoint(t, Crypto{}, Crypto{})
	a, b := newStream(t, Options{}, true), newStream(t, Options{}, true)
	a.SetRemote(epA.remote())
	b.SetRemote(epB.remote())
	Link(a, b)
	wrong := mustContext(t, key(suite, 9), false)
	bad, _ := wrong.EncryptRTP(nil, rtpPacket(t, 1, 0xA, []byte("forged")), nil)
	epA.sendFrom(epA.rtp, a.LocalRTP(), bad)
	good := epA.protect(rtpPacket(t, 2, 0xA, []byte("good")), false)
	epA.sendFrom(epA.rtp, a.LocalRTP(), good)
	if p := epB.recvRTP(wait); p == nil || string(p.Payload) != "good" {
		t.Fatalf("B got %v", p)
	}
	epA.sendFrom(epA.rtp, a.LocalRTP(), good) // replay
	if p := epB.recvRTP(quiet); p != nil {
		t.Fatalf("replayed packet relayed: %v", p)
	}
	eventually(t, "AuthFailed 2", func() bool { return a.Stats().AuthFailed == 2 })
}

func TestSetRemoteCrypto(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Crypto
		err  error
	}{
		{"plain", Crypto{}, nil},
		{"AES-CM 30 bytes", key(sdp.AES_CM_128_HMAC_SHA1_80, 1), nil},
		{"AES-GCM 28 bytes", key(sdp.AEAD_AES_128_GCM, 1), nil},
		{"AES-CM short key", Crypto{Suite: sdp.AES_CM_128_HMAC_SHA1_32, Key: make([]byte, 16)}, ErrCrypto},
		{"GCM with an AES-CM key", Crypto{Suite: sdp.AEAD_AES_128_GCM, Key: make([]byte, 30)}, ErrCrypto},
		{"unknown suite", Crypto{Suite: 99, Key: make([]byte, 30)}, ErrCrypto},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStream(t, Options{}, false)
			for _, r := range []Remote{{In: tc.c}, {Out: tc.c}} {
				err := s.SetRemote(r)
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if err != nil && len(tc.c.Key) > 0 && bytes.Contains([]byte(err.Error()), tc.c.Key) {
					t.Fatal("error holds the key")
				}
			}
			if s := fmt.Sprintf("%v %+v %#v", tc.c, Remote{In: tc.c}, tc.c); bytes.Contains([]byte(s), []byte("[")) {
				t.Fatalf("key printed: %s", s)
			}
		})
	}
}

// TestRelinkKeepsSRTCPIndex: linking the same streams again (a re-Link,
// or early media back to a fork) keeps the encrypting contexts, so the
// endpoint's SRTCP replay window still takes what follows.
func TestRelinkKeepsSRTCPIndex(t *testing.T) {
	suite := sdp.AES_CM_128_HMAC_SHA1_80
	epA, epB := newEndpoint(t, Crypto{}, Crypto{}), newEndpoint(t, key(suite, 3), key(suite, 4))
	a, b, c := newStream(t, Options{}, true), newStream(t, Options{}, true), newStream(t, Options{}, false)
	a.SetRemote(epA.remote())
	b.SetRemote(epB.remote())
	raw, _ := (&rtcp.ReceiverReport{SSRC: 0xA}).Marshal()
	for i, peer := range []*Stream{b, b, c, b} {
		Link(a, peer)
		if peer != b {
			continue
		}
		epA.sendFrom(epA.rtcp, localRTCP(a), raw)
		if ps := epB.recvRTCP(wait); len(ps) != 1 { // recvRTCP fails the test on a replay
			t.Fatalf("link %d: %v", i, ps)
		}
	}
}
