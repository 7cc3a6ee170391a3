package sdp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	k, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParse(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		want Description
	}{
		{"sipp", Description{SessionID: 53655765, Version: 2353687637, Streams: []Stream{{
			Media: "audio", Port: 6000, Addr: ip("127.0.0.1"), RTCP: addrPort("127.0.0.1:6001"), Proto: "RTP/AVP", RTP: true,
		}}}},
		// The media-level c= wins; a=rtcp without an address takes the stream's.
		{"linphone", Description{SessionID: 3014, Version: 1521, Streams: []Stream{{
			Media: "audio", Port: 7078, Addr: ip("203.0.113.45"), RTCP: addrPort("203.0.113.45:7079"), Proto: "RTP/AVPF",
			RTP: true, RTCPMux: true,
		}}}},
		// The GCM key comes without base64 padding.
		{"baresip", Description{SessionID: 1713363614, Version: 3018409418, Streams: []Stream{{
			Media: "audio", Port: 10730, Addr: ip("10.0.0.12"), RTCP: addrPort("10.0.0.12:10731"), Proto: "RTP/SAVP",
			RTP: true, Secure: true, Crypto: []Crypto{
				{1, AES_CM_128_HMAC_SHA1_32, b64(t, "NVuw8NWCfO+9PoU9zeW10Cd2X2YFJplPAXnw8YYT")},
				{2, AES_CM_128_HMAC_SHA1_80, b64(t, "mNpwstAF7sJQ/WsyvOu32OZ7R75xfOGvecGgpL2E")},
				{3, AEAD_AES_128_GCM, b64(t, "Z5ZNYRyaMgIXU0ZMdBhD3+mzEEc4dy9y8vavuQ")},
			},
		}}}},
		// Best-effort keys on RTP/AVP: read, not Secure; a lifetime of
		// 2^31 is taken, the line with an MKI is left out.
		{"polycom", Description{SessionID: 1718191416, Version: 1718191416, Streams: []Stream{{
			Media: "audio", Port: 2222, Addr: ip("172.16.4.31"), RTCP: addrPort("172.16.4.31:2223"), Proto: "RTP/AVP",
			RTP: true, Crypto: []Crypto{
				{1, AES_CM_128_HMAC_SHA1_80, b64(t, "plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L")},
				{2, AES_CM_128_HMAC_SHA1_32, b64(t, "smGNX5bGuYpeU0oNVWxCh6kEwU/VcGLBY25sA0cW")},
			},
		}}}},
		{"webrtc", Description{SessionID: 4611731400430051336, Version: 2, Streams: []Stream{{
			Media: "audio", Port: 9, Addr: ip("0.0.0.0"), RTCP: addrPort("0.0.0.0:9"), Proto: "UDP/TLS/RTP/SAVPF", RTCPMux: true,
		}}}},
		{"audio-video", Description{SessionID: 2890844730, Version: 2890844731, Streams: []Stream{
			{Media: "audio", Port: 49170, Addr: ip("198.51.100.7"), RTCP: addrPort("198.51.100.7:49171"), Proto: "RTP/AVP", RTP: true},
			{Media: "video", Port: 51372, Addr: ip("198.51.100.7"), RTCP: addrPort("198.51.100.7:51373"), Proto: "RTP/AVPF", RTP: true},
		}}},
		{"hold-sendonly", Description{SessionID: 53655765, Version: 2353687638, Streams: []Stream{{
			Media: "audio", Port: 6000, Addr: ip("192.0.2.10"), RTCP: addrPort("192.0.2.10:6001"), Proto: "RTP/AVP", RTP: true, Dir: SendOnly,
		}}}},
		{"hold-rfc2543", Description{SessionID: 20, Version: 21, Streams: []Stream{{
			Media: "audio", Port: 6000, Addr: ip("0.0.0.0"), RTCP: addrPort("0.0.0.0:6001"), Proto: "RTP/AVP", RTP: true,
		}}}},
		{"answer-video-refused", Description{SessionID: 2890844731, Version: 2890844731, Streams: []Stream{
			{Media: "audio", Port: 30000, Addr: ip("192.0.2.20"), RTCP: addrPort("192.0.2.21:30001"), Proto: "RTP/AVP", RTP: true},
			{Media: "video", Addr: ip("192.0.2.20"), Proto: "RTP/AVP", RTP: true},
		}}},
		{"ipv6", Description{SessionID: 1, Version: 1, Streams: []Stream{
			{Media: "audio", Port: 16384, Addr: ip("2001:db8::10"), RTCP: addrPort("[2001:db8::11]:16385"), Proto: "RTP/AVP", RTP: true},
			{Media: "image", Addr: ip("2001:db8::10"), Proto: "udptl"},
		}}},
		{"ice-lite-answer", Description{SessionID: 1718190000, Version: 1718190001, Streams: []Stream{{
			Media: "audio", Port: 25000, Addr: ip("198.51.100.50"), RTCP: addrPort("198.51.100.50:25000"), Proto: "RTP/SAVPF",
			RTP: true, Secure: true, RTCPMux: true,
			Crypto: []Crypto{{1, AES_CM_128_HMAC_SHA1_80, b64(t, "plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L")}},
		}}}},
		{"t38-reoffer", Description{SessionID: 1718191416, Version: 1718191417, Streams: []Stream{
			{Media: "image", Port: 40000, Addr: ip("172.16.4.31"), RTCP: addrPort("172.16.4.31:40001"), Proto: "udptl"},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse(input(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*d, tc.want) {
				t.Errorf("got\n%+v\nwant\n%+v", *d, tc.want)
			}
		})
	}
}

// sdpLines is an SDP of lines joined with CRLF.
func sdpLines(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n") }

// head is an SDP's lines up to t=, with c= as given ("" for none).
func head(c string) []string {
	h := []string{"v=0", "o=- 7 8 IN IP4 192.0.2.1", "s=-"}
	if c != "" {
		h = append(h, c)
	}
	return append(h, "t=0 0")
}

func TestParseDetails(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		body []byte
		want Stream
	}{
		{"no final CRLF", []byte("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0"),
			Stream{Media: "audio", Port: 4000, Addr: ip("192.0.2.1"), RTCP: addrPort("192.0.2.1:4001"), Proto: "RTP/AVP", RTP: true}},
		{"LF only", []byte("v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/SAVPF 0\n"),
			Stream{Media: "audio", Port: 4000, Addr: ip("192.0.2.1"), RTCP: addrPort("192.0.2.1:4001"), Proto: "RTP/SAVPF", RTP: true, Secure: true}},
		{"session direction", sdpLines(append(head("c=IN IP4 192.0.2.1"), "a=recvonly", "m=audio 4000 RTP/AVP 0")...),
			Stream{Media: "audio", Port: 4000, Addr: ip("192.0.2.1"), RTCP: addrPort("192.0.2.1:4001"), Proto: "RTP/AVP", RTP: true, Dir: RecvOnly}},
		{"last media direction wins", sdpLines(append(head("c=IN IP4 192.0.2.1"), "a=recvonly", "m=audio 4000 RTP/AVP 0", "a=sendonly", "a=inactive")...),
			Stream{Media: "audio", Port: 4000, Addr: ip("192.0.2.1"), RTCP: addrPort("192.0.2.1:4001"), Proto: "RTP/AVP", RTP: true, Dir: Inactive}},
		{"media c= only", sdpLines(append(head(""), "m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.9")...),
			Stream{Media: "audio", Port: 4000, Addr: ip("192.0.2.9"), RTCP: addrPort("192.0.2.9:4001"), Proto: "RTP/AVP", RTP: true}},
		{"multicast ttl", sdpLines(append(head("c=IN IP4 233.252.0.1/127"), "m=audio 4000 RTP/AVP 0")...),
			Stream{Media: "audio", Port: 4000, Addr: ip("233.252.0.1"), RTCP: addrPort("233.252.0.1:4001"), Proto: "RTP/AVP", RTP: true}},
		{"refused without c=", sdpLines(append(head(""), "m=video 0 RTP/AVP 96")...),
			Stream{Media: "video", Proto: "RTP/AVP", RTP: true}},
		{"IPv6 hold", sdpLines(append(head("c=IN IP6 ::"), "m=audio 4000 RTP/AVP 0")...),
			Stream{Media: "audio", Port: 4000, Addr: ip("::"), RTCP: addrPort("[::]:4001"), Proto: "RTP/AVP", RTP: true}},
		{"IPv4-mapped", sdpLines(append(head("c=IN IP6 ::ffff:192.0.2.3"), "m=audio 4000 RTP/AVP 0")...),
			Stream{Media: "audio", Port: 4000, Addr: ip("192.0.2.3"), RTCP: addrPort("192.0.2.3:4001"), Proto: "RTP/AVP", RTP: true}},
		{"crypto lines", sdpLines(append(head("c=IN IP4 192.0.2.1"), "m=audio 4000 RTP/SAVP 0",
			"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L;inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L",
			"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L UNENCRYPTED_SRTCP",
			"a=crypto:3 F8_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L",
			"a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:Z5ZNYRyaMgIXU0ZMdBhD3+mzEEc4dy9y8vavuQ==",
			"a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:not*base64",
			"a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L",
			"a=crypto:1234567890 AES_CM_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L",
			"a=crypto:8 AES_CM_128_HMAC_SHA1_80 plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L",
			"a=crypto:9 aes_cm_128_hmac_sha1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L",
			"a=crypto",
			"a=crypto:10  AES_CM_128_HMAC_SHA1_32   inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L",
			"a=crypto:11 AES_CM_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L|2^20",
			"a=crypto:12 AES_CM_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L|2^31|1:4",
			"a=crypto:13 AES_CM_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L|1:4",
			"a=crypto:14 AES_CM_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L|2^48",
			"a=crypto:15 AES_CM_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L|4294967296",
			"a=crypto:16 AES_CM_128_HMAC_SHA1_80 inline:plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L|1000",
		)...),
			Stream{Media: "audio", Port: 4000, Addr: ip("192.0.2.1"), RTCP: addrPort("192.0.2.1:4001"), Proto: "RTP/SAVP", RTP: true, Secure: true,
				Crypto: []Crypto{{10, AES_CM_128_HMAC_SHA1_32, b64(t, "plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L")},
					{14, AES_CM_128_HMAC_SHA1_80, b64(t, "plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L")},
					{15, AES_CM_128_HMAC_SHA1_80, b64(t, "plt5P+oYSspVeWAjR+0wVH0FuxSul2ISy0uQKX7L")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Streams) != 1 || !reflect.DeepEqual(d.Streams[0], tc.want) {
				t.Errorf("got\n%+v\nwant\n%+v", d.Streams, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"garbage", []byte("\x00\xffhello world")},
		{"HTML", []byte("<html><body>503</body></html>\r\n")},
		{"truncated", []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=")},
		{"truncated m=", sdpLines(append(head("c=IN IP4 192.0.2.1"), "m=audio")...)},
		{"no c=", sdpLines(append(head(""), "m=audio 4000 RTP/AVP 0")...)},
		{"c= host name", sdpLines(append(head("c=IN IP4 pc33.atlanta.example.com"), "m=audio 4000 RTP/AVP 0")...)},
		{"c= IP6 for IPv4", sdpLines(append(head("c=IN IP6 192.0.2.1"), "m=audio 4000 RTP/AVP 0")...)},
		{"c= IP4 for IPv6", sdpLines(append(head("c=IN IP4 2001:db8::1"), "m=audio 4000 RTP/AVP 0")...)},
		{"c= zone", sdpLines(append(head("c=IN IP6 fe80::1%eth0"), "m=audio 4000 RTP/AVP 0")...)},
		{"c= without address", sdpLines(append(head("c=IN IP4"), "m=audio 4000 RTP/AVP 0")...)},
		{"c= ATM", sdpLines(append(head("c=ATM NSAP 47.0005.80.ffe100.0000.f21a.26e0.0000"), "m=audio 4000 RTP/AVP 0")...)},
		{"bad media c=", sdpLines(append(head("c=IN IP4 192.0.2.1"), "m=audio 0 RTP/AVP 0", "c=IN IP4 999.0.0.1")...)},
		{"huge port", sdpLines(append(head("c=IN IP4 192.0.2.1"), "m=audio 65536 RTP/AVP 0")...)},
		{"very huge port", sdpLines(append(head("c=IN IP4 192.0.2.1"), "m=audio 99999999999999999999999 RTP/AVP 0")...)},
		{"negative port", sdpLines(append(head("c=IN IP4 192.0.2.1"), "m=audio -2 RTP/AVP 0")...)},
		{"no t=", []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n")},
		{"bad a=rtcp port", sdpLines(append(head("c=IN IP4 192.0.2.1"), "m=audio 4000 RTP/AVP 0", "a=rtcp:70000")...)},
		{"bad a=rtcp address", sdpLines(append(head("c=IN IP4 192.0.2.1"), "m=audio 4000 RTP/AVP 0", "a=rtcp:4001 IN IP4 x")...)},
		{"short a=rtcp", sdpLines(append(head("c=IN IP4 192.0.2.1"), "m=audio 4000 RTP/AVP 0", "a=rtcp:4001 IN IP4")...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse(tc.body)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("got %+v, %v; want ErrMalformed", d, err)
			}
		})
	}
}

func TestStreamSend(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		s    Stream
		want bool
	}{
		{Stream{Port: 4000, Addr: a}, true},
		{Stream{Port: 4000, Addr: a, Dir: RecvOnly}, true},
		{Stream{Port: 4000, Addr: a, Dir: SendOnly}, false},
		{Stream{Port: 4000, Addr: a, Dir: Inactive}, false},
		{Stream{Port: 0, Addr: a}, false},
		{Stream{Port: 4000, Addr: netip.IPv4Unspecified()}, false},
		{Stream{Port: 4000}, false},
	} {
		if got := tc.s.Send(); got != tc.want {
			t.Errorf("%+v: Send %v", tc.s, got)
		}
	}
}

func TestSuite(t *testing.T) {
	for s := AES_CM_128_HMAC_SHA1_80; s <= AEAD_AES_128_GCM; s++ {
		if got, ok := ParseSuite(s.String()); !ok || got != s {
			t.Errorf("%v: ParseSuite %v %v", s, got, ok)
		}
	}
	if s, ok := ParseSuite(""); ok || s != None {
		t.Errorf("ParseSuite(\"\") = %v, %v", s, ok)
	}
}

func TestCryptoStringHidesKey(t *testing.T) {
	c := Crypto{Tag: 1, Suite: AES_CM_128_HMAC_SHA1_80, Key: key(1, 30)}
	s := Stream{Crypto: []Crypto{c}}
	for _, got := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", s), fmt.Sprintf("%v", &s)} {
		if strings.Contains(got, "AQID") || strings.Contains(got, "[1 2 3") {
			t.Errorf("key shown: %s", got)
		}
	}
}

func TestDirectionString(t *testing.T) {
	for d, want := range map[Direction]string{SendRecv: "sendrecv", SendOnly: "sendonly", RecvOnly: "recvonly", Inactive: "inactive", 9: ""} {
		if got := d.String(); got != want {
			t.Errorf("%d: %q, want %q", d, got, want)
		}
	}
}
