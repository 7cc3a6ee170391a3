package presence

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/store"
)

// LookupFunc asks the registrar for an AOR's live contacts; reply runs
// once, on any goroutine.
type LookupFunc func(aor string, reply func(contacts []string, err error))

// Presentity is the presence of one AOR: its publications, the contacts
// the registrar reported, its call state, its owner's policy and its
// watchers. It composes the PIDF document once per version and visibility
// level and fans each change out to its subscription actors by message.
type Presentity struct {
	conf   *Config // shared by every presentity: one copy, not one each
	store  store.Store
	subs   *shard.Router // the subscription kind
	lookup LookupFunc
	log    *zap.Logger

	aor      string
	pubs     []publication // never mutated in place
	contacts []string
	inCall   bool
	callIDs  map[string]struct{} // the calls up, by Call-ID (not stored: a restart forgets them, and the call ends telling InCall false)
	policy   Policy
	version  uint64
	watchers map[string]*watcher // dialog key → watcher
	dialogs  map[string]int      // watcher URI → its dialogs here
	winfos   map[string]struct{} // the dialog keys of the winfo subscriptions

	cache   [2][]byte // rendered bodies of version cacheOf, per level
	cacheOf uint64

	pending  int // writes not yet committed
	writing  []txKey
	removed  []txKey // recent removals: their retransmissions are answered 200 again
	tokens   float64
	refilled time.Time

	looking bool   // asking the registrar; requests wait in stash
	stash   []any  // requests that came while looking
	id      uint64 // this instance
}

// watcher is one subscription of the presentity.
type watcher struct {
	uri   string
	event Event
	state SubState
}

type txKey struct {
	callID string
	cseq   uint32
	branch string
}

// expirePubs is the presentity's timer message.
type expirePubs struct{}

// pwritten reports a committed (or failed) write of a presentity.
type pwritten struct {
	err error
	tx  txKey
	by  uint64
}

// looked is the registrar's answer to the activation lookup.
type looked struct {
	contacts []string
	err      error
}

var pinstances atomic.Uint64

var _ shard.Entity = (*Presentity)(nil)

func newPresentity(c *Config, s store.Store, subs *shard.Router, lookup LookupFunc, log *zap.Logger) *Presentity {
	return &Presentity{conf: c, store: s, subs: subs, lookup: lookup, log: log, id: pinstances.Add(1),
		watchers: map[string]*watcher{}, dialogs: map[string]int{}, winfos: map[string]struct{}{}}
}

// Receive implements shard.Entity.
func (p *Presentity) Receive(c *shard.Context, msg any) {
	if _, ok := msg.(*looked); !ok && p.looking {
		if _, routed := msg.(shard.Message); routed {
			p.stash = append(p.stash, msg)
			return
		}
	}
	switch msg := msg.(type) {
	case *shard.Activate:
		p.activate(c, msg)
	case *looked:
		p.looked(c, msg)
	case *Publish:
		p.publish(c, msg)
	case *Subscribe:
		p.subscribe(c, msg)
	case *RegistrationChanged:
		p.registration(c, msg.Contacts)
	case *CallStateChanged:
		if in := p.calls(msg); p.inCall != in {
			p.inCall = in
			p.save(c, nil, txKey{})
			p.changed(c)
		}
	case *ended:
		p.ended(c, msg.key)
	case *refetch:
		p.refetch(msg.key)
	case *Watchers:
		msg.answer(&WatchersResult{Watchers: p.list(), Policy: p.policy})
	case *Decide:
		p.setPolicy(c, p.policy.decided(msg.Watcher, msg.Decision, msg.Visibility), msg.answer)
	case *SetPolicy:
		p.setPolicy(c, msg.Policy, msg.answer)
	case *expirePubs:
		p.expire(c)
	case *pwritten:
		p.written(c, msg)
	default:
		p.log.Warn("unhandled message", zap.String("aor", p.aor), zap.String("type", fmt.Sprintf("%T", msg)))
	}
}

// Empty implements shard.Entity: nothing published, nobody watching and
// no policy set.
func (p *Presentity) Empty() bool {
	return len(p.pubs) == 0 && len(p.watchers) == 0 && p.policy.empty()
}

// Busy implements shard.Entity.
func (p *Presentity) Busy() bool { return p.pending > 0 || p.looking }

func (p *Presentity) activate(c *shard.Context, a *shard.Activate) {
	p.aor = c.Key()
	p.refilled = p.conf.now()
	p.tokens = 2 * p.conf.MaxPublishRate
	if a.Fresh {
		// A presentity new to the server asks the registrar once which
		// contacts are live; from then on the registrar tells it.
		p.looking = true
		self, root := c.Self(), c.ActorSystem().Root
		if p.lookup == nil {
			p.looking = false
			return
		}
		p.lookup(p.aor, func(contacts []string, err error) { root.Send(self, &looked{contacts: contacts, err: err}) })
		return
	}
	p.load()
	p.arm(c)
}

func (p *Presentity) looked(c *shard.Context, l *looked) {
	p.looking = false
	if l.err == nil {
		p.contacts = l.contacts
	}
	stash := p.stash
	p.stash = nil
	for _, m := range stash {
		p.Receive(c, m)
	}
}

// load replaces the memory state with the store's.
func (p *Presentity) load() {
	p.pubs, p.contacts, p.inCall, p.policy = nil, nil, false, Policy{}
	clear(p.watchers)
	clear(p.dialogs)
	clear(p.winfos)
	raw, err := p.store.Load(PresentityKind, p.aor)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		panic(fmt.Sprintf("presence: load %s: %v", p.aor, err))
	default:
		r, err := decodePresentity(raw, pidf.DefaultLimits)
		if err != nil {
			p.log.Error("dropping unreadable presentity", zap.String("aor", p.aor), zap.Error(err))
			break
		}
		p.pubs, p.contacts, p.inCall, p.version = r.Pubs, r.Contacts, r.InCall, r.Version
		if r.Policy != nil {
			p.policy = *r.Policy
		}
	}
	err = p.store.ScanPrefix(WatcherKind, p.aor+"\x00", func(key string, val []byte) error {
		var w watcherRecord
		if err := json.Unmarshal(val, &w); err != nil {
			return nil // unreadable: its subscription expires on its own
		}
		p.add(key[len(p.aor)+1:], &watcher{uri: w.URI, event: w.Event, state: w.State})
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("presence: watchers of %s: %v", p.aor, err))
	}
	p.cacheOf = 0
}

// publish applies a PUBLISH (RFC 3903 §6), answers it once the change
// committed, and tells the watchers.
func (p *Presentity) publish(c *shard.Context, m *Publish) {
	now := p.conf.now()
	tx := txKey{m.CallID, m.CSeq, m.Branch}
	if m.Branch != "" {
		if slices.Contains(p.writing, tx) {
			m.answer(&PublishResult{Err: ErrInProgress}) // §17.2.2: the original's answer is on its way
			return
		}
		if i := slices.IndexFunc(p.pubs, func(q publication) bool { return txKey{q.CallID, q.CSeq, q.Branch} == tx }); i >= 0 {
			m.answer(&PublishResult{ETag: p.pubs[i].ETag, Expires: p.pubs[i].remaining(now)}) // a retransmission
			return
		}
		if slices.Contains(p.removed, tx) {
			m.answer(&PublishResult{})
			return
		}
	}
	if m.Doc == nil && m.Body != nil {
		doc, err := pidf.Parse(m.Body)
		if err != nil {
			m.answer(&PublishResult{Err: err})
			return
		}
		m.Doc = doc
	}
	if !p.allowPublish(now) {
		m.answer(&PublishResult{Err: ErrPublishRate})
		return
	}
	next, pub, err := applyPublish(unexpired(p.pubs, now), m, now, *p.conf)
	if err != nil {
		m.answer(&PublishResult{Err: err})
		return
	}
	if pub.ETag == "" && len(next) == len(p.pubs) && m.ETag == "" { // initial with Expires 0: nothing kept
		m.answer(&PublishResult{})
		return
	}
	if pub.ETag == "" {
		p.removed = append(p.removed, tx)
		if len(p.removed) > 8 {
			p.removed = p.removed[1:]
		}
	}
	bodyChanged := m.Doc != nil || pub.ETag == ""
	p.pubs = next
	res := &PublishResult{ETag: pub.ETag}
	if pub.ETag != "" {
		res.Expires = pub.remaining(now)
	}
	if !p.save(c, func(err error) {
		if err != nil {
			m.answer(&PublishResult{Err: fmt.Errorf("%w: %w", ErrStore, err)})
			return
		}
		m.answer(res)
	}, tx) {
		return
	}
	p.arm(c)
	if bodyChanged {
		p.changed(c)
	}
}

// allowPublish takes a token of the presentity's PUBLISH rate.
func (p *Presentity) allowPublish(now time.Time) bool {
	rate := p.conf.MaxPublishRate
	p.tokens = min(2*rate, p.tokens+now.Sub(p.refilled).Seconds()*rate)
	p.refilled = now
	if p.tokens < 1 {
		return false
	}
	p.tokens--
	return true
}

// record is what the store keeps of the presentity now; nil when it has
// nothing worth keeping.
func (p *Presentity) record() []byte {
	if p.Empty() {
		return nil
	}
	r := presentityRecord{Pubs: p.pubs, Contacts: p.contacts, InCall: p.inCall, Version: p.version}
	if !p.policy.empty() {
		pol := p.policy
		r.Policy = &pol
	}
	raw, err := json.Marshal(&r)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return raw
}

// save writes the presentity through and calls done (on a store
// goroutine) once it committed. It reports false, having called done
// with the error, when the record is too large to keep.
func (p *Presentity) save(c *shard.Context, done func(error), tx txKey) bool {
	raw := p.record()
	if len(raw) > maxRecord {
		p.load()
		if done != nil {
			done(ErrTooManyPublications)
		}
		return false
	}
	self, root, id := c.Self(), c.ActorSystem().Root, p.id
	p.pending++
	if tx.branch != "" {
		p.writing = append(p.writing, tx)
	}
	cb := func(err error) {
		root.Send(self, &pwritten{err: err, tx: tx, by: id})
		if done != nil {
			done(err)
		}
	}
	if raw == nil {
		p.store.Delete(PresentityKind, p.aor, cb)
	} else {
		p.store.Save(PresentityKind, p.aor, raw, cb)
	}
	return true
}

func (p *Presentity) written(c *shard.Context, w *pwritten) {
	if w.by != p.id {
		return
	}
	p.pending--
	if i := slices.Index(p.writing, w.tx); i >= 0 {
		p.writing = slices.Delete(p.writing, i, i+1)
	}
	if w.err != nil {
		if !errors.Is(w.err, store.ErrBusy) {
			p.log.Error("presentity not saved", zap.String("aor", p.aor), zap.Error(w.err))
		}
		if p.pending == 0 {
			p.load() // memory must not run ahead of what was saved
			p.changed(c)
		}
	}
	p.arm(c)
}

// arm sets the timer for the earliest publication expiry.
func (p *Presentity) arm(c *shard.Context) {
	next := nextExpiry(p.pubs)
	if next.IsZero() {
		c.StopTimer()
		return
	}
	if !next.Equal(c.Due()) {
		c.SetTimer(next, &expirePubs{})
	}
}

func (p *Presentity) expire(c *shard.Context) {
	live := unexpired(p.pubs, p.conf.now())
	if len(live) != len(p.pubs) {
		p.pubs = live
		p.save(c, nil, txKey{})
		p.changed(c)
	}
	p.arm(c)
}

func (p *Presentity) registration(c *shard.Context, contacts []string) {
	if slices.Equal(p.contacts, contacts) {
		return
	}
	p.contacts = slices.Clone(contacts)
	if !p.Empty() {
		p.save(c, nil, txKey{})
	}
	p.changed(c)
}

// ended forgets a subscription that is gone.
func (p *Presentity) ended(c *shard.Context, key string) {
	w, ok := p.watchers[key]
	if !ok {
		return
	}
	delete(p.watchers, key)
	delete(p.winfos, key)
	if p.dialogs[w.uri]--; p.dialogs[w.uri] <= 0 {
		delete(p.dialogs, w.uri)
	}
	p.saveWatcher(c, key, nil)
	if len(p.watchers) == 0 {
		p.save(c, nil, txKey{}) // deleted when nothing is left
	}
	if w.event == EventPresence {
		p.winfoChanged()
	}
}

// add records a watcher in memory.
func (p *Presentity) add(key string, w *watcher) {
	p.watchers[key] = w
	p.dialogs[w.uri]++
	if w.event == EventWinfo {
		p.winfos[key] = struct{}{}
	}
}

// saveWatcher writes (w non-nil) or deletes one watcher index entry.
func (p *Presentity) saveWatcher(c *shard.Context, key string, w *watcher) {
	self, root, id := c.Self(), c.ActorSystem().Root, p.id
	p.pending++
	cb := func(err error) { root.Send(self, &pwritten{err: err, by: id}) }
	if w == nil {
		p.store.Delete(WatcherKind, watcherKey(p.aor, key), cb)
		return
	}
	raw, _ := json.Marshal(&watcherRecord{URI: w.uri, Event: w.event, State: w.state})
	p.store.Save(WatcherKind, watcherKey(p.aor, key), raw, cb)
}

// list is the watchers as the admin API shows them.
func (p *Presentity) list() []WatcherInfo {
	out := make([]WatcherInfo, 0, len(p.watchers))
	for key, w := range p.watchers {
		out = append(out, WatcherInfo{Key: key, Watcher: w.uri, Event: w.event.String(), State: w.state.String(),
			Visibility: p.policy.level(p.aor, w.uri, p.conf.Visibility)})
	}
	slices.SortFunc(out, func(a, b WatcherInfo) int {
		if a.Watcher != b.Watcher {
			if a.Watcher < b.Watcher {
				return -1
			}
			return 1
		}
		if a.Key < b.Key {
			return -1
		}
		return 1
	})
	return out
}

// calls records one call's state and reports whether the user is in any
// call.
func (p *Presentity) calls(m *CallStateChanged) bool {
	if m.InCall {
		if p.callIDs == nil {
			p.callIDs = map[string]struct{}{}
		}
		p.callIDs[m.CallID] = struct{}{}
	} else {
		delete(p.callIDs, m.CallID)
	}
	return len(p.callIDs) > 0
}
