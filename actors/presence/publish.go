package presence

import (
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/b2bua/b2bua/pidf"
)

// publication is one device's published state (RFC 3903 event state),
// named by its entity tag.
type publication struct {
	ETag    string `json:"t"`
	Expires int64  `json:"x"` // Unix ns
	At      int64  `json:"a"` // when the body was set, Unix ns: the newest wins in composition
	Body    []byte `json:"b"`
	// The PUBLISH that last changed it (RFC 3261 §17.2.3 matching): a
	// retransmission of it is answered again, not applied again.
	CallID string `json:"i,omitempty"`
	CSeq   uint32 `json:"s,omitempty"`
	Branch string `json:"v,omitempty"`

	doc *pidf.Document // Body parsed; set on load and on publish
}

func (p *publication) expiresAt() time.Time { return time.Unix(0, p.Expires) }

// remaining is the whole number of seconds left at now, rounded up.
func (p *publication) remaining(now time.Time) int {
	d := p.expiresAt().Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// etags numbers entity tags: unique within the process, and with the
// start time in them, across restarts.
var (
	etagSeq  atomic.Uint64
	etagBase = strconv.FormatInt(time.Now().UnixNano(), 36)
)

func newETag() string { return etagBase + "." + strconv.FormatUint(etagSeq.Add(1), 36) }

// publishExpires is the expiry a PUBLISH gets (RFC 3903 §6 step 5): the
// default when absent, the maximum at most, 423 below the minimum; 0
// removes.
func publishExpires(requested int, c Config) (int, error) {
	switch {
	case requested < 0:
		return c.PublishDefaultExpires, nil
	case requested == 0:
		return 0, nil
	case requested < c.PublishMinExpires:
		return 0, &IntervalTooBriefError{MinExpires: c.PublishMinExpires}
	}
	return min(requested, c.PublishMaxExpires), nil
}

// applyPublish is RFC 3903 §6 steps 3–8 on the live publications pubs:
// it returns the publications after m and the one m created, refreshed or
// modified (zero ETag for a removal). It never changes pubs or its
// elements: either all of m applies or none.
func applyPublish(pubs []publication, m *Publish, now time.Time, c Config) ([]publication, publication, error) {
	exp, err := publishExpires(m.Expires, c)
	if err != nil {
		return nil, publication{}, err
	}
	if m.ETag == "" {
		if m.Doc == nil {
			return nil, publication{}, ErrNoBody
		}
		if exp == 0 { // nothing to remove: the state is not kept
			return pubs, publication{}, nil
		}
		if len(pubs) >= c.MaxPublications {
			return nil, publication{}, ErrTooManyPublications
		}
		p := publication{ETag: newETag(), Expires: now.Add(time.Duration(exp) * time.Second).UnixNano(), At: now.UnixNano(),
			Body: m.Body, doc: m.Doc, CallID: m.CallID, CSeq: m.CSeq, Branch: m.Branch}
		return append(slices.Clip(pubs), p), p, nil
	}
	i := slices.IndexFunc(pubs, func(p publication) bool { return p.ETag == m.ETag && p.Expires > now.UnixNano() })
	if i < 0 {
		return nil, publication{}, ErrUnknownETag
	}
	out := slices.Clone(pubs)
	if exp == 0 {
		return slices.Delete(out, i, i+1), publication{}, nil
	}
	p := out[i]
	p.ETag = newETag() // §6 step 8: a new entity tag for every successful PUBLISH
	p.Expires = now.Add(time.Duration(exp) * time.Second).UnixNano()
	p.CallID, p.CSeq, p.Branch = m.CallID, m.CSeq, m.Branch
	if m.Doc != nil { // a modify; without a body, a refresh
		p.Body, p.doc, p.At = m.Body, m.Doc, now.UnixNano()
	}
	out[i] = p
	return out, p, nil
}

// unexpired is the publications of pubs live at now (pubs itself when all
// are).
func unexpired(pubs []publication, now time.Time) []publication {
	n := now.UnixNano()
	if !slices.ContainsFunc(pubs, func(p publication) bool { return p.Expires <= n }) {
		return pubs
	}
	return slices.DeleteFunc(slices.Clone(pubs), func(p publication) bool { return p.Expires <= n })
}

// nextExpiry is the earliest expiry of pubs; zero when there is none.
func nextExpiry(pubs []publication) time.Time {
	var next int64
	for _, p := range pubs {
		if next == 0 || p.Expires < next {
			next = p.Expires
		}
	}
	if next == 0 {
		return time.Time{}
	}
	return time.Unix(0, next)
}
