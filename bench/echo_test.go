package bench

import (
	"errors"
	"strings"
	"testing"
)

func TestAppendEchoResponse(t *testing.T) {
	tests := []struct {
		name   string
		req    []byte
		status int
		extra  string
		err    error
		want   []string // lines the response must contain
		absent []string
	}{
		{name: "copies and tags", req: sipMsg("OPTIONS sip:x SIP/2.0", "Via: SIP/2.0/UDP a;branch=z9hG4bK1",
			"Via: SIP/2.0/UDP b;branch=z9hG4bK2", "Max-Forwards: 70", "From: <sip:u@x>;tag=f", "To: <sip:x>",
			"Call-ID: c1", "CSeq: 5 OPTIONS", "Content-Length: 0"), status: 200,
			want: []string{"SIP/2.0 200 OK\r\n", "Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP b;branch=z9hG4bK2\r\n",
				"From: <sip:u@x>;tag=f\r\n", "To: <sip:x>;tag=b2becho\r\n", "Call-ID: c1\r\n", "CSeq: 5 OPTIONS\r\n",
				"Content-Length: 0\r\n\r\n"},
			absent: []string{"Max-Forwards"}},
		{name: "keeps existing to tag, compact", req: append(sipMsg("MESSAGE sip:x SIP/2.0", "v: SIP/2.0/TCP a;branch=b",
			"f: <sip:u@x>;tag=f", "t: <sip:x>;TAG=t9", "i: c", "CSeq: 1 MESSAGE", "l: 2"), "hi"...), status: 503,
			extra: "Retry-After: 5\r\n",
			want:  []string{"SIP/2.0 503 Service Unavailable\r\n", "t: <sip:x>;TAG=t9\r\n", "v: SIP/2.0/TCP a;branch=b\r\n", "Retry-After: 5\r\n"}},
		{name: "reason of SIP-only code", req: sipMsg("REGISTER sip:x SIP/2.0", "Call-ID: c", "CSeq: 1 REGISTER"), status: 423,
			want: []string{"SIP/2.0 423 Interval Too Brief\r\n"}},
		{name: "ACK is not answered", req: sipMsg("ACK sip:x SIP/2.0", "Call-ID: c"), status: 200, err: ErrNotSIP},
		{name: "response is not answered", req: sipMsg("SIP/2.0 200 OK", "Call-ID: c"), status: 200, err: ErrNotSIP},
		{name: "incomplete", req: []byte("OPTIONS sip:x SIP/2.0\r\nCall-ID: c\r\n"), status: 200, err: ErrIncomplete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, n, err := AppendEchoResponse(nil, tc.req, tc.status, tc.extra)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if n != len(tc.req) {
				t.Errorf("request length %d, want %d", n, len(tc.req))
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("response lacks %q:\n%s", w, out)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(string(out), a) {
					t.Errorf("response has %q", a)
				}
			}
			var r Response
			if err := ParseResponse(out, &r); err != nil || r.Status != tc.status {
				t.Errorf("response does not parse back: %v %+v", err, r)
			}
		})
	}
}

func TestListenEchoErrors(t *testing.T) {
	if _, err := ListenEcho("sctp", "127.0.0.1:0", EchoConfig{}); err == nil {
		t.Error("sctp accepted")
	}
	if _, err := ListenEcho("udp", "not an address", EchoConfig{}); err == nil {
		t.Error("bad address accepted")
	}
}

func BenchmarkAppendEchoResponse(b *testing.B) {
	req := sipMsg("OPTIONS sip:localhost SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK0badf00d.1f.2;rport",
		"Max-Forwards: 70", "From: <sip:user1@localhost>;tag=t1", "To: <sip:localhost>", "Call-ID: 0badf00d-1@b2bua-bench",
		"CSeq: 1 OPTIONS", "Accept: application/sdp", "Content-Length: 0")
	out := make([]byte, 0, 1024)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		out, _, _ = AppendEchoResponse(out[:0], req, 200, "")
	}
}
