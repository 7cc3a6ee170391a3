package edge

import (
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/call"
	"github.com/b2bua/b2bua/sip/status"
)

// errNoCalls answers INVITE on an edge built without the call kind.
var errNoCalls = status.New(status.NotImplemented, "Calls Not Served")

// errCallsBusy sheds an INVITE when CallLimit calls are being set up.
var errCallsBusy = status.New(status.ServiceUnavailable, "Too Many Calls Being Set Up")

// invite serves an out-of-dialog INVITE: a new B2BUA call, whose actor
// answers through the INVITE server transaction (inviteTx). A call to a
// user of our domain goes to the user's contacts; one to another domain to
// the outbound proxy, or 404.
func (s *Server) invite(req *sip.Request, w responder) {
	if s.calls == nil {
		s.fail(req, w, errNoCalls)
		return
	}
	a := w.(*answer)
	t, ok := a.next.(*txResponder)
	if !ok { // INVITE never takes the stateless path
		s.fail(req, w, errNoCalls)
		return
	}
	m := &call.Invite{Request: req, Source: req.Transport() + ":" + req.Source(), Contact: s.contactFor(req), Local: s.contactOf, Target: s.callTarget}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 { // RFC 3261 §16.3 step 3
		s.fail(req, w, status.New(status.TooManyHops, status.Reason(status.TooManyHops)))
		return
	}
	aor, err := s.callTarget(&req.Recipient)
	if err != nil {
		s.fail(req, w, err)
		return
	}
	m.Callee = aor
	if from := req.From(); from != nil && (s.isDomain(from.Address.Host) || s.isLocal(from.Address.Host)) && from.Address.User != "" {
		m.Caller, _ = s.aorAt(&from.Address)
	}
	if s.calling.Add(1) > s.callLimit {
		s.calling.Add(-1)
		s.overloaded(req, w)
		return
	}
	x := &inviteTx{s: s, req: req, w: a, t: t}
	m.Tx = x
	tag, _ := req.From().Params.Get("tag")
	key := call.Key(req.CallID().Value(), tag)
	t.tx.OnCancel(func(*sip.Request) { // sipgo answered the CANCEL 200 and the INVITE 487
		x.final(nil)
		s.calls.Cancel(key)
	})
	s.calls.Invite(key, m)
}

// callTarget is where a call to u goes (call.Invite.Target): the AOR of a
// user of our domain, "" for another domain when the outbound proxy takes
// those, else call.ErrNotFound.
func (s *Server) callTarget(u *sip.Uri) (string, error) {
	if s.isDomain(u.Host) || s.isLocal(u.Host) {
		return s.aorAt(u)
	}
	if !s.outbound {
		return "", call.ErrNotFound
	}
	return "", nil
}

// contactOf is our Contact URI for a transport (call.Invite.Local).
func (s *Server) contactOf(network string) string {
	if c, ok := s.contacts.Load(network); ok {
		return c.(string)
	}
	c := s.makeContact(network)
	s.contacts.Store(network, c)
	return c
}

// inviteTx is call.ServerTx over a sipgo INVITE server transaction.
type inviteTx struct {
	s    *Server
	req  *sip.Request
	w    *answer
	t    *txResponder
	once sync.Once
}

// Respond sends a provisional response, or the final one (once).
func (x *inviteTx) Respond(res *sip.Response) {
	if res.StatusCode < 200 {
		if !x.w.done.Load() {
			if err := x.t.tx.Respond(res); err != nil {
				x.s.log.Debug("provisional response not sent", zap.Int("status", res.StatusCode), zap.Error(err))
			}
		}
		return
	}
	x.final(res)
}

// Fail answers with the status err maps to.
func (x *inviteTx) Fail(err error) {
	x.once.Do(func() {
		x.s.calling.Add(-1)
		x.s.fail(x.req, x.w, err)
	})
}

func (x *inviteTx) final(res *sip.Response) {
	x.once.Do(func() {
		x.s.calling.Add(-1)
		if res != nil {
			res.AppendHeader(x.s.server)
			if res.IsSuccess() {
				x.s.awaitAck(x.t.tx, x.req, res)
			}
		}
		x.w.respond(res)
	})
}

// acks holds the 2xx responses to INVITEs retransmitted until their ACK
// (RFC 3261 §13.3.1.4: the UAS core's job, not the transaction's), over
// unreliable transports.
type acks struct {
	mu sync.Mutex
	m  map[string]*ackWait
}

type ackWait struct {
	s        *Server
	key      string
	tx       sip.ServerTransaction
	res      *sip.Response
	interval time.Duration
	t2       time.Duration
	until    time.Time
	timer    *time.Timer
}

// ackT1 and ackT2 time the retransmissions of a 2xx (RFC 3261 §13.3.1.4:
// from T1 doubling up to T2, for 64*T1); read when a 2xx is sent, so that
// tests can shorten them (export_test.go).
var ackT1, ackT2 = sip.T1, sip.T2

// ackKey names the ACK a 2xx waits for: Call-ID, To tag, CSeq number.
func ackKey(callID, toTag string, cseq uint32) string {
	return callID + "\x00" + toTag + "\x00" + strconv.FormatUint(uint64(cseq), 10)
}

// awaitAck retransmits res, a 2xx to req, at T1 doubling to T2 until its
// ACK comes or 64*T1 passed.
func (s *Server) awaitAck(tx sip.ServerTransaction, req *sip.Request, res *sip.Response) {
	if sip.IsReliable(req.Transport()) {
		return
	}
	tag, _ := res.To().Params.Get("tag")
	w := &ackWait{s: s, key: ackKey(req.CallID().Value(), tag, req.CSeq().SeqNo), tx: tx, res: res, interval: ackT1, t2: ackT2, until: time.Now().Add(64 * ackT1)}
	s.acks.mu.Lock()
	if s.acks.m == nil {
		s.acks.m = map[string]*ackWait{}
	}
	s.acks.m[w.key] = w
	w.timer = time.AfterFunc(w.interval, w.fire)
	s.acks.mu.Unlock()
}

func (w *ackWait) fire() {
	s := w.s
	s.acks.mu.Lock()
	if s.acks.m[w.key] != w {
		s.acks.mu.Unlock()
		return
	}
	if !time.Now().Before(w.until) {
		delete(s.acks.m, w.key)
		s.acks.mu.Unlock()
		return
	}
	w.interval = min(2*w.interval, w.t2)
	w.timer = time.AfterFunc(w.interval, w.fire)
	s.acks.mu.Unlock()
	s.metrics.retransmitted2xx.Inc()
	if err := w.tx.Respond(w.res); err != nil {
		s.log.Debug("2xx retransmission not sent", zap.String("call_id", callIDOf(w.res)), zap.Error(err))
	}
}

// acked stops the retransmissions the ACK req answers.
func (s *Server) acked(req *sip.Request) {
	tag, _ := req.To().Params.Get("tag")
	key := ackKey(req.CallID().Value(), tag, req.CSeq().SeqNo)
	s.acks.mu.Lock()
	w := s.acks.m[key]
	if w != nil {
		w.timer.Stop()
		delete(s.acks.m, key)
	}
	s.acks.mu.Unlock()
	if w != nil {
		// The INVITE transaction has nothing left to do: a UAC that got
		// the 2xx never sends the INVITE again. sipgo would keep it in
		// Accepted for Timer L (64*T1), with the INVITE, the 2xx and a
		// timer: 32,000 of them at 1,000 calls/s.
		w.tx.Terminate()
	}
}

// stopAcks ends every retransmission (Close).
func (s *Server) stopAcks() {
	s.acks.mu.Lock()
	for k, w := range s.acks.m {
		w.timer.Stop()
		delete(s.acks.m, k)
	}
	s.acks.mu.Unlock()
}
