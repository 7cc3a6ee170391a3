package messaging

import (
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/shard"
)

// Retransmissions. Over UDP the edge takes MESSAGE statelessly (no sipgo
// server transaction), so the box absorbs the sender's retransmissions
// itself (RFC 3261 §17.2.2). It remembers each recent MESSAGE by Call-ID,
// CSeq, top Via branch and From tag (txKey), while its delivery is in
// progress (pending) and after it was answered (the final Result):
//   - a copy of a pending one is not applied again: it gets ErrInProgress
//     (the edge sends nothing; the original's answer serves both), with
//     Trying set on the first copy that comes tryingAfter or later after
//     the original (the edge sends 100 Trying once). RFC 3261 §17.2.2
//     allows a provisional for a non-INVITE request; RFC 4320 §4.1 forbids
//     a 100 over UDP before the sender's Timer E reached T2 (T1+2T1+4T1 =
//     3.5 s), which an earlier 100 would bring about;
//   - a copy of an answered one gets the same Result again, without
//     storing or forking again.
//
// Answered entries are kept for window (64×T1 = 32 s, RFC 3261 Timer F:
// the longest a sender retransmits) from their answer, at most
// maxRecent of them per box (the oldest go first). A box that remembers
// anything is Busy, so it does not passivate or stop while a copy may
// still come: an idle box passivates once its last MESSAGE is 32 s old.
// What a box forgets (after a restart, past maxRecent) is treated as new,
// except that a copy of a message the box still stores is recognised
// from the store (Call-ID, CSeq, From) and answered 202 again, never
// stored twice.

// window is how long an answered MESSAGE is remembered.
const window = 64 * 500 * time.Millisecond

// tryingAfter is how old a pending MESSAGE is before a copy of it gets
// 100 Trying: the time the sender's Timer E takes to reach T2 (RFC 4320
// §4.1).
const tryingAfter = 3500 * time.Millisecond

// maxRecent caps the answered MESSAGEs a box remembers.
const maxRecent = 64

// txKey is what a retransmission repeats (RFC 3261 §17.2.3 with the From
// tag, as §8.2.2.2 compares).
type txKey struct {
	callID  string
	cseq    uint32
	branch  string
	fromTag string
}

// recentTx is one remembered MESSAGE.
type recentTx struct {
	key     txKey
	at      time.Time // the original came
	expires time.Time // answered: forgotten then
	result  *Result   // nil while pending
	trying  bool      // a copy was answered ErrInProgress with Trying
}

// answered tells the box a MESSAGE of the instance by got its answer.
type answered struct {
	tx     *recentTx
	result *Result
	by     uint64
}

func keyOf(m *Message) txKey {
	return txKey{callID: m.CallID, cseq: m.CSeq, branch: m.Branch, fromTag: fromTag(m.From)}
}

// fromTag is the tag parameter of a From header value.
func fromTag(from string) string {
	_, params, ok := strings.Cut(from, ">")
	if !ok {
		params = from
	}
	for _, p := range strings.Split(params, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "tag") {
			return v
		}
	}
	return ""
}

// retransmission answers m when it repeats a MESSAGE the box remembers
// or still stores, and reports whether it did.
func (b *Box) retransmission(m *Message) bool {
	k := keyOf(m)
	if i := slices.IndexFunc(b.recent, func(x *recentTx) bool { return x.key == k }); i >= 0 {
		x := b.recent[i]
		if x.result == nil {
			trying := !x.trying && b.conf.now().Sub(x.at) >= b.tryingAfter()
			x.trying = x.trying || trying
			m.answer(&Result{Err: ErrInProgress, Trying: trying})
			return true
		}
		r := *x.result
		m.answer(&r)
		return true
	}
	if slices.ContainsFunc(b.msgs, func(s stored) bool { return s.CallID == m.CallID && s.CSeq == m.CSeq && s.From == m.From }) {
		m.answer(&Result{Outcome: Stored})
		return true
	}
	return false
}

// remember notes m as pending and has its answer reported to the box.
func (b *Box) remember(c *shard.Context, m *Message) {
	k := keyOf(m)
	x := &recentTx{at: b.conf.now(), key: txKey{callID: strings.Clone(k.callID), cseq: k.cseq, branch: strings.Clone(k.branch), fromTag: strings.Clone(k.fromTag)}}
	b.recent = append(b.recent, x)
	self, root, id, reply := c.Self(), c.ActorSystem().Root, b.id, m.Reply
	m.Reply = func(r *Result) {
		root.Send(self, &answered{tx: x, result: r, by: id})
		if reply != nil {
			reply(r)
		}
	}
}

// answered records the final Result of a remembered MESSAGE.
func (b *Box) answered(a *answered) {
	if a.by != b.id || !slices.Contains(b.recent, a.tx) {
		return
	}
	r := *a.result
	if r.Response != nil { // keep what the edge relays, not the contact's whole response
		r.Response = sip.NewResponse(r.Response.StatusCode, r.Response.Reason)
	}
	a.tx.result = &r
	a.tx.expires = b.conf.now().Add(b.window())
	b.forget(b.conf.now())
}

// forget drops the answered entries past their time, and the oldest
// answered ones past maxRecent.
func (b *Box) forget(now time.Time) {
	n := 0
	for _, x := range b.recent {
		if x.result != nil {
			n++
		}
	}
	b.recent = slices.DeleteFunc(b.recent, func(x *recentTx) bool {
		if x.result == nil {
			return false
		}
		if !now.Before(x.expires) || n > maxRecent {
			n--
			return true
		}
		return false
	})
}

// remembering reports whether the box still remembers any MESSAGE.
func (b *Box) remembering() bool { return len(b.recent) > 0 }

// forgetAt is when the last answered entry is forgotten (zero: none).
func (b *Box) forgetAt() time.Time {
	var t time.Time
	for _, x := range b.recent {
		if x.result != nil && x.expires.After(t) {
			t = x.expires
		}
	}
	return t
}

func (b *Box) window() time.Duration {
	if b.conf.retransWindow > 0 {
		return b.conf.retransWindow
	}
	return window
}

func (b *Box) tryingAfter() time.Duration {
	if b.conf.tryingAfter > 0 {
		return b.conf.tryingAfter
	}
	return tryingAfter
}
