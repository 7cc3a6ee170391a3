package call

import (
	"errors"
	"mime"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestCheckBody(t *testing.T) {
	multipart := "--b1\r\nContent-Type: application/sdp\r\n\r\n" + offerSDP + "\r\n--b1\r\nContent-Type: application/isup\r\n\r\nxx\r\n--b1--\r\n"
	tests := []struct {
		name, ct, body string
		want           error
	}{
		{"no body", "", "", nil},
		{"sdp", "application/sdp", offerSDP, nil},
		{"sdp with parameters", "application/SDP; charset=utf-8", offerSDP, nil},
		{"unlabelled sdp", "", offerSDP, nil},
		{"garbage", "application/sdp", "hello", ErrMalformedSDP},
		{"not a line", "application/sdp", "v=0\r\nbogus\r\n", ErrMalformedSDP},
		{"bad origin", "application/sdp", "v=0\r\no=a\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", ErrMalformedSDP},
		{"no session lines", "application/sdp", "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\n", ErrNoMedia}, // pion takes it; nothing to send media to
		{"every port 0", "application/sdp", "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n", ErrNoMedia},
		{"no media", "application/sdp", "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", ErrNoMedia},
		{"multipart with sdp", "multipart/mixed;boundary=b1", multipart, nil},
		{"multipart without sdp", "multipart/mixed;boundary=b1", "--b1\r\nContent-Type: text/plain\r\n\r\nx\r\n--b1--", ErrBodyType},
		{"text", "text/plain", "hello", ErrBodyType},
		{"bad content type", "application/", "x", ErrBodyType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", Host: "example.com"})
			if tc.ct != "" {
				req.AppendHeader(sip.NewHeader("Content-Type", tc.ct))
			}
			req.SetBody([]byte(tc.body))
			if err := checkBody(req); !errors.Is(err, tc.want) {
				t.Fatalf("checkBody = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSessionHeaders(t *testing.T) {
	tests := []struct {
		value   string
		se      time.Duration
		ref     string
		ok      bool
		version string
	}{
		{"1800", 1800 * time.Second, "", true, ""},
		{"90;refresher=uac", 90 * time.Second, "uac", true, ""},
		{" 120 ; Refresher = UAS ", 120 * time.Second, "uas", true, ""},
		{"abc", 0, "", false, ""},
		{"", 0, "", false, ""},
	}
	for _, tc := range tests {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Host: "x"})
		req.AppendHeader(sip.NewHeader("Session-Expires", tc.value))
		se, ref, ok := sessionExpires(req)
		if se != tc.se || ref != tc.ref || ok != tc.ok {
			t.Errorf("Session-Expires %q: %v %q %v", tc.value, se, ref, ok)
		}
	}
	req := sip.NewRequest(sip.PRACK, sip.Uri{Host: "x"})
	req.AppendHeader(sip.NewHeader("RAck", "776656 1 INVITE"))
	if r, c, m, ok := rack(req); !ok || r != 776656 || c != 1 || m != "INVITE" {
		t.Errorf("RAck: %d %d %s %v", r, c, m, ok)
	}
	if v := sdpVersion([]byte(offerSDP)); v != "1 1" {
		t.Errorf("sdpVersion = %q", v)
	}
}

// TestPlainSDP: plainSDP says application/sdp only where
// mime.ParseMediaType finds application/sdp (it is a shortcut past it).
func TestPlainSDP(t *testing.T) {
	for _, tt := range []struct {
		ct   string
		want bool
	}{
		{"application/sdp", true},
		{"Application/SDP", true},
		{"  application/sdp\t", true},
		{"application/sdp;charset=utf-8", false}, // ParseMediaType's
		{"application/sdp ;", false},
		{"application/sdpx", false},
		{"application/ſdp", false}, // long s: strings.EqualFold would say yes, ToLower does not
		{"multipart/mixed", false},
		{"", false},
	} {
		if got := plainSDP(tt.ct); got != tt.want {
			t.Errorf("plainSDP(%q) = %v, want %v", tt.ct, got, tt.want)
		}
		if mt, _, err := mime.ParseMediaType(tt.ct); tt.want && (err != nil || mt != "application/sdp") {
			t.Errorf("plainSDP(%q) but ParseMediaType says %q, %v", tt.ct, mt, err)
		}
	}
}
