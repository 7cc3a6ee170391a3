package registrar

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/store"
)

// Actor is the registration of one AOR: its bindings and one timer for the
// earliest expiry. It writes every change through to the store and answers
// only after the write committed. It runs on the shard machinery
// (actors/shard), which passivates it when idle and wakes it at its next
// expiry.
type Actor struct {
	*deps
	aor AOR

	bindings []Binding           // never mutated in place: replies share it
	pending  int                 // writes not yet committed
	writing  []txKey             // requests whose write is in flight: their retransmissions are absorbed
	writing0 [1]txKey            // writing's first room
	waiting  []*Register         // retransmissions answered once every write committed
	forwards map[uint64]*Forward // sent through the port, not yet answered
	id       uint64              // this instance: writes of an earlier one are not counted in pending
}

// instances numbers registration actor instances (a restart makes a new
// one under the same PID).
var instances atomic.Uint64

var _ shard.Entity = (*Actor)(nil)

// deps is what every registration actor of a kind shares: one pointer in
// each instead of a copy (a resident actor's size is the live heap of a
// reboot storm).
type deps struct {
	conf  Config
	store store.Store
	port  outbound.Port
	log   *zap.Logger
}

func newActor(d *deps) *Actor {
	a := &Actor{deps: d, id: instances.Add(1)}
	a.writing = a.writing0[:0]
	return a
}

// Receive implements shard.Entity.
func (a *Actor) Receive(c *shard.Context, msg any) {
	switch msg := msg.(type) {
	case *shard.Activate:
		a.aor = AOR(c.Key())
		if !msg.Fresh {
			a.load()
		}
		a.settle(c)
	case *Register:
		a.register(c, msg)
	case *Lookup:
		a.lookup(c, msg)
	case *Forward:
		a.forward(c, msg)
	case *expire:
		a.expire(c)
	case *outbound.Provisional: // a forward waits for the final response only
	case *written:
		a.written(c, msg)
	case *outbound.Result:
		a.forwarded(c, msg)
	default:
		a.log.Warn("unhandled message", zap.String("aor", string(a.aor)), zap.String("type", fmt.Sprintf("%T", msg)))
	}
}

// Empty implements shard.Entity: an AOR without bindings has nothing to
// keep.
func (a *Actor) Empty() bool { return len(a.bindings) == 0 }

// Busy implements shard.Entity: an actor with a write or a forward in
// flight must not stop (a successor would read a record still being
// written, and an answer would go to a dead PID).
func (a *Actor) Busy() bool { return a.pending > 0 || len(a.forwards) > 0 }

// load replaces the memory state with the store's: on activation and after
// a failed write.
func (a *Actor) load() {
	a.bindings = nil
	raw, err := a.store.Load(Kind, string(a.aor))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		// A registration that cannot be read must not be answered from a
		// guess: fail, and let the supervisor retry within its budget.
		panic(fmt.Sprintf("registrar: load %s: %v", a.aor, err))
	default:
		bs, err := decode(raw)
		if err != nil {
			a.log.Error("dropping unreadable registration", zap.String("aor", string(a.aor)), zap.Error(err))
			break
		}
		a.bindings = bs
	}
}

func (a *Actor) register(c *shard.Context, r *Register) {
	now := a.conf.now()
	tx := txKey{r.CallID, r.CSeq, r.Branch}
	if r.Branch != "" && slices.Contains(a.writing, tx) {
		// The original is still being written and will be answered:
		// absorb the copy, as a server transaction in Trying state does
		// (RFC 3261 §17.2.2), instead of writing it again.
		r.answer(&RegisterResult{Err: ErrInProgress, Now: now})
		return
	}
	if a.applied(tx) {
		// A retransmission of a request already applied (its answer was
		// lost): answer again from memory, without another write, once
		// whatever is being written has committed.
		if a.pending == 0 {
			r.answer(&RegisterResult{Bindings: unexpired(a.bindings, now), Now: now})
		} else {
			a.waiting = append(a.waiting, r)
		}
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
	raw := record(next)
	if len(raw) > maxRecord {
		r.answer(&RegisterResult{Err: ErrTooLarge, Now: now})
		return
	}
	a.notify(a.bindings, next)
	a.bindings = next
	a.persist(c, r, tx, raw, now)
	a.settle(c)
}

// notify tells Config.Changed the contacts of next when they differ from
// those of prev.
func (a *Actor) notify(prev, next []Binding) {
	if a.conf.Changed == nil || sameContacts(prev, next) {
		return
	}
	contacts := make([]string, len(next))
	for i, b := range next {
		contacts[i] = b.Contact
	}
	a.conf.Changed(a.aor, contacts)
}

func sameContacts(a, b []Binding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Contact != b[i].Contact {
			return false
		}
	}
	return true
}

// applied reports whether a binding was made by the transaction tx: each
// binding keeps the Call-ID, CSeq and branch of the REGISTER that last
// wrote it, so retransmissions are told apart per Call-ID, not per AOR.
func (a *Actor) applied(tx txKey) bool {
	if tx.branch == "" {
		return false
	}
	return slices.ContainsFunc(a.bindings, func(b Binding) bool {
		return b.CallID == tx.callID && b.CSeq == tx.cseq && b.Branch == tx.branch
	})
}

// persist writes the current state and answers r once it committed. On a
// failed write the client gets 500 (503 when the store is full) and the
// actor reloads what the store holds, so memory never runs ahead of what
// was acknowledged.
func (a *Actor) persist(c *shard.Context, r *Register, tx txKey, raw []byte, now time.Time) {
	a.pending++
	if r != nil {
		a.writing = append(a.writing, tx)
	}
	w := &write{written: written{tx: tx, by: a.id}, self: c.Self(), root: c.ActorSystem().Root, log: a.log, r: r,
		res: RegisterResult{Bindings: a.bindings, Now: now}}
	if raw == nil {
		a.store.Delete(Kind, string(a.aor), w.done)
		return
	}
	a.store.Save(Kind, string(a.aor), raw, w.done)
}

// write is one write of a registration in flight: what its completion
// needs, in one object (it was a closure, a written message and a
// RegisterResult).
type write struct {
	written            // sent to the actor when the write is done
	self    *actor.PID // the actor's
	root    *actor.RootContext
	log     *zap.Logger
	r       *Register // answered once the write committed; nil: an expiry
	res     RegisterResult
}

// done runs on a store goroutine once the write committed or failed.
func (w *write) done(err error) {
	// Tell the actor first: a client that retransmits after this answer
	// must find the write done, not absorbed as still in progress.
	w.err = err
	w.root.Send(w.self, &w.written)
	if w.r == nil {
		return
	}
	if err != nil {
		if !errors.Is(err, store.ErrBusy) {
			w.log.Error("registration not saved", zap.String("aor", string(w.r.AOR)), zap.Error(err))
		}
		w.r.answer(&RegisterResult{Err: fmt.Errorf("%w: %w", ErrStore, err), Now: w.res.Now})
		return
	}
	w.r.answer(&w.res)
}

// record is what the store keeps for bs: nil (a deletion) when empty.
func record(bs []Binding) []byte {
	if len(bs) == 0 {
		return nil
	}
	return encode(bs)
}

func (a *Actor) written(c *shard.Context, w *written) {
	if w.by != a.id {
		// A write of the instance before a restart: this one loaded a
		// state that already held it (the store's Load sees queued writes).
		return
	}
	a.pending--
	if i := slices.Index(a.writing, w.tx); i >= 0 {
		a.writing = slices.Delete(a.writing, i, i+1)
	}
	if w.err != nil {
		a.load() // memory must not run ahead of what was saved
	}
	if a.pending == 0 && len(a.waiting) > 0 {
		now := a.conf.now()
		for _, r := range a.waiting {
			r.answer(&RegisterResult{Bindings: unexpired(a.bindings, now), Now: now})
		}
		a.waiting = nil
	}
	a.settle(c)
}

func (a *Actor) lookup(c *shard.Context, l *Lookup) {
	now := a.conf.now()
	l.answer(c, &LookupResult{Bindings: unexpired(a.bindings, now), Now: now})
}

// expire drops the bindings whose time is up and writes the result through.
func (a *Actor) expire(c *shard.Context) {
	now := a.conf.now()
	live := unexpired(a.bindings, now)
	if len(live) != len(a.bindings) {
		if ce := a.log.Check(zap.DebugLevel, "bindings expired"); ce != nil {
			ce.Write(zap.String("aor", string(a.aor)), zap.Int("left", len(live)))
		}
		a.notify(a.bindings, live)
		a.bindings = live
		a.persist(c, nil, txKey{}, record(live), now)
	}
	a.settle(c)
}

// settle arms the timer for the earliest expiry, or stops it when no
// binding is left (the shard then stops the actor once its writes
// committed).
func (a *Actor) settle(c *shard.Context) {
	if len(a.bindings) == 0 {
		c.StopTimer()
		return
	}
	if next := nextExpiry(a.bindings); !next.Equal(c.Due()) {
		c.SetTimer(next, &expire{})
	}
}

// compile-time check that the messages the shards route are requests.
var (
	_ shard.Failer         = (*Register)(nil)
	_ shard.Failer         = (*Lookup)(nil)
	_ shard.Failer         = (*Forward)(nil)
	_ shard.AbsentAnswerer = (*Lookup)(nil)
	_ shard.AbsentAnswerer = (*Forward)(nil)
)
