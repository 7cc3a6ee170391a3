package call

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
)

// ReapOrphans ACKs and hangs up every 2xx to an INVITE whose leg is gone,
// until the returned func is called. A fork torn down before any response
// came (its call failed: leg.teardown) cannot be cancelled (RFC 3261 §9.1:
// no CANCEL before a provisional); should it answer 2xx later, the port's
// result goes to the dead letters, where this finds it. Without it the
// callee would hold a call nobody has until its own 64*T1 without an ACK
// (§13.3.1.4). The server subscribes it once for the whole actor system.
func ReapOrphans(sys *actor.ActorSystem, port outbound.Port, log *zap.Logger) (stop func()) {
	nobody := actor.NewPID(sys.Address(), "call-orphans") // the ACK's and BYE's results: dead letters, ignored here
	sub := sys.EventStream.Subscribe(func(ev any) {
		d, ok := ev.(*actor.DeadLetterEvent)
		if !ok {
			return
		}
		r, ok := actor.UnwrapEnvelopeMessage(d.Message).(*outbound.Result)
		if !ok || r.Response == nil || !r.Response.IsSuccess() {
			return
		}
		ack, bye, ok := orphanRequests(r.Response)
		if !ok {
			return
		}
		log.Warn("2xx for a leg that is gone: ACK and BYE", zap.String("call_id", ack.CallID().Value()))
		port.Send(ack, nobody, 0)
		port.Send(bye, nobody, 0)
	})
	return func() { sys.EventStream.Unsubscribe(sub) }
}

// orphanRequests are the ACK and the BYE that end the dialog a 2xx to our
// INVITE made (RFC 3261 §12.1.2: its remote target and route set, §13.2.2.4:
// the ACK with the INVITE's CSeq number). They go where the 2xx came from
// when it took no route set: that is the callee's flow.
func orphanRequests(res *sip.Response) (ack, bye *sip.Request, ok bool) {
	from, to, cid, cs, c := res.From(), res.To(), res.CallID(), res.CSeq(), res.Contact()
	if from == nil || to == nil || cid == nil || cs == nil || cs.MethodName != sip.INVITE || c == nil || c.Address.Host == "" {
		return nil, nil, false
	}
	var d dlg
	d.id.CallID = cid.Value()
	d.id.LocalTag, _ = from.Params.Get("tag")
	d.id.RemoteTag, _ = to.Params.Get("tag")
	d.local, d.remote = party(from.DisplayName, &from.Address), party(to.DisplayName, &to.Address)
	d.target = *c.Address.Clone()
	d.routes = recordRoute(res, true)
	d.route(nil)
	d.cseq = cs.SeqNo
	ack = sip.NewRequest(sip.ACK, *d.target.Clone())
	d.fill(ack, cs.SeqNo, sip.ACK)
	bye = d.request(sip.BYE)
	if src := res.Source(); len(d.routes) == 0 && src != "" {
		ack.SetDestination(src)
		bye.SetDestination(src)
	}
	return ack, bye, true
}
