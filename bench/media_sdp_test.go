package bench

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testKey = bytes.Repeat([]byte{0xab}, srtpMasterLen)

func TestAppendSDP(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    mediaSDP
		want string
	}{
		{"plain", mediaSDP{Addr: netip.MustParseAddrPort("127.0.0.1:30000")},
			"v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
				"m=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"},
		{"srtp", mediaSDP{Addr: netip.MustParseAddrPort("127.0.0.1:30002"), Key: testKey, CryptoTag: 7},
			"v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
				"m=audio 30002 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n" +
				"a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(testKey) + "\r\n" +
				"a=sendrecv\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendSDP(nil, 7, tc.m))
			if got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
			back, err := parseSDP([]byte(got))
			if err != nil || back.Addr != tc.m.Addr || back.SRTP != (tc.m.Key != nil) ||
				!bytes.Equal(back.Key, tc.m.Key) || (tc.m.Key != nil && back.CryptoTag != tc.m.CryptoTag) {
				t.Errorf("parsed back %+v, %v", back, err)
			}
		})
	}
}

func TestParseSDP(t *testing.T) {
	key80 := "fJnJyEA4h8yBt9KSPPk5ZtKVn8wBXHChwohrScRS"
	k, _ := base64.RawStdEncoding.DecodeString(key80)
	for _, tc := range []struct {
		name, file string
		sdp        string
		addr       string
		srtp       bool
		tag        int
		key        []byte
		err        error
	}{
		// rtpengine 10.5's offer toward an RTP/SAVP side: twelve suites,
		// the one we speak is tag 7, its key without base64 padding.
		{name: "rtpengine savp offer", file: "rtpengine_offer_savp.sdp", addr: "127.0.0.1:37164", srtp: true, tag: 7, key: k},
		{name: "media-level c= wins", sdp: "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\n",
			addr: "10.0.0.2:4000"},
		{name: "session c=, LF only", sdp: "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\n", addr: "10.0.0.1:4000"},
		{name: "video first", sdp: "v=0\r\nc=IN IP4 10.0.0.1\r\nm=video 5000 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 0\r\n",
			addr: "10.0.0.1:4000"},
		{name: "second audio ignored", sdp: "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 6000 RTP/SAVP 0\r\n" +
			"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key80 + "\r\n", addr: "10.0.0.1:4000"},
		{name: "lifetime and mki", sdp: "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 0\r\n" +
			"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" + key80 + "|2^20|1:4\r\n", addr: "10.0.0.1:4000", srtp: true, tag: 3, key: k},
		{name: "savp without our suite", sdp: "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 0\r\n" +
			"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" + key80 + "\r\n", err: errSDPNoCrypto},
		{name: "short key", sdp: "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 0\r\n" +
			"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YWJj\r\n", err: errSDPNoCrypto},
		{name: "no audio", sdp: "v=0\r\nc=IN IP4 10.0.0.1\r\nm=video 5000 RTP/AVP 96\r\n", err: errSDPNoAudio},
		{name: "no address", sdp: "v=0\r\nm=audio 4000 RTP/AVP 0\r\n", err: errSDPNoAudio},
		{name: "bad port", sdp: "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 70000 RTP/AVP 0\r\n", err: errSDPNoAudio},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdp := []byte(tc.sdp)
			if tc.file != "" {
				var err error
				if sdp, err = os.ReadFile(filepath.Join("testdata", "media_sdp", tc.file)); err != nil {
					t.Fatal(err)
				}
			}
			m, err := parseSDP(sdp)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || m.Addr.String() != tc.addr || m.SRTP != tc.srtp || m.CryptoTag != tc.tag || !bytes.Equal(m.Key, tc.key) {
				t.Errorf("got %v srtp=%v tag=%d key=%x, %v", m.Addr, m.SRTP, m.CryptoTag, m.Key, err)
			}
		})
	}
}

// TestMediaCallSDP walks one call's offer/answer as a relay with SRTP on
// B's side sees it: B answers with the tag of the relay's suite and its
// own key, and A reads where to send.
func TestMediaCallSDP(t *testing.T) {
	mc := &mediaCall{idx: 4, srtp: SRTPB, a: netip.MustParseAddrPort("127.0.0.1:1000"),
		b: netip.MustParseAddrPort("127.0.0.1:2000"), keyB: testKey}
	offer := string(mc.offerSDP())
	if !strings.Contains(offer, "m=audio 1000 RTP/AVP 0") || strings.Contains(offer, "crypto") {
		t.Errorf("offer:\n%s", offer)
	}
	relayOffer, err := os.ReadFile(filepath.Join("testdata", "media_sdp", "rtpengine_offer_savp.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.readOfferAtB(relayOffer); err != nil {
		t.Fatal(err)
	}
	if mc.toRelayFromB.String() != "127.0.0.1:37164" || mc.tagB != 7 || len(mc.relayKey) != srtpMasterLen {
		t.Errorf("B sends to %v, tag %d, relay key %d bytes", mc.toRelayFromB, mc.tagB, len(mc.relayKey))
	}
	answer := string(mc.answerSDP())
	if !strings.Contains(answer, "m=audio 2000 RTP/SAVP 0") || !strings.Contains(answer, "a=crypto:7 "+srtpSuite) {
		t.Errorf("answer:\n%s", answer)
	}
	if err := mc.readAnswerAtA([]byte("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 37166 RTP/AVP 0\r\n")); err != nil ||
		mc.toRelayFromA.String() != "127.0.0.1:37166" {
		t.Errorf("A sends to %v, %v", mc.toRelayFromA, err)
	}
	// SRTP on A: a plain answer to A is an error.
	mc.srtp = SRTPA
	if err := mc.readAnswerAtA([]byte("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 37166 RTP/AVP 0\r\n")); !errors.Is(err, errSDPNoCrypto) {
		t.Errorf("plain answer to an SRTP side: %v", err)
	}
}
