package bench

import (
	"errors"
	"testing"
)

// kamailioNotify is a NOTIFY as Kamailio 5.6 presence sends it, with a
// marker of run 01234567 (PUBLISH 0x2a, sent at 0x3b9aca00 ns).
var kamailioNotify = sipMsg("NOTIFY sip:watcher0@127.0.0.1:58726 SIP/2.0",
	"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK23fc.5a0f4e31000000000000000000000000.0",
	"To: <sip:watcher0@localhost>;tag=t012345672a",
	"From: <sip:pres0@localhost>;tag=dc52ff59a9d0d89b1572dfac71e2d8b3-8be5eb3d",
	"CSeq: 3 NOTIFY", "Call-ID: 01234567-2a@b2bua-bench", "Content-Length: 40",
	"Max-Forwards: 70", "Event: presence", "Subscription-State: active;expires=3599",
	"Content-Type: application/pidf+xml")

// The body is 40 bytes; the extra line end past Content-Length is not body.
func init() {
	kamailioNotify = append(kamailioNotify, "<note>m01234567.2a.3b9aca00</note>\n  \n  \n"...)
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		err    error
		method string
		callID string
		cseq   uint32
		toTag  string
		event  string
		cl     int
		body   string
	}{
		{name: "kamailio notify", in: kamailioNotify, method: "NOTIFY", callID: "01234567-2a@b2bua-bench", cseq: 3,
			toTag: "t012345672a", event: "presence", cl: 40, body: "<note>m01234567.2a.3b9aca00</note>\n  \n  "},
		{name: "compact, LF only, no length", in: []byte("NOTIFY sip:w@h SIP/2.0\ni: c\nt: <sip:w@h;tag=uri>;x=1;TAG = T1\n" +
			"CSeq: 9 NOTIFY\no: presence;id=1\n\nbody"),
			method: "NOTIFY", callID: "c", cseq: 9, toTag: "T1", event: "presence;id=1", cl: -1, body: "body"},
		{name: "tag only in the URI", in: sipMsg("OPTIONS sip:x SIP/2.0", "To: <sip:x;tag=no>", "Call-ID: c", "CSeq: 1 OPTIONS", "l: 0"),
			method: "OPTIONS", callID: "c", cseq: 1, cl: 0},
		{name: "body cut short", in: append(sipMsg("NOTIFY sip:x SIP/2.0", "Call-ID: c", "CSeq: 1 NOTIFY", "Content-Length: 10"), "abc"...),
			err: ErrIncomplete},
		{name: "no blank line", in: []byte("NOTIFY sip:x SIP/2.0\r\nCall-ID: c\r\n"), err: ErrIncomplete},
		{name: "no line end", in: []byte("NOTIFY sip:x SIP/2"), err: ErrIncomplete},
		{name: "response", in: sipMsg("SIP/2.0 200 OK", "Call-ID: c"), err: ErrNotSIP},
		{name: "http", in: []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), err: ErrNotSIP},
		{name: "http request", in: []byte("GET / HTTP/1.1\r\n\r\n"), err: ErrNotSIP},
		{name: "space in uri", in: sipMsg("NOTIFY sip:x y SIP/2.0", "Call-ID: c"), err: ErrNotSIP},
		{name: "bad method", in: sipMsg("NO(TIFY sip:x SIP/2.0", "Call-ID: c"), err: ErrNotSIP},
		{name: "missing cseq", in: sipMsg("NOTIFY sip:x SIP/2.0", "Call-ID: c"), err: ErrMissingHeader,
			method: "NOTIFY", callID: "c", cl: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r IncomingRequest
			err := ParseRequest(tc.in, &r)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err != nil && !errors.Is(tc.err, ErrMissingHeader) {
				return
			}
			if string(r.Method) != tc.method || string(r.CallID) != tc.callID || r.CSeq != tc.cseq ||
				string(r.ToTag) != tc.toTag || string(r.Event) != tc.event || r.ContentLength != tc.cl ||
				string(r.Body) != tc.body {
				t.Errorf("got method %q call-id %q cseq %d to-tag %q event %q cl %d body %q", r.Method, r.CallID,
					r.CSeq, r.ToTag, r.Event, r.ContentLength, r.Body)
			}
		})
	}
}

func TestParseRequestAllocs(t *testing.T) {
	var r IncomingRequest
	if n := testing.AllocsPerRun(100, func() { _ = ParseRequest(kamailioNotify, &r) }); n != 0 {
		t.Errorf("ParseRequest allocates %v times", n)
	}
}

func TestFindMarker(t *testing.T) {
	const run = "01234567"
	tests := []struct {
		name string
		body string
		want Marker
		ok   bool
	}{
		{name: "note", body: "<note>m01234567.2a.3b9aca00</note>", want: Marker{Seq: 0x2a, Start: 0x3b9aca00}, ok: true},
		{name: "zero", body: "m01234567.0.0", want: Marker{}, ok: true},
		{name: "aggregate takes the newest", body: "<note>m01234567.5.10</note><note>m01234567.7.20</note><note>m01234567.6.30</note>",
			want: Marker{Seq: 7, Start: 0x20}, ok: true},
		{name: "other run", body: "<note>m76543210.5.10</note>"},
		{name: "other run beside ours", body: "m76543210.9.1 m01234567.3.2", want: Marker{Seq: 3, Start: 2}, ok: true},
		{name: "no start", body: "m01234567.5</note>"},
		{name: "no digits", body: "m01234567..1"},
		{name: "upper-case hex", body: "m01234567.A.1"},
		{name: "too many digits", body: "m01234567.11112222333344445.1"},
		{name: "start out of range", body: "m01234567.1.ffffffffffffffff"},
		{name: "cut", body: "m0123"},
		{name: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := FindMarker([]byte(tc.body), run)
			if ok != tc.ok || got != tc.want {
				t.Errorf("FindMarker(%q) = %+v, %v; want %+v, %v", tc.body, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// A marker written by appendMarker is found again.
func TestMarkerRoundTrip(t *testing.T) {
	for _, m := range []Marker{{}, {Seq: 1, Start: 1}, {Seq: 1<<64 - 1, Start: 1 << 62}, {Seq: 12345, Start: 987654321}} {
		b := appendMarker([]byte("<note>"), "abcdef01", m)
		got, ok := FindMarker(append(b, "</note>"...), "abcdef01")
		if !ok || got != m {
			t.Errorf("%+v: got %+v, %v from %q", m, got, ok, b)
		}
	}
}

func TestDecodeTag(t *testing.T) {
	tests := []struct {
		tag  string
		seq  uint64
		ok   bool
		name string
	}{
		{name: "ours", tag: "t012345672a", seq: 0x2a, ok: true},
		{name: "zero", tag: "t012345670", seq: 0, ok: true},
		{name: "largest", tag: "t01234567ffffffffffffffff", seq: 1<<64 - 1, ok: true},
		{name: "too long", tag: "t012345671ffffffffffffffff"},
		{name: "other run", tag: "t765432102a"},
		{name: "no seq", tag: "t01234567"},
		{name: "not hex", tag: "t01234567zz"},
		{name: "kamailio's", tag: "dc52ff59a9d0d89b1572dfac71e2d8b3-8be5eb3d"},
		{name: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seq, ok := decodeTag([]byte(tc.tag), "01234567")
			if ok != tc.ok || ok && seq != tc.seq {
				t.Errorf("decodeTag(%q) = %d, %v", tc.tag, seq, ok)
			}
		})
	}
}

func TestTagParam(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<sip:a@b>;tag=x1", "x1"},
		{"<sip:a@b;tag=inuri>", ""},
		{"sip:a@b ; foo=1 ; Tag = y2 ;bar", "y2"},
		{"<sip:a@b>;tagx=1;tag=z", "z"},
		{"<sip:a@b>;tag", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := tagParam([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("tagParam(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	var r IncomingRequest
	b.ReportAllocs()
	b.SetBytes(int64(len(kamailioNotify)))
	for b.Loop() {
		_ = ParseRequest(kamailioNotify, &r)
		_, _ = FindMarker(r.Body, "01234567")
	}
}

func TestParseResponseETag(t *testing.T) {
	tests := []struct{ name, header, want string }{
		{"kamailio", "SIP-ETag: a.1795989892.8224.1.0", "a.1795989892.8224.1.0"},
		{"case", "sip-etag:  x1 ", "x1"},
		{"absent", "Expires: 3600", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			in := sipMsg("SIP/2.0 200 OK", "Via: SIP/2.0/UDP h;branch=b", "Call-ID: c", "CSeq: 1 PUBLISH", tc.header)
			if err := ParseResponse(in, &r); err != nil || string(r.ETag) != tc.want {
				t.Errorf("ETag %q, %v; want %q", r.ETag, err, tc.want)
			}
		})
	}
}
