package bench

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzParseRequest(f *testing.F) {
	f.Add(kamailioNotify)
	f.Add([]byte("NOTIFY sip:w@h SIP/2.0\ni: c\nt: <sip:w@h;tag=uri>;tag=T1\nCSeq: 9 NOTIFY\no: presence\n\nbody"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r IncomingRequest
		err := ParseRequest(in, &r)
		if err != nil && !errors.Is(err, ErrNotSIP) && !errors.Is(err, ErrIncomplete) && !errors.Is(err, ErrMissingHeader) {
			t.Fatalf("unexpected error %v", err)
		}
		if err != nil {
			return
		}
		if !isToken(r.Method) || !bytes.HasPrefix(in, r.Method) {
			t.Fatalf("method %q", r.Method)
		}
		for _, f := range [][]byte{r.Method, r.CallID, r.CSeqMethod, r.ToTag, r.Event, r.Body} {
			if !within(f, in) {
				t.Fatalf("field %q is not a slice of the input", f)
			}
		}
		if r.HeaderLen > len(in) || in[r.HeaderLen-1] != '\n' {
			t.Fatalf("header length %d of %d", r.HeaderLen, len(in))
		}
		end := len(in)
		if r.ContentLength >= 0 {
			end = r.HeaderLen + r.ContentLength
		}
		if !bytes.Equal(r.Body, in[r.HeaderLen:end]) {
			t.Fatalf("body %q, want %q", r.Body, in[r.HeaderLen:end])
		}
		// The message alone (without what follows its body) parses alike.
		var again IncomingRequest
		if err := ParseRequest(in[:end], &again); err != nil || !bytes.Equal(again.CallID, r.CallID) ||
			again.CSeq != r.CSeq || !bytes.Equal(again.ToTag, r.ToTag) || !bytes.Equal(again.Body, r.Body) {
			t.Fatalf("parse of the message alone differs: %v %+v", err, again)
		}
		// Our answer to it is a response with its Call-ID and CSeq: what
		// the server's transaction needs to match it.
		if string(r.Method) == "ACK" {
			return
		}
		resp, _, err := AppendEchoResponse(nil, in, 200, "")
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		var p Response
		if err := ParseResponse(resp, &p); err != nil || p.Status != 200 || !bytes.Equal(p.CallID, r.CallID) ||
			p.CSeq != r.CSeq || !bytes.Equal(p.CSeqMethod, r.CSeqMethod) {
			t.Fatalf("answer %q does not match: %v %+v", resp, err, p)
		}
	})
}

func FuzzFindMarker(f *testing.F) {
	f.Add([]byte("<note>m01234567.2a.3b9aca00</note>"), uint64(7), int64(99))
	f.Add([]byte("m01234567.5.10 m01234567.7.20"), uint64(0), int64(0))
	f.Fuzz(func(t *testing.T, body []byte, seq uint64, start int64) {
		const run = "01234567"
		m, ok := FindMarker(body, run)
		if ok && (m.Start < 0 || !bytes.Contains(body, []byte("m"+run+"."))) {
			t.Fatalf("marker %+v from %q", m, body)
		}
		// A marker written after the body is found unless the body holds
		// one with a higher Seq (on a tie either may win).
		if start < 0 || start > 1<<62 {
			return
		}
		w := Marker{Seq: seq, Start: start}
		got, ok2 := FindMarker(appendMarker(append(bytes.Clone(body), ' '), run, w), run)
		want := w
		if ok && m.Seq >= seq {
			want = m
		}
		if !ok2 || got.Seq != want.Seq || (!ok || m.Seq < seq) && got != w {
			t.Fatalf("found %+v, want %+v (body marker %+v %v)", got, want, m, ok)
		}
	})
}
