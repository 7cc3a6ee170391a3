package messaging

import (
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/registrar"
)

// maxForwards is the Max-Forwards of a copy whose sender sent none (RFC
// 3261 §16.6 step 3).
const maxForwards = 70

var errBadContact = errors.New("messaging: unusable contact")

// request is the MESSAGE that delivers s to contact ct (RFC 3428 §7: a
// proxy's copy): Request-URI the contact, the sender's From (with its
// tag), To, Call-ID and CSeq, its Date, Content-Type and body, routed
// by the binding's Path, else to the contact, or to where the REGISTER
// came from when the contact is behind a NAT (registrar.Flow). The port
// adds Via.
func request(s *stored, ct Contact) (*sip.Request, error) {
	var uri sip.Uri
	if err := sip.ParseUri(ct.URI, &uri); err != nil || uri.Host == "" {
		return nil, errBadContact
	}
	req := sip.NewRequest(sip.MESSAGE, uri)
	for _, p := range ct.Path {
		req.AppendHeader(sip.NewHeader("Route", p))
	}
	from := &sip.FromHeader{Params: sip.NewParams()}
	var err error
	if from.DisplayName, err = sip.ParseAddressValue(s.From, &from.Address, &from.Params); err != nil {
		return nil, err
	}
	to := &sip.ToHeader{Params: sip.NewParams()}
	if to.DisplayName, err = sip.ParseAddressValue(s.To, &to.Address, &to.Params); err != nil {
		return nil, err
	}
	callID := sip.CallIDHeader(s.CallID)
	hops := sip.MaxForwardsHeader(maxForwards)
	if s.Hops > 0 {
		hops = sip.MaxForwardsHeader(min(s.Hops, maxForwards))
	}
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.CSeq, MethodName: sip.MESSAGE})
	req.AppendHeader(&hops)
	if s.Date != "" {
		req.AppendHeader(sip.NewHeader("Date", s.Date))
	}
	if s.ContentType != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", s.ContentType))
	}
	n := sip.ContentLengthHeader(len(s.Body)) // what SetBody appends, without its lookup that misses (it allocates: Date's name)
	req.AppendHeader(&n)
	req.SetBody(s.Body)
	if network, addr, ok := registrar.Flow(&uri, ct.Source, ct.Path); ok {
		req.SetTransport(strings.ToUpper(network))
		req.SetDestination(addr)
	}
	return req, nil
}
