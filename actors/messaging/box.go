package messaging

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/store"
)

// Contact is one live binding of the recipient, as the registrar has it.
type Contact struct {
	URI    string
	Source string   // where the REGISTER came from, "udp:192.0.2.4:5060"
	Path   []string // Path header values (RFC 3327): the Route of requests to it
}

// LookupFunc asks the registrar for an AOR's live contacts; reply runs
// once, on any goroutine.
type LookupFunc func(aor string, reply func([]Contact, error))

// Box is the message box of one AOR. It forks each MESSAGE to the AOR's
// contacts (first 2xx wins), stores it when there is none to deliver to,
// and delivers what it stores, in arrival order, one at a time, when the
// AOR registers.
type Box struct {
	conf   *Config
	store  store.Store
	port   outbound.Port
	lookup LookupFunc
	dir    Directory
	log    *zap.Logger

	aor  string
	msgs []stored // arrival order; never mutated in place
	next uint64   // N of the next message stored

	pending  int                  // writes not yet committed
	lookups  int                  // registrar lookups in flight
	forks    map[uint64]*delivery // port request id → its delivery
	live     []*delivery          // deliveries of Messages in flight
	draining *delivery            // the delivery of msgs[0] in flight
	retryAt  time.Time            // retry the box then (contacts were stale)
	due      time.Time            // when the tick is due, as arm last found it (the timer may be armed earlier)
	recent   []*recentTx          // MESSAGEs whose copies are absorbed (retrans.go)
	ids      uint64               // port request ids
	id       uint64               // this instance
}

// delivery is one MESSAGE forked to the contacts.
type delivery struct {
	m         *Message // nil: a stored message
	msg       stored
	out       int // forks not answered
	responses []*sip.Response
	deadline  time.Time
	done      bool
}

// written reports a committed (or failed) write of the box.
type written struct {
	err error
	by  uint64
}

// looked is the registrar's answer: for m, or (m nil) for the box.
type looked struct {
	m        *Message
	contacts []Contact
	err      error
	lookup   bool // an answer of the registrar (not made up without one)
}

// tick is the box's timer: expiries, delivery deadlines, retries.
type tick struct{}

var instances atomic.Uint64

var (
	_ shard.Entity    = (*Box)(nil)
	_ shard.Abandoner = (*Box)(nil)
)

func newBox(c *Config, s store.Store, port outbound.Port, lookup LookupFunc, dir Directory, log *zap.Logger) *Box {
	return &Box{conf: c, store: s, port: port, lookup: lookup, dir: dir, log: log, id: instances.Add(1), forks: map[uint64]*delivery{}}
}

// Receive implements shard.Entity.
func (b *Box) Receive(c *shard.Context, msg any) {
	switch msg := msg.(type) {
	case *shard.Activate:
		b.activate(c, msg)
	case *Message:
		b.message(c, msg)
	case *RegistrationChanged:
		if len(msg.Contacts) > 0 && len(b.msgs) > 0 {
			b.drain(c)
		}
	case *looked:
		b.looked(c, msg)
	case *outbound.Result:
		b.result(c, msg)
	case *outbound.Provisional:
	case *written:
		b.written(msg)
	case *answered:
		b.answered(msg)
	case *tick:
		b.tick(c)
	default:
		b.log.Warn("unhandled message", zap.String("aor", b.aor), zap.String("type", fmt.Sprintf("%T", msg)))
	}
	b.arm(c)
}

// Empty implements shard.Entity: nothing stored.
func (b *Box) Empty() bool { return len(b.msgs) == 0 }

// Busy implements shard.Entity: work in flight, or a MESSAGE remembered
// whose retransmission may still come (retrans.go).
func (b *Box) Busy() bool {
	return b.pending > 0 || b.remembering() || b.lookups > 0 || len(b.forks) > 0 || len(b.live) > 0 || b.draining != nil
}

// Abandon implements shard.Abandoner: the MESSAGEs being delivered get
// err when the box's instance ends first.
func (b *Box) Abandon(err error) {
	for _, d := range b.live {
		d.m.answer(&Result{Err: err})
	}
	b.live = nil
}

func (b *Box) activate(c *shard.Context, a *shard.Activate) {
	b.aor = c.Key()
	if !a.Fresh {
		b.load()
	}
	if len(b.msgs) > 0 {
		// Woken (a restart, a deadline, a message): the AOR may have
		// registered meanwhile without telling a box that was not there.
		b.drain(c)
	}
}

// load replaces the memory state with the store's.
func (b *Box) load() {
	b.msgs = nil
	raw, err := b.store.Load(BoxKind, b.aor)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		panic(fmt.Sprintf("messaging: load %s: %v", b.aor, err))
	default:
		r, err := decodeBox(raw)
		if err != nil {
			b.log.Error("dropping unreadable box", zap.String("aor", b.aor), zap.Error(err))
			break
		}
		b.msgs = r.Msgs
	}
	for _, m := range b.msgs {
		b.next = max(b.next, m.N+1)
	}
}

func (b *Box) message(c *shard.Context, m *Message) {
	if b.retransmission(m) {
		return
	}
	b.remember(c, m)
	if len(b.msgs) > 0 {
		// Stored messages go first: this one joins them, and the box
		// tries to deliver them all, in order.
		b.save(c, m)
		b.drain(c)
		return
	}
	b.ask(c, m)
}

// ask looks up the contacts, for m or (m nil) for the stored messages.
func (b *Box) ask(c *shard.Context, m *Message) {
	if b.lookup == nil {
		b.looked(c, &looked{m: m})
		return
	}
	b.lookups++
	self, root := c.Self(), c.ActorSystem().Root
	b.lookup(b.aor, func(cs []Contact, err error) { root.Send(self, &looked{m: m, contacts: cs, err: err, lookup: true}) })
}

func (b *Box) looked(c *shard.Context, l *looked) {
	if l.lookup {
		b.lookups--
	}
	if l.err != nil {
		b.log.Warn("registrar lookup failed", zap.String("aor", b.aor), zap.Error(l.err))
	}
	if l.m == nil { // the stored messages
		if len(l.contacts) > 0 && b.draining == nil && len(b.msgs) > 0 {
			b.draining = b.fork(c, nil, b.msgs[0], l.contacts)
		}
		return
	}
	if len(l.contacts) == 0 || len(b.msgs) > 0 {
		// A user with contacts, or with messages stored, is known; one
		// with neither must be in the directory (the users service, or
		// once registered) for the message to be kept.
		if len(b.msgs) == 0 && b.dir != nil && !b.dir.Known(b.aor) {
			l.m.answer(&Result{Err: ErrUnknownUser})
			return
		}
		b.save(c, l.m)
		return
	}
	b.live = append(b.live, b.fork(c, l.m, newStored(l.m, b.conf.now(), b.conf.Expiry), l.contacts))
}

// drain starts delivering the stored messages unless it is under way.
func (b *Box) drain(c *shard.Context) {
	if b.draining != nil || len(b.msgs) == 0 {
		return
	}
	b.retryAt = time.Time{}
	b.ask(c, nil)
}

// newStored is what the box keeps of m: a Date stamped now when the
// sender sent none, so the recipient learns when it was sent.
func newStored(m *Message, now time.Time, expiry time.Duration) stored {
	date := m.Date
	if date == "" {
		date = httpDate(now)
	}
	return stored{From: m.From, To: m.To, CallID: m.CallID, CSeq: m.CSeq, Date: date, ContentType: m.ContentType,
		Body: m.Body, Hops: m.Hops, Expires: now.Add(expiry).UnixNano()}
}

// httpDate is RFC 3261 §20.17's Date: RFC 1123 in GMT.
func httpDate(t time.Time) string { return t.UTC().Format(time.RFC1123)[:25] + " GMT" }

// save stores m and answers it 202 once the write committed.
func (b *Box) save(c *shard.Context, m *Message) {
	if len(b.msgs) >= b.conf.MaxStored {
		m.answer(&Result{Err: ErrMailboxFull})
		return
	}
	s := newStored(m, b.conf.now(), b.conf.Expiry)
	s.N = b.next
	b.next++
	b.msgs = append(slices.Clip(b.msgs), s)
	aor := b.aor
	b.write(c, func(err error) {
		if err != nil {
			m.answer(&Result{Err: fmt.Errorf("%w: %w", ErrStore, err)})
			return
		}
		m.answer(&Result{Outcome: Stored})
	})
	if ce := b.log.Check(zap.DebugLevel, "message stored"); ce != nil {
		ce.Write(zap.String("aor", aor), zap.String("call_id", m.CallID), zap.String("method", "MESSAGE"), zap.Int("stored", len(b.msgs)))
	}
}

// write writes the box through and calls done (on a store goroutine,
// may be nil) once it committed.
func (b *Box) write(c *shard.Context, done func(error)) {
	self, root, id := c.Self(), c.ActorSystem().Root, b.id
	b.pending++
	cb := func(err error) {
		root.Send(self, &written{err: err, by: id})
		if done != nil {
			done(err)
		}
	}
	if len(b.msgs) == 0 {
		b.store.Delete(BoxKind, b.aor, cb)
		return
	}
	b.store.Save(BoxKind, b.aor, encodeBox(b.msgs), cb)
}

func (b *Box) written(w *written) {
	if w.by != b.id {
		return
	}
	b.pending--
	if w.err != nil {
		if !errors.Is(w.err, store.ErrBusy) {
			b.log.Error("box not saved", zap.String("aor", b.aor), zap.Error(w.err))
		}
		if b.pending == 0 {
			b.load() // memory must not run ahead of what was saved
		}
	}
}

// fork sends s to every contact; m is the Message it answers, nil for a
// stored message.
func (b *Box) fork(c *shard.Context, m *Message, s stored, contacts []Contact) *delivery {
	d := &delivery{m: m, msg: s, deadline: b.conf.now().Add(b.conf.DeliveryTimeout)}
	for _, ct := range contacts {
		req, err := request(&s, ct)
		if err != nil {
			b.log.Debug("contact not usable", zap.String("aor", b.aor), zap.String("contact", ct.URI), zap.Error(err))
			continue
		}
		b.ids++
		b.forks[b.ids] = d
		d.out++
		b.port.Send(req, c.Self(), b.ids)
	}
	if d.out == 0 {
		b.finish(c, d)
	}
	return d
}

func (b *Box) result(c *shard.Context, r *outbound.Result) {
	d := b.forks[r.ID]
	if d == nil {
		return // a delivery that ended already
	}
	delete(b.forks, r.ID)
	d.out--
	if d.done {
		return
	}
	if r.Err == nil && r.Response.IsSuccess() { // the first 2xx wins
		d.done = true
		b.delivered(c, d)
		return
	}
	if r.Err == nil {
		d.responses = append(d.responses, r.Response)
	}
	if d.out == 0 {
		b.finish(c, d)
	}
}

func (b *Box) delivered(c *shard.Context, d *delivery) {
	if ce := b.log.Check(zap.DebugLevel, "message delivered"); ce != nil {
		ce.Write(zap.String("aor", b.aor), zap.String("call_id", d.msg.CallID), zap.String("method", "MESSAGE"), zap.Bool("stored", d.m == nil))
	}
	if d.m != nil {
		b.live = slices.DeleteFunc(b.live, func(x *delivery) bool { return x == d })
		d.m.answer(&Result{Outcome: Delivered})
		return
	}
	b.draining = nil
	if i := slices.IndexFunc(b.msgs, func(s stored) bool { return s.N == d.msg.N }); i >= 0 {
		b.msgs = slices.Delete(slices.Clone(b.msgs), i, i+1)
		b.write(c, nil)
	}
	b.drain(c) // the next one, once this one was taken
}

// finish ends a delivery that got no 2xx: a live MESSAGE gets the best
// final response of the contacts, or, when none answered at all (stale
// contacts), is stored; a stored message stays stored.
func (b *Box) finish(c *shard.Context, d *delivery) {
	d.done = true
	for id, x := range b.forks {
		if x == d {
			delete(b.forks, id)
		}
	}
	if d.m == nil {
		b.draining = nil
		if len(d.responses) == 0 {
			b.retryAt = b.conf.now().Add(retryAfter)
		}
		return
	}
	b.live = slices.DeleteFunc(b.live, func(x *delivery) bool { return x == d })
	if res := outbound.Best(d.responses); res != nil {
		d.m.answer(&Result{Outcome: Refused, Response: res})
		return
	}
	b.save(c, d.m)
}

// retryAfter is when a box whose contacts did not answer tries again,
// should the AOR not register in between.
const retryAfter = time.Minute

func (b *Box) tick(c *shard.Context) {
	now := b.conf.now()
	if now.Before(b.due) {
		return // the timer was left armed for earlier (arm): nothing is due yet, and Receive arms it for b.due
	}
	b.forget(now)
	for _, d := range slices.Clone(b.live) {
		if !now.Before(d.deadline) {
			b.finish(c, d)
		}
	}
	if d := b.draining; d != nil && !now.Before(d.deadline) {
		b.finish(c, d)
	}
	live := slices.DeleteFunc(slices.Clone(b.msgs), func(s stored) bool { return s.Expires <= now.UnixNano() })
	if len(live) != len(b.msgs) {
		if ce := b.log.Check(zap.DebugLevel, "stored messages expired"); ce != nil {
			ce.Write(zap.String("aor", b.aor), zap.Int("expired", len(b.msgs)-len(live)))
		}
		b.msgs = live
		b.write(c, nil)
	}
	if !b.retryAt.IsZero() && !now.Before(b.retryAt) {
		b.drain(c)
	}
}

// arm sets the timer for the earliest of: a stored message's expiry, a
// delivery's deadline, the retry, the time the remembered MESSAGEs are
// forgotten (so the box may passivate then).
func (b *Box) arm(c *shard.Context) {
	var next time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, s := range b.msgs {
		at(time.Unix(0, s.Expires))
	}
	for _, d := range b.live {
		at(d.deadline)
	}
	if b.draining != nil {
		at(b.draining.deadline)
	}
	if len(b.msgs) > 0 {
		at(b.retryAt)
	}
	at(b.forgetAt())
	b.due = next
	switch armed := c.Due(); {
	case next.IsZero():
		c.StopTimer()
	case b.Busy() && !armed.IsZero() && !next.Before(armed):
		// Armed for earlier, and the box cannot passivate before then:
		// that tick does nothing (b.due is later) but arm again. Moving
		// the timer instead costs a time.AfterFunc and four more
		// allocations, and it moved at every MESSAGE (the answers are
		// remembered until 32 s after the last). Once not busy the timer
		// is set exactly, so a box passivates with its true deadline.
	case !next.Equal(armed):
		c.SetTimer(next, &tick{})
	}
}
