package registrar

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/store"
)

// Actor is the registration of one AOR: its bindings, the last request
// applied, and one timer for the earliest expiry. It writes every change
// through to the store and answers only after the write committed.
type Actor struct {
	aor   AOR
	conf  Config
	store store.Store
	port  outbound.Port
	log   *zap.Logger

	bindings []Binding // never mutated in place: replies share it
	last     lastReq
	gen, seq uint64 // stamps of the last routed message handled, for passivation
	loaded   bool   // state read from the store (or known to be absent)
	pending  int    // writes not yet committed: no passivation before they are
	timer    *time.Timer
	due      time.Time           // when timer fires; zero when not armed
	forwards map[uint64]*Forward // sent through the port, not yet answered
	sent     uint64              // ids of forwards
}

var _ actor.Actor = (*Actor)(nil)

// newActor returns a registration actor; it learns its AOR from its own
// name at start, so one Props serves every AOR of a shard (a Props and a
// closure per actor cost ~250 B each at 100,000 AORs).
func newActor(c Config, s store.Store, port outbound.Port, log *zap.Logger) *Actor {
	return &Actor{conf: c, store: s, port: port, log: log}
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		// State is read on the first message, not here: a fresh AOR needs
		// no read, and after a restart the next message is never fresh.
		a.aor = AOR(strings.TrimPrefix(ctx.Self().Id, ctx.Parent().Id+"/"))
	case routable:
		st := msg.stamps()
		a.gen, a.seq = st.gen, st.seq
		if !a.loaded {
			a.loaded = true
			if !st.fresh {
				a.load()
			}
		}
		a.routed(ctx, msg)
	case *expire:
		a.expire(ctx)
	case *outbound.Result:
		a.forwarded(ctx, msg)
	case *outbound.Provisional: // a forward waits for the final response only
	case *written:
		a.pending = max(0, a.pending-1)
		if msg.err != nil {
			a.load() // memory must not run ahead of what was saved
		}
		a.settle(ctx)
	case *actor.Restarting, *actor.Stopping:
		a.stopTimer()
	case actor.SystemMessage, actor.AutoReceiveMessage:
	default:
		a.log.Warn("unhandled message", zap.String("aor", string(a.aor)), zap.String("type", fmt.Sprintf("%T", msg)))
	}
}

func (a *Actor) routed(ctx actor.Context, msg routable) {
	defer answerOnPanic(msg)
	switch msg := msg.(type) {
	case *Register:
		a.register(ctx, msg)
	case *Lookup:
		a.lookup(ctx, msg)
	case *Forward:
		a.forward(ctx, msg)
	case *activate:
		a.settle(ctx)
	case *poison:
		panic(fmt.Sprintf("registrar: poisoned %s", a.aor))
	}
}

// answerOnPanic answers a request whose handling panicked with ErrInternal
// before the panic goes on to the supervisor: the client gets 500 instead of
// silence (and retransmitting into a restarting actor), and the edge's
// count of requests in flight stays right.
func answerOnPanic(msg routable) {
	r := recover()
	if r == nil {
		return
	}
	switch m := msg.(type) {
	case *Register:
		m.answer(&RegisterResult{Err: fmt.Errorf("%w: %v", ErrInternal, r)})
	case *Lookup:
		if m.Reply != nil {
			m.Reply(&LookupResult{})
		}
	case *Forward:
		m.answer(&ForwardResult{Err: fmt.Errorf("%w: %v", ErrInternal, r)})
	}
	panic(r)
}

// load replaces the memory state with the store's: on the first message
// (at start, after a restart by the supervisor) and after a failed write.
func (a *Actor) load() {
	a.bindings, a.last = nil, lastReq{}
	raw, err := a.store.Load(Kind, string(a.aor))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		// A registration that cannot be read must not be answered from a
		// guess: fail, and let the supervisor retry within its budget.
		panic(fmt.Sprintf("registrar: load %s: %v", a.aor, err))
	default:
		rec, err := decode(raw)
		if err != nil {
			a.log.Error("dropping unreadable registration", zap.String("aor", string(a.aor)), zap.Error(err))
			break
		}
		a.bindings, a.last = rec.Bindings, rec.Last
	}
}

func (a *Actor) register(ctx actor.Context, r *Register) {
	now := a.conf.now()
	if a.isRetransmission(r) {
		if a.pending > 0 {
			// The original is still being written and will be answered:
			// absorb the copy, as a server transaction in Trying state
			// does (RFC 3261 §17.2.2), instead of writing it again.
			r.answer(&RegisterResult{Err: ErrInProgress, Now: now})
			return
		}
		// Answer as the first time, after the state that answer reports
		// is committed.
		a.persist(ctx, r.answer, now)
		return
	}
	next, err := apply(a.bindings, r, now, a.conf)
	if err != nil {
		r.answer(&RegisterResult{Err: err, Now: now})
		return
	}
	if len(r.Contacts) == 0 && !r.Wildcard {
		r.answer(&RegisterResult{Bindings: next, Now: now})
		return
	}
	a.bindings, a.last = next, lastReq{CallID: r.CallID, CSeq: r.CSeq, Branch: r.Branch}
	a.persist(ctx, r.answer, now)
	a.settle(ctx)
}

// isRetransmission tells a retransmitted REGISTER (same Call-ID, CSeq and
// Via branch as the last one applied) from a new one; stateless UDP
// handling relies on it (RFC 3261 §17.2.3 matching, done here instead of in
// a server transaction).
func (a *Actor) isRetransmission(r *Register) bool {
	return r.Branch != "" && r.Branch == a.last.Branch && r.CallID == a.last.CallID && r.CSeq == a.last.CSeq
}

// persist writes the current state and calls reply once it committed. On a
// failed write the client gets 500 and the actor reloads what the store
// holds, so memory never runs ahead of what was acknowledged.
func (a *Actor) persist(ctx actor.Context, reply func(*RegisterResult), now time.Time) {
	snapshot, self, root, log, aor := a.bindings, ctx.Self(), ctx.ActorSystem().Root, a.log, a.aor
	a.pending++
	done := func(err error) { // on a store goroutine
		// Tell the actor first: a client that retransmits after this answer
		// must find the write done, not absorbed as still in progress.
		root.Send(self, &written{err: err})
		if err != nil {
			log.Error("registration not saved", zap.String("aor", string(aor)), zap.Error(err))
			if reply != nil {
				reply(&RegisterResult{Err: fmt.Errorf("%w: %w", ErrStore, err), Now: now})
			}
		} else if reply != nil {
			reply(&RegisterResult{Bindings: snapshot, Now: now})
		}
	}
	if len(snapshot) == 0 {
		a.store.Delete(Kind, string(a.aor), done)
		return
	}
	raw, err := encode(record{Bindings: snapshot, Last: a.last})
	if err != nil {
		done(err)
		return
	}
	a.store.Save(Kind, string(a.aor), raw, done)
}

func (a *Actor) lookup(ctx actor.Context, l *Lookup) {
	now := a.conf.now()
	res := &LookupResult{Bindings: unexpired(a.bindings, now), Now: now}
	if l.Reply != nil {
		l.Reply(res)
	} else {
		ctx.Respond(res)
	}
	a.settle(ctx)
}

// expire drops the bindings whose time is up and writes the result through.
func (a *Actor) expire(ctx actor.Context) {
	a.due = time.Time{}
	now := a.conf.now()
	live := unexpired(a.bindings, now)
	if len(live) != len(a.bindings) {
		if ce := a.log.Check(zap.DebugLevel, "bindings expired"); ce != nil {
			ce.Write(zap.String("aor", string(a.aor)), zap.Int("left", len(live)))
		}
		a.bindings = live
		a.persist(ctx, nil, now)
	}
	a.settle(ctx)
}

// settle arms the timer for the earliest expiry, or, with no binding left
// and every write committed, offers the shard to passivate this actor.
// Waiting for the writes matters: a successor spawned for the same AOR
// must not read a record whose deletion is still in flight.
func (a *Actor) settle(ctx actor.Context) {
	if len(a.bindings) == 0 {
		a.stopTimer()
		if a.pending == 0 && len(a.forwards) == 0 {
			ctx.Send(ctx.Parent(), &idle{aor: a.aor, gen: a.gen, seq: a.seq})
		}
		return
	}
	next := nextExpiry(a.bindings)
	if next.Equal(a.due) {
		return
	}
	a.due = next
	d := next.Sub(a.conf.now())
	if a.timer == nil {
		self, root := ctx.Self(), ctx.ActorSystem().Root
		a.timer = time.AfterFunc(d, func() { root.Send(self, &expire{}) })
		return
	}
	a.timer.Reset(d)
}

func (a *Actor) stopTimer() {
	if a.timer != nil {
		a.timer.Stop()
	}
	a.due = time.Time{}
}
