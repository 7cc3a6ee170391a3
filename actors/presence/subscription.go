package presence

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/store"
)

// Subscription owns one SUBSCRIBE dialog (RFC 6665): its expiry, its
// NOTIFY CSeq space and the last state the presentity gave it. It sends
// its NOTIFYs through the outbound port, one at a time, at most one per
// MinNotifyInterval, always the latest state; their results come back as
// messages.
type Subscription struct {
	conf  *Config // shared by every subscription: one copy, not one each
	store store.Store
	port  outbound.Port
	pres  *shard.Router // the presentity kind
	log   *zap.Logger

	key                         string
	callID, localTag, remoteTag string
	rec                         *subRecord // nil: no subscription (ended, or never made)

	content  content
	have     bool      // content holds the presentity's state (lost on passivation)
	dirty    bool      // content (or the subscription state) not yet sent
	inflight uint64    // the NOTIFY out, 0 when none
	final    bool      // the NOTIFY out is the last one
	lastSent time.Time // when the last NOTIFY left
	retryAt  time.Time // the port was full: try again then
	overTCP  bool      // UDP failed (a body too large for a datagram): NOTIFYs go over TCP

	pending int    // writes not yet committed
	id      uint64 // this instance

	// The last SUBSCRIBE applied (RFC 3261 §17.2.3: CSeq and branch; the
	// Call-ID is the dialog's) and its answer: over UDP SUBSCRIBE takes
	// the stateless path, so its retransmissions come here and are
	// answered again, not applied again.
	lastCSeq   uint32
	lastBranch string
	lastAnswer SubscribeResult
}

// subTimer is the subscription's timer: expiry, or a NOTIFY held back by
// the rate limit.
type subTimer struct{}

// swritten reports a committed (or failed) write of a subscription; reply
// runs in the actor once it did.
type swritten struct {
	err   error
	by    uint64
	after func(error)
}

var (
	sinstances atomic.Uint64
	notifyIDs  atomic.Uint64 // numbers every NOTIFY of the process
)

var _ shard.Entity = (*Subscription)(nil)

func newSubscription(c *Config, s store.Store, port outbound.Port, pres *shard.Router, log *zap.Logger) *Subscription {
	return &Subscription{conf: c, store: s, port: port, pres: pres, log: log, id: sinstances.Add(1)}
}

// Receive implements shard.Entity.
func (s *Subscription) Receive(c *shard.Context, msg any) {
	switch msg := msg.(type) {
	case *shard.Activate:
		s.activate(c, msg)
	case *start:
		s.start(c, msg)
	case *Resubscribe:
		s.resubscribe(c, msg)
	case *update:
		s.update(c, msg)
	case *outbound.Result:
		s.result(c, msg)
	case *outbound.Provisional:
	case *subTimer:
		s.tick(c)
	case *swritten:
		s.written(c, msg)
	default:
		s.log.Warn("unhandled message", zap.String("call_id", s.callID), zap.String("type", fmt.Sprintf("%T", msg)))
	}
}

// Empty implements shard.Entity.
func (s *Subscription) Empty() bool { return s.rec == nil }

// Busy implements shard.Entity: a write or a NOTIFY out, or state not yet
// sent, keeps the actor resident.
func (s *Subscription) Busy() bool {
	return s.pending > 0 || s.inflight != 0 || (s.dirty && s.rec != nil)
}

func (s *Subscription) activate(c *shard.Context, a *shard.Activate) {
	s.key = c.Key()
	parts := strings.SplitN(s.key, " ", 3)
	if len(parts) == 3 {
		s.callID, s.localTag, s.remoteTag = parts[0], parts[1], parts[2]
	}
	if a.Fresh {
		return
	}
	raw, err := s.store.Load(SubscriptionKind, s.key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return
	case err != nil:
		panic(fmt.Sprintf("presence: load subscription %s: %v", s.key, err))
	}
	var r subRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		s.log.Error("dropping unreadable subscription", zap.String("call_id", s.callID), zap.Error(err))
		s.store.Delete(SubscriptionKind, s.key, nil)
		return
	}
	s.rec = &r
	s.arm(c)
}

// start takes a dialog the presentity authorised: it is written, then
// answered (200, or 202 while pending), then its first NOTIFY goes out
// with the full state (RFC 6665 §4.2.1.1).
func (s *Subscription) start(c *shard.Context, m *start) {
	sub, now := m.sub, s.conf.now()
	d := &sub.Dialog
	if s.retransmission(d.RemoteCSeq, sub.Branch, sub.answer) {
		return
	}
	prev := s.rec
	s.rec = &subRecord{Presentity: sub.Presentity, Watcher: sub.Watcher, Event: sub.Event, EventID: sub.EventID,
		State: m.state, Created: now.UnixNano(),
		LocalURI: d.LocalURI, RemoteURI: d.RemoteURI, RemoteTarget: d.RemoteTarget, Routes: d.Routes,
		RemoteCSeq: d.RemoteCSeq, Source: d.Source, Contact: d.Contact}
	if !m.expires.IsZero() {
		s.rec.Expires = m.expires.UnixNano()
	}
	if prev != nil && prev.State != StateTerminated { // the same dialog again: its CSeq space goes on
		s.rec.Created, s.rec.CSeq = prev.Created, prev.CSeq
	}
	s.content, s.have, s.dirty = m.content, true, true
	if m.expires.IsZero() { // a fetch: one NOTIFY with the state, terminated (§4.4.3)
		sub.answer(&SubscribeResult{State: m.state})
		s.terminate(c, ReasonTimeout)
		return
	}
	res := &SubscribeResult{State: m.state, Expires: s.remaining(now)}
	s.applied(d.RemoteCSeq, sub.Branch, res)
	s.persist(c, func(err error) {
		if err != nil {
			sub.answer(&SubscribeResult{Err: fmt.Errorf("%w: %w", ErrStore, err)})
		} else {
			sub.answer(res)
		}
	}, func(err error) {
		if err != nil {
			s.drop(c)
			return
		}
		s.flush(c)
	})
}

// retransmission answers a copy of the last SUBSCRIBE applied: again with
// its answer, or not at all while that answer waits for its write (the
// original's answer serves both, RFC 3261 §17.2.2).
func (s *Subscription) retransmission(cseq uint32, branch string, answer func(*SubscribeResult)) bool {
	if branch == "" || branch != s.lastBranch || cseq != s.lastCSeq {
		return false
	}
	if s.pending > 0 {
		answer(&SubscribeResult{Err: ErrInProgress})
		return true
	}
	res := s.lastAnswer
	answer(&res)
	return true
}

// applied remembers the SUBSCRIBE just applied and its answer.
func (s *Subscription) applied(cseq uint32, branch string, res *SubscribeResult) {
	s.lastCSeq, s.lastBranch, s.lastAnswer = cseq, branch, *res
}

// remaining is the whole number of seconds left of the subscription.
func (s *Subscription) remaining(now time.Time) int {
	d := s.rec.expiresAt().Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// resubscribe refreshes the subscription or ends it (Expires 0, RFC 6665
// §4.2.1.2); either way a NOTIFY follows.
func (s *Subscription) resubscribe(c *shard.Context, m *Resubscribe) {
	if s.rec == nil || s.rec.State == StateTerminated {
		if s.retransmission(m.CSeq, m.Branch, m.answer) { // of the unsubscribe
			return
		}
		m.answer(&SubscribeResult{Err: ErrNoSubscription})
		return
	}
	if s.retransmission(m.CSeq, m.Branch, m.answer) {
		return
	}
	if m.CSeq <= s.rec.RemoteCSeq { // RFC 3261 §12.2.2
		m.answer(&SubscribeResult{Err: ErrOutOfOrder})
		return
	}
	exp, err := subscribeExpires(m.Expires, *s.conf)
	if err != nil {
		m.answer(&SubscribeResult{Err: err})
		return
	}
	s.rec.RemoteCSeq = m.CSeq
	if m.RemoteTarget != "" {
		s.rec.RemoteTarget = m.RemoteTarget
	}
	if m.Source != "" { // the watcher moved (a new NAT binding, a restart)
		s.rec.Source = m.Source
	}
	if exp == 0 {
		res := &SubscribeResult{State: s.rec.State}
		s.applied(m.CSeq, m.Branch, res)
		m.answer(res)
		s.terminate(c, ReasonTimeout)
		return
	}
	now := s.conf.now()
	s.rec.Expires = now.Add(time.Duration(exp) * time.Second).UnixNano()
	s.dirty = true
	if !s.have {
		s.pres.Send(s.rec.Presentity, &refetch{key: s.key}) // the state comes as an update
	}
	res := &SubscribeResult{State: s.rec.State, Expires: exp}
	s.applied(m.CSeq, m.Branch, res)
	s.persist(c, func(err error) {
		if err != nil {
			m.answer(&SubscribeResult{Err: fmt.Errorf("%w: %w", ErrStore, err)})
		} else {
			m.answer(res)
		}
	}, func(error) { s.flush(c) })
}

// update takes a new state from the presentity.
func (s *Subscription) update(c *shard.Context, m *update) {
	if s.rec == nil || s.rec.State == StateTerminated {
		return
	}
	if m.state == StateTerminated {
		s.terminate(c, m.reason)
		return
	}
	if m.state != s.rec.State {
		s.rec.State = m.state
		s.persist(c, nil, nil)
	}
	// No version check: the presentity's messages to one subscription
	// arrive in the order it sent them (one sender, one shard, FIFO
	// mailboxes), and its version restarts from the store after a crash.
	s.content, s.have, s.dirty = m.content, true, true
	s.flush(c)
}

// terminate ends the subscription: a final NOTIFY with
// Subscription-State terminated and the reason, the record deleted, and
// the presentity told.
func (s *Subscription) terminate(c *shard.Context, reason Reason) {
	r := s.rec
	if r.Expires != 0 {
		s.store.Delete(SubscriptionKind, s.key, nil)
		s.pres.Send(r.Presentity, &ended{key: s.key})
	}
	r.State = StateTerminated
	req, err := s.request(StateTerminated, reason, s.body(), s.conf.now())
	if err != nil {
		s.log.Debug("final NOTIFY not sent", zap.String("call_id", s.callID), zap.Error(err))
		s.rec = nil
		return
	}
	s.send(c, req)
	s.final = true
}

// drop forgets the subscription without a NOTIFY: the watcher is gone
// (481, no answer) or it was never acknowledged.
func (s *Subscription) drop(c *shard.Context) {
	if s.rec == nil {
		return
	}
	if s.rec.Expires != 0 {
		s.store.Delete(SubscriptionKind, s.key, nil)
		s.pres.Send(s.rec.Presentity, &ended{key: s.key})
	}
	s.rec = nil
	c.StopTimer()
}

// body is the body of the next NOTIFY: nil while pending or without
// state.
func (s *Subscription) body() []byte {
	if !s.have || (s.rec.State == StatePending && s.rec.Event == EventPresence) {
		return nil
	}
	if wi := s.content.winfo; wi != nil {
		s.rec.WinfoVer++
		cp := *wi
		cp.Version = s.rec.WinfoVer - 1 // RFC 3858 §4.1: the first NOTIFY has version 0
		return cp.Marshal()
	}
	return s.content.body
}

// flush sends the state if it changed, no NOTIFY is out and the rate
// limit allows; otherwise the timer or the result brings it back here.
func (s *Subscription) flush(c *shard.Context) {
	if s.rec == nil || s.rec.State == StateTerminated || s.inflight != 0 || !s.dirty || s.pending > 0 {
		s.arm(c)
		return
	}
	if s.rec.Event == EventPresence && s.rec.State == StateActive && !s.have {
		s.arm(c) // the state is on its way (refetch)
		return
	}
	now := s.conf.now()
	if now.Before(s.retryAt) || now.Before(s.lastSent.Add(s.conf.MinNotifyInterval)) {
		s.arm(c)
		return
	}
	winfo := s.content.winfo != nil
	req, err := s.request(s.rec.State, "", s.body(), now)
	if err != nil {
		s.log.Debug("NOTIFY not sent", zap.String("call_id", s.callID), zap.Error(err))
		s.terminate(c, ReasonDeactivated)
		return
	}
	s.dirty = false
	s.send(c, req)
	if winfo {
		s.persist(c, nil, nil) // the watcherinfo version survives passivation
	}
	s.arm(c)
}

func (s *Subscription) send(c *shard.Context, req *sip.Request) {
	id := notifyIDs.Add(1)
	s.inflight = id
	s.lastSent = s.conf.now()
	s.port.Send(req, c.Self(), id)
}

// result takes the outcome of a NOTIFY: a watcher that answers 481 or
// does not answer is removed (RFC 6665 §4.2.2); a full port is tried
// again in a second.
func (s *Subscription) result(c *shard.Context, r *outbound.Result) {
	if r.ID != s.inflight {
		return
	}
	s.inflight = 0
	final := s.final
	s.final = false
	gone := false
	switch {
	case errors.Is(r.Err, outbound.ErrUnavailable):
		if !final {
			s.dirty, s.retryAt = true, s.conf.now().Add(time.Second)
		}
	case errors.Is(r.Err, outbound.ErrTransport) && !s.overTCP && !final && strings.EqualFold(s.transport(), "udp"):
		// RFC 3261 §18.1.1: a request too large for UDP goes over TCP;
		// a watcher that takes neither is gone.
		s.overTCP, s.dirty = true, true
	case r.Err != nil:
		gone = true
	case r.Response != nil && (r.Response.StatusCode == 481 || r.Response.StatusCode == 408):
		gone = true
	}
	if final {
		s.rec = nil
		c.StopTimer()
		return
	}
	if gone {
		if ce := s.log.Check(zap.DebugLevel, "watcher gone"); ce != nil {
			ce.Write(zap.String("call_id", s.callID), zap.String("aor", s.rec.Presentity), zap.Error(r.Err))
		}
		s.drop(c)
		return
	}
	s.flush(c)
}

// transport is the transport NOTIFYs take by default: the one the
// SUBSCRIBE came over.
func (s *Subscription) transport() string {
	network, _, _ := strings.Cut(s.rec.Source, ":")
	return network
}

// tick is the timer: the subscription expired, or a NOTIFY held back may
// go now.
func (s *Subscription) tick(c *shard.Context) {
	if s.rec == nil || s.rec.State == StateTerminated {
		return
	}
	if !s.conf.now().Before(s.rec.expiresAt()) {
		s.terminate(c, ReasonTimeout)
		return
	}
	s.flush(c)
}

// arm sets the timer for the expiry, or sooner for a held-back NOTIFY.
func (s *Subscription) arm(c *shard.Context) {
	if s.rec == nil || s.rec.State == StateTerminated || s.rec.Expires == 0 {
		c.StopTimer()
		return
	}
	due := s.rec.expiresAt()
	if s.dirty && s.inflight == 0 {
		next := s.lastSent.Add(s.conf.MinNotifyInterval)
		if s.retryAt.After(next) {
			next = s.retryAt
		}
		if next.Before(due) {
			due = next
		}
	}
	if !due.Equal(c.Due()) {
		c.SetTimer(due, &subTimer{})
	}
}

// persist writes the record through; reply runs on the store's goroutine
// once it committed, after in the actor.
func (s *Subscription) persist(c *shard.Context, reply, after func(error)) {
	raw, err := json.Marshal(s.rec)
	if err != nil {
		panic(err)
	}
	self, root, id := c.Self(), c.ActorSystem().Root, s.id
	s.pending++
	s.store.Save(SubscriptionKind, s.key, raw, func(err error) {
		if reply != nil {
			reply(err)
		}
		root.Send(self, &swritten{err: err, by: id, after: after})
	})
}

func (s *Subscription) written(c *shard.Context, w *swritten) {
	if w.by != s.id {
		return
	}
	s.pending--
	if w.err != nil && !errors.Is(w.err, store.ErrBusy) {
		s.log.Error("subscription not saved", zap.String("call_id", s.callID), zap.Error(w.err))
	}
	if w.after != nil {
		w.after(w.err)
		return
	}
	s.flush(c)
}
