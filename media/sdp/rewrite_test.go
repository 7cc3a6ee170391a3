package sdp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/netip"
	"testing"
)

var (
	relay4 = netip.MustParseAddr("203.0.113.1")
	relay6 = netip.MustParseAddr("2001:db8::1")
	cm80   = Crypto{Tag: 1, Suite: AES_CM_128_HMAC_SHA1_80, Key: key(1, 30)}
	cm32   = Crypto{Tag: 2, Suite: AES_CM_128_HMAC_SHA1_32, Key: key(100, 30)}
	gcm    = Crypto{Tag: 3, Suite: AEAD_AES_128_GCM, Key: key(200, 28)}
)

// rewriteCases: each testdata/rewrite/<name>.sdp, the relay's side for
// it, and its output in testdata/rewrite/<name>.golden.
var rewriteCases = []struct {
	name  string
	local Local
}{
	{"sipp", Local{Addr: relay4, SessionID: 1, Version: 1, Streams: []LocalStream{{RTP: 20000}}}},
	// ICE, rtcp-mux and a=rtcp go; RTP/AVPF stays AVPF.
	{"linphone", Local{Addr: relay4, SessionID: 2, Version: 1, Streams: []LocalStream{{RTP: 20002}}}},
	// Three keys in, two out, where the first one was.
	{"baresip", Local{Addr: relay4, SessionID: 3, Version: 1, Streams: []LocalStream{{RTP: 20004, Secure: true, Crypto: []Crypto{cm80, cm32}}}}},
	// RTP/AVP with best-effort keys toward a plain leg: the keys go.
	{"polycom", Local{Addr: relay4, SessionID: 4, Version: 1, Streams: []LocalStream{{RTP: 20006}}}},
	// DTLS-SRTP is refused (port 0) and loses ICE, DTLS and BUNDLE.
	{"webrtc", Local{Addr: relay4, SessionID: 5, Version: 1, Streams: []LocalStream{{RTP: 20008}}}},
	// Toward a leg that speaks SDES-SRTP: RTP/SAVP and RTP/SAVPF.
	{"audio-video", Local{Addr: relay4, SessionID: 6, Version: 1, Streams: []LocalStream{
		{RTP: 20010, Secure: true, Crypto: []Crypto{cm80}}, {RTP: 20012, Secure: true, Crypto: []Crypto{gcm}}}}},
	{"hold-sendonly", Local{Addr: relay4, SessionID: 7, Version: 2, Streams: []LocalStream{{RTP: 20014}}}},
	{"hold-rfc2543", Local{Addr: relay4, SessionID: 8, Version: 2, Streams: []LocalStream{{RTP: 20016}}}},
	{"answer-video-refused", Local{Addr: relay4, SessionID: 9, Version: 1, Streams: []LocalStream{{RTP: 20018}, {RTP: 20020}}}},
	{"ipv6", Local{Addr: relay6, SessionID: 10, Version: 1, Streams: []LocalStream{{RTP: 20022}, {RTP: 20024}}}},
	// Session-level ICE and BUNDLE go; the muxed a=rtcp gets the relay's
	// own RTCP port and address.
	{"ice-lite-answer", Local{Addr: relay4, SessionID: 12, Version: 1, Streams: []LocalStream{{RTP: 20028, Secure: true, Crypto: []Crypto{cm80}}}}},
	{"t38-reoffer", Local{Addr: relay4, SessionID: 11, Version: 3, Streams: []LocalStream{{RTP: 20026}}}},
}

func TestRewriteGolden(t *testing.T) {
	for _, tc := range rewriteCases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Rewrite(input(t, tc.name), tc.local)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "testdata/rewrite/"+tc.name+".golden", out)
			// What the relay sends parses, and says what the relay asked.
			d, err := Parse(out)
			if err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			for i, s := range d.Streams {
				ls := tc.local.Streams[i]
				if s.Port != 0 && (s.Port != ls.RTP || s.Secure != ls.Secure || s.RTCPMux ||
					s.RTCP.Port() != uint16(ls.RTP+1) || len(s.Crypto) != len(ls.Crypto) && ls.Secure) {
					t.Errorf("stream %d: %+v for %+v", i, s, ls)
				}
			}
		})
	}
}

// TestRewriteLeaksNothing: no address, port or key of the endpoint's is
// left in what the relay sends in its place.
func TestRewriteLeaksNothing(t *testing.T) {
	for _, tc := range rewriteCases {
		in := input(t, tc.name)
		out, err := Rewrite(in, tc.local)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := Parse(in)
		for _, s := range d.Streams {
			if s.Addr.IsValid() && !s.Addr.IsUnspecified() && bytes.Contains(out, []byte(s.Addr.String())) {
				t.Errorf("%s: %s is in the output", tc.name, s.Addr)
			}
		}
		for _, s := range d.Streams {
			for _, c := range s.Crypto {
				if k := base64.RawStdEncoding.EncodeToString(c.Key); bytes.Contains(out, []byte(k)) {
					t.Errorf("%s: the endpoint's key %d is in the output", tc.name, c.Tag)
				}
			}
		}
		for _, leak := range []string{"candidate", "ice-", "fingerprint", "setup:", "BUNDLE", "rtcp-mux", "k="} {
			if bytes.Contains(out, []byte(leak)) {
				t.Errorf("%s: %q is in the output", tc.name, leak)
			}
		}
	}
}

func TestRewriteErrors(t *testing.T) {
	sipp := input(t, "sipp")
	two := input(t, "audio-video")
	bad := Crypto{Tag: 1, Suite: AES_CM_128_HMAC_SHA1_80, Key: key(0, 16)}
	for _, tc := range []struct {
		name      string
		body      []byte
		local     Local
		malformed bool
	}{
		{"garbage", []byte("hello"), Local{Addr: relay4, Streams: []LocalStream{{RTP: 2}}}, true},
		{"more m= lines than streams", two, Local{Addr: relay4, Streams: []LocalStream{{RTP: 2}}}, false},
		{"no local address", sipp, Local{Streams: []LocalStream{{RTP: 2}}}, false},
		{"unspecified local address", sipp, Local{Addr: netip.IPv4Unspecified(), Streams: []LocalStream{{RTP: 2}}}, false},
		{"local port too big", sipp, Local{Addr: relay4, Streams: []LocalStream{{RTP: 65535}}}, false},
		{"local key too short", sipp, Local{Addr: relay4, Streams: []LocalStream{{RTP: 2, Secure: true, Crypto: []Crypto{bad}}}}, false},
		{"bad c=", []byte("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 bob.example\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n"),
			Local{Addr: relay4, Streams: []LocalStream{{RTP: 2}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Rewrite(tc.body, tc.local)
			if err == nil {
				t.Fatalf("no error: %q", out)
			}
			if errors.Is(err, ErrMalformed) != tc.malformed {
				t.Errorf("%v: ErrMalformed %v, want %v", err, !tc.malformed, tc.malformed)
			}
			if bytes.Contains([]byte(err.Error()), []byte("AQID")) { // base64 of key(1, …)
				t.Errorf("key in error %v", err)
			}
		})
	}
}

func BenchmarkRewrite(b *testing.B) {
	for _, name := range []string{"sipp", "linphone", "baresip"} {
		tc := rewriteCases[0]
		for _, c := range rewriteCases {
			if c.name == name {
				tc = c
			}
		}
		in := input(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := Rewrite(in, tc.local); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"sipp", "linphone", "baresip"} {
		in := input(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := Parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
