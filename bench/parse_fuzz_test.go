package bench

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"
)

// within reports whether sub is nil or lies inside buf (shares its memory):
// the parser must return slices of its input, never copies.
func within(sub, buf []byte) bool {
	if len(sub) == 0 {
		return true
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return p >= start && p+uintptr(len(sub)) <= start+uintptr(len(buf))
}

func FuzzParseResponse(f *testing.F) {
	f.Add(sipMsg("SIP/2.0 200 OK", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Call-ID: c", "CSeq: 1 OPTIONS"))
	f.Add([]byte("SIP/2.0 401 Unauthorized\nv: x;branch=b\ni: c\nCSeq: 3 REGISTER\nWWW-Authenticate: Digest nonce=\"n\"\nl: 5\n\nhello"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Response
		err := ParseResponse(in, &r)
		if err != nil && !errors.Is(err, ErrNotSIP) && !errors.Is(err, ErrIncomplete) && !errors.Is(err, ErrMissingHeader) {
			t.Fatalf("unexpected error %v", err)
		}
		if err != nil {
			return
		}
		if r.Status < 100 || r.Status > 699 || !bytes.HasPrefix(in, []byte("SIP/2.0 ")) {
			t.Fatalf("status %d from %q", r.Status, in)
		}
		if r.RecordRoutes < 0 || r.RecordRoutes > maxRecordRoute {
			t.Fatalf("%d Record-Route", r.RecordRoutes)
		}
		fields := [][]byte{r.CallID, r.CSeqMethod, r.Branch, r.Challenge, r.ETag, r.ToTag, r.Contact}
		for _, f := range append(fields, r.RecordRoute[:r.RecordRoutes]...) {
			if !within(f, in) || !bytes.Contains(in, f) {
				t.Fatalf("field %q is not a slice of the input", f)
			}
		}
		if len(r.CallID) == 0 || len(r.CSeqMethod) == 0 || !bytes.Equal(trimSpace(r.CallID), r.CallID) {
			t.Fatalf("bad Call-ID %q or CSeq %q", r.CallID, r.CSeqMethod)
		}
		if r.HeaderLen < 12 || r.HeaderLen > len(in) || in[r.HeaderLen-1] != '\n' {
			t.Fatalf("header length %d of %d", r.HeaderLen, len(in))
		}
		if r.ContentLength < -1 {
			t.Fatalf("content length %d", r.ContentLength)
		}
		// Parsing the header alone gives the same answer: nothing after the
		// blank line matters.
		var again Response
		if err := ParseResponse(in[:r.HeaderLen], &again); err != nil || again.Status != r.Status ||
			!bytes.Equal(again.CallID, r.CallID) || !bytes.Equal(again.Branch, r.Branch) || again.CSeq != r.CSeq {
			t.Fatalf("header-only parse differs: %v %+v", err, again)
		}
	})
}
