package bench

import (
	"errors"
	"strings"
	"testing"
)

// sipMsg joins lines with CRLF and ends the header (sipgo's test style).
func sipMsg(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n") }

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		err    error
		status int
		callID string
		cseq   uint32
		method string
		branch string
		cl     int
		chal   string
		proxy  bool
	}{
		{name: "ok", in: sipMsg("SIP/2.0 200 OK",
			"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport=5070",
			"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKother",
			"Call-ID: a84b4c76e66710", "CSeq: 314159 REGISTER", "Content-Length: 0"),
			status: 200, callID: "a84b4c76e66710", cseq: 314159, method: "REGISTER", branch: "z9hG4bKabc", cl: 0},
		{name: "compact and case", in: sipMsg("SIP/2.0 180 Ringing",
			"v: SIP/2.0/UDP h;BRANCH = z9hG4bK1 , SIP/2.0/UDP x;branch=z9hG4bK2",
			"i:   id@host  ", "cseq:\t7   INVITE", "l: 12"),
			status: 180, callID: "id@host", cseq: 7, method: "INVITE", branch: "z9hG4bK1", cl: 12},
		{name: "LF only and folded challenge", in: []byte("SIP/2.0 401 Unauthorized\n" +
			"Via: SIP/2.0/TCP h;branch=z9hG4bKx\nCall-ID: c\nCSeq: 2 MESSAGE\n" +
			"WWW-Authenticate: Digest realm=\"r\",\n nonce=\"n\"\nContent-Length: 0\n\n"),
			status: 401, callID: "c", cseq: 2, method: "MESSAGE", branch: "z9hG4bKx", cl: 0,
			chal: "Digest realm=\"r\",\n nonce=\"n\""},
		{name: "proxy challenge", in: sipMsg("SIP/2.0 407 Proxy Authentication Required",
			"Via: SIP/2.0/UDP h;branch=b", "Call-ID: c", "CSeq: 1 OPTIONS",
			"Proxy-Authenticate: Digest nonce=\"1\""),
			status: 407, callID: "c", cseq: 1, method: "OPTIONS", branch: "b", cl: -1, chal: `Digest nonce="1"`, proxy: true},
		{name: "no branch", in: sipMsg("SIP/2.0 503 Service Unavailable", "Via: SIP/2.0/UDP h", "Call-ID: c", "CSeq: 1 OPTIONS"),
			status: 503, callID: "c", cseq: 1, method: "OPTIONS", cl: -1},
		{name: "request", in: sipMsg("OPTIONS sip:x SIP/2.0", "Call-ID: c"), err: ErrNotSIP},
		{name: "bad code", in: sipMsg("SIP/2.0 2x0 OK"), err: ErrNotSIP},
		{name: "code out of range", in: sipMsg("SIP/2.0 099 Low"), err: ErrNotSIP},
		{name: "short prefix", in: []byte("SIP/2"), err: ErrIncomplete},
		{name: "no blank line", in: []byte("SIP/2.0 200 OK\r\nCall-ID: c\r\nCSeq: 1 X\r\n"), err: ErrIncomplete},
		{name: "no call-id", in: sipMsg("SIP/2.0 200 OK", "CSeq: 1 OPTIONS"), err: ErrMissingHeader, status: 200, cseq: 1, method: "OPTIONS", cl: -1},
		{name: "bad cseq", in: sipMsg("SIP/2.0 200 OK", "Call-ID: c", "CSeq: 99999999999 X"), err: ErrMissingHeader, status: 200, callID: "c", cl: -1},
		{name: "garbage", in: []byte("\x00\x01hello"), err: ErrNotSIP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			err := ParseResponse(tc.in, &r)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err != nil && !errors.Is(tc.err, ErrMissingHeader) {
				return
			}
			if r.Status != tc.status || string(r.CallID) != tc.callID || r.CSeq != tc.cseq ||
				string(r.CSeqMethod) != tc.method || string(r.Branch) != tc.branch ||
				r.ContentLength != tc.cl || string(r.Challenge) != tc.chal || r.Proxy != tc.proxy {
				t.Errorf("got %+v", r)
			}
		})
	}
}

func TestBranchRoundTrip(t *testing.T) {
	env := &Env{run: "0badf00d"}
	tests := []struct{ slot, gen uint32 }{{0, 0}, {1, 1}, {99999, 7}, {1<<32 - 1, 1<<32 - 1}}
	for _, tc := range tests {
		r := Request{Env: env, slot: tc.slot, gen: tc.gen}
		b := r.appendBranch(nil)
		s, g, ok := decodeBranch(b, env.run)
		if !ok || s != tc.slot || g != tc.gen {
			t.Errorf("%s: decode = %d %d %v", b, s, g, ok)
		}
	}
	for _, bad := range []string{"", "z9hG4bK", "z9hG4bK0badf00d.1", "z9hG4bK0badf00d.1.", "z9hG4bKdeadbeef.1.2",
		"z9hG4bK0badf00d.1.2x", "z9hG4bK0badf00d.123456789.1", "z9hG4bK0badf00d.G.1"} {
		if _, _, ok := decodeBranch([]byte(bad), env.run); ok {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestParseResponseAllocs(t *testing.T) {
	msg := sipMsg("SIP/2.0 200 OK", "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc", "Call-ID: x", "CSeq: 1 OPTIONS", "Content-Length: 0")
	var r Response
	if n := testing.AllocsPerRun(100, func() { _ = ParseResponse(msg, &r) }); n != 0 {
		t.Errorf("ParseResponse allocates %v times", n)
	}
}

func BenchmarkParseResponse(b *testing.B) {
	msg := sipMsg("SIP/2.0 200 OK", "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK0badf00d.1f.2;rport=5070",
		"From: <sip:user1@localhost>;tag=t1", "To: <sip:localhost>;tag=b2becho", "Call-ID: 0badf00d-1@b2bua-bench",
		"CSeq: 1 OPTIONS", "Server: x", "Content-Length: 0")
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	var r Response
	for b.Loop() {
		_ = ParseResponse(msg, &r)
	}
}
