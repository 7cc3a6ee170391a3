package call

import (
	"iter"

	"github.com/emiago/sipgo/sip"
)

// headersNamed yields the headers of m called name, in order, as
// m.GetHeaders(name) returns them, without its allocations: sipgo lowers
// the name of every header it compares, an allocation for each name
// outside its short list of common ones (Session-Expires, Min-SE,
// Supported, Require, Allow...), and gathers the matches in a new slice.
// Those were about 24 allocations per call (sip/edge README, "Other
// paths").
func headersNamed(m sip.Message, name string) iter.Seq[sip.Header] {
	return func(yield func(sip.Header) bool) {
		hm, ok := m.(interface{ Headers() []sip.Header })
		if !ok { // not a *sip.Request or *sip.Response
			for _, h := range m.GetHeaders(name) {
				if !yield(h) {
					return
				}
			}
			return
		}
		for _, h := range hm.Headers() {
			if sameName(h.Name(), name) && !yield(h) {
				return
			}
		}
	}
}

// headerNamed is the first header of m called name, nil when none.
func headerNamed(m sip.Message, name string) sip.Header {
	for h := range headersNamed(m, name) {
		return h
	}
	return nil
}

// sameName reports whether two header names are equal but for ASCII case,
// as sipgo compares them (strings.EqualFold folds Unicode too).
func sameName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
