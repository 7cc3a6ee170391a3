package presence

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/registrar"
)

// errCSeqExhausted is a dialog whose NOTIFY CSeq would pass 2^31 - 1
// (RFC 3261 §8.1.1.5): the subscription ends with reason=deactivated,
// and the watcher subscribes again at once (RFC 6665 §4.1.3).
var errCSeqExhausted = errors.New("presence: dialog CSeq space used up")

// nextCSeq is the CSeq of the next NOTIFY: above the last one, and at
// least the milliseconds since the subscription began. The stored CSeq is
// written only with the record, so after a crash the clock keeps the
// numbers rising: NOTIFYs are at least MinNotifyInterval apart, more than
// a millisecond. A dialog lives up to 24 days this way before it is
// renewed.
func (s *Subscription) nextCSeq(now time.Time) (uint32, error) {
	n := uint64(s.rec.CSeq) + 1
	if age := now.Sub(time.Unix(0, s.rec.Created)).Milliseconds() + 1; age > 0 && uint64(age) > n {
		n = uint64(age)
	}
	if n > 1<<31-1 {
		return 0, errCSeqExhausted
	}
	s.rec.CSeq = uint32(n)
	return uint32(n), nil
}

// request builds a NOTIFY of the dialog (RFC 6665 §4.2.1.4): to the
// remote target through the route set, with Event, Subscription-State
// and the body. Without a route set it goes to the remote target, or to
// where the SUBSCRIBE came from when the target is behind a NAT
// (registrar.Flow).
func (s *Subscription) request(st SubState, reason Reason, body []byte, now time.Time) (*sip.Request, error) {
	r := s.rec
	var target sip.Uri
	if err := sip.ParseUri(r.RemoteTarget, &target); err != nil || target.Host == "" {
		return nil, errors.New("presence: bad remote target " + strconv.Quote(r.RemoteTarget))
	}
	cseq, err := s.nextCSeq(now)
	if err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.NOTIFY, target)
	for _, rt := range r.Routes {
		req.AppendHeader(sip.NewHeader("Route", rt))
	}
	var fromURI sip.Uri
	if err := sip.ParseUri(r.LocalURI, &fromURI); err != nil {
		return nil, err
	}
	from := &sip.FromHeader{Address: fromURI, Params: sip.NewParams()}
	from.Params.Add("tag", s.localTag)
	to := &sip.ToHeader{Params: sip.NewParams()}
	if to.DisplayName, err = sip.ParseAddressValue(r.RemoteURI, &to.Address, &to.Params); err != nil {
		return nil, err
	}
	to.Params.Remove("tag")
	to.Params.Add("tag", s.remoteTag)
	callID := sip.CallIDHeader(s.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.NOTIFY})
	if r.Contact != "" {
		req.AppendHeader(sip.NewHeader("Contact", "<"+r.Contact+">"))
	}
	event := r.Event.String()
	if r.EventID != "" {
		event += ";id=" + r.EventID
	}
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Subscription-State", subscriptionState(st, reason, s.remaining(now))))
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", r.Event.ContentType()))
		// What SetBody appends, appended first: SetBody looks Content-Length
		// up, and sipgo's lookup that misses allocates for every header name
		// on the way outside its short list (Event, Subscription-State).
		n := sip.ContentLengthHeader(len(body))
		req.AppendHeader(&n)
		req.SetBody(body)
	}
	// To the remote target (RFC 6665 §4.1.2.2), or to where the SUBSCRIBE
	// came from when the target is behind a NAT: the registrar's rule.
	if network, addr, ok := registrar.Flow(&target, r.Source, r.Routes); ok {
		req.SetTransport(strings.ToUpper(network))
		req.SetDestination(addr)
	}
	if s.overTCP {
		req.SetTransport("TCP")
	}
	return req, nil
}

// subscriptionState is the Subscription-State header value (RFC 6665
// §4.1.3, §8.2.3).
func subscriptionState(st SubState, reason Reason, remaining int) string {
	switch st {
	case StateActive:
		return "active;expires=" + strconv.Itoa(remaining)
	case StatePending:
		return "pending;expires=" + strconv.Itoa(remaining)
	}
	if reason == "" {
		reason = ReasonTimeout
	}
	return "terminated;reason=" + string(reason)
}
