package registrar

import (
	"slices"
	"strings"
	"time"
)

// apply computes the bindings that result from r, following RFC 3261 §10.3
// steps 6–8. It never changes cur: the result is a new slice, so a snapshot
// handed to a reply stays valid. Either all of r applies or none (the error).
// A query (no contact) returns cur without expired bindings.
func apply(cur []Binding, r *Register, now time.Time, c Config) ([]Binding, error) {
	live := unexpired(cur, now)
	if r.Wildcard {
		return nil, removeAll(live, r)
	}
	if len(r.Contacts) == 0 {
		return live, nil
	}
	expires, err := expiries(r, c)
	if err != nil {
		return nil, err
	}
	next := slices.Clone(live) // private: cur may be shared with a reply
	for i, ct := range r.Contacts {
		idx := slices.IndexFunc(next, func(b Binding) bool { return sameBinding(b, ct) })
		if idx >= 0 && next[idx].CallID == r.CallID && r.CSeq <= next[idx].CSeq {
			return nil, ErrOutOfOrder
		}
		if idx >= 0 {
			next = slices.Delete(next, idx, idx+1)
		}
		if expires[i] == 0 {
			continue
		}
		next = append(next, Binding{
			Contact: ct.URI, Q: ct.Q, Expires: now.Add(time.Duration(expires[i]) * time.Second).UnixNano(),
			CallID: r.CallID, CSeq: r.CSeq, Branch: r.Branch, InstanceID: ct.InstanceID, RegID: ct.RegID,
			Path: r.Path, Source: r.Source, UA: r.UA,
		})
	}
	if len(next) > c.MaxContacts {
		return nil, ErrTooManyContacts
	}
	sortByQ(next)
	return next, nil
}

// removeAll checks a "Contact: *" request (RFC 3261 §10.3 step 6): only with
// Expires: 0 and no other contact, and no binding of the same Call-ID with a
// CSeq as high.
func removeAll(live []Binding, r *Register) error {
	if len(r.Contacts) > 0 || r.Expires != 0 {
		return ErrBadWildcard
	}
	for _, b := range live {
		if b.CallID == r.CallID && r.CSeq <= b.CSeq {
			return ErrOutOfOrder
		}
	}
	return nil
}

// expiries resolves each contact's expiry: its own parameter, else the
// Expires header, else the default; 423 below the minimum (unless 0), and
// clamped to the maximum (RFC 3261 §10.3 step 7).
func expiries(r *Register, c Config) ([]int, error) {
	out := make([]int, len(r.Contacts))
	for i, ct := range r.Contacts {
		e := c.DefaultExpires
		switch {
		case ct.Expires >= 0:
			e = ct.Expires
		case r.Expires >= 0:
			e = r.Expires
		}
		if e > 0 && e < c.MinExpires {
			return nil, &IntervalTooBriefError{MinExpires: c.MinExpires}
		}
		out[i] = min(e, c.MaxExpires)
	}
	return out, nil
}

// sameBinding matches a contact to an existing binding: by +sip.instance and
// reg-id when both are given (RFC 5626 §6), else by contact URI. URIs are
// compared case-insensitively, which is laxer than RFC 3261 §19.1.4 only in
// the user part.
func sameBinding(b Binding, ct Contact) bool {
	if ct.InstanceID != "" && ct.RegID != 0 {
		return b.InstanceID == ct.InstanceID && b.RegID == ct.RegID
	}
	return strings.EqualFold(b.Contact, ct.URI)
}

func unexpired(bs []Binding, now time.Time) []Binding {
	n := now.UnixNano()
	if !slices.ContainsFunc(bs, func(b Binding) bool { return b.Expires <= n }) {
		return bs
	}
	return slices.DeleteFunc(slices.Clone(bs), func(b Binding) bool { return b.Expires <= n })
}

// sortByQ orders bindings by descending q-value (absent counts as 1.0), then
// by the latest expiry first; stable so equal bindings keep their order.
func sortByQ(bs []Binding) {
	slices.SortStableFunc(bs, func(a, b Binding) int {
		if qa, qb := effectiveQ(a.Q), effectiveQ(b.Q); qa != qb {
			return int(qb) - int(qa)
		}
		switch {
		case a.Expires > b.Expires:
			return -1
		case a.Expires < b.Expires:
			return 1
		}
		return 0
	})
}

func effectiveQ(q int16) int16 {
	if q < 0 {
		return 1000
	}
	return q
}

// nextExpiry is the earliest expiry among bs; zero when bs is empty.
func nextExpiry(bs []Binding) time.Time {
	if len(bs) == 0 {
		return time.Time{}
	}
	e := bs[0].Expires
	for _, b := range bs[1:] {
		e = min(e, b.Expires)
	}
	return time.Unix(0, e)
}
