package presence

import (
	"time"

	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/pidf"
)

// subscribeExpires is the expiry a SUBSCRIBE gets (RFC 6665 §4.2.1.1):
// the default when absent, the maximum at most, 423 below the minimum; 0
// is a fetch.
func subscribeExpires(requested int, c Config) (int, error) {
	switch {
	case requested < 0:
		return c.SubscribeDefaultExpires, nil
	case requested == 0:
		return 0, nil
	case requested < c.SubscribeMinExpires:
		return 0, &IntervalTooBriefError{MinExpires: c.SubscribeMinExpires}
	}
	return min(requested, c.SubscribeMaxExpires), nil
}

// subscribe authorises a new subscription (RFC 3856 §6.6, RFC 3857 §5.3:
// only the owner may watch the watchers), records its watcher and hands
// the dialog to a subscription actor, which answers the SUBSCRIBE.
func (p *Presentity) subscribe(c *shard.Context, m *Subscribe) {
	state := StateActive
	switch m.Event {
	case EventWinfo:
		if m.Watcher != p.aor {
			m.answer(&SubscribeResult{Err: ErrForbidden})
			return
		}
	case EventPresence:
		state = p.policy.decide(p.aor, m.Watcher, p.conf.Policy)
		if state == StateTerminated {
			m.answer(&SubscribeResult{Err: ErrForbidden})
			return
		}
	default:
		m.answer(&SubscribeResult{Err: ErrBadEvent})
		return
	}
	exp, err := subscribeExpires(m.Expires, *p.conf)
	if err != nil {
		m.answer(&SubscribeResult{Err: err})
		return
	}
	key := m.Dialog.Key()
	var expires time.Time
	if exp > 0 {
		if _, again := p.watchers[key]; !again {
			switch {
			case len(p.watchers) >= p.conf.MaxWatchers:
				m.answer(&SubscribeResult{Err: ErrTooManyWatchers})
				return
			case p.dialogs[m.Watcher] >= p.conf.MaxDialogsPerWatcher:
				m.answer(&SubscribeResult{Err: ErrTooManyDialogs})
				return
			}
			w := &watcher{uri: m.Watcher, event: m.Event, state: state}
			p.add(key, w)
			// Queued before the subscription's own record: a subscription
			// whose 2xx went out (its record committed) has its index
			// entry committed too, the store committing in queue order.
			p.saveWatcher(c, key, w)
			if len(p.watchers) == 1 {
				// The first watcher of a presentity with nothing published:
				// its record must exist, or after a restart its shard would
				// not know the key and would answer its watchers' refetches
				// as absent.
				p.save(c, nil, txKey{})
			}
		}
		expires = p.conf.now().Add(time.Duration(exp) * time.Second)
	}
	m.Presentity = p.aor // one string for every watcher's record
	p.subs.Send(key, &start{sub: m, state: state, expires: expires, content: p.contentFor(m.Watcher, m.Event, state)})
	if m.Event == EventPresence && exp > 0 {
		p.winfoChanged()
	}
}

// contentFor is what a watcher's NOTIFY carries now.
func (p *Presentity) contentFor(watcher string, e Event, s SubState) content {
	switch {
	case e == EventWinfo:
		return content{winfo: p.winfo()}
	case s != StateActive:
		return content{} // pending: no state (RFC 3856 §6.6.2)
	}
	return content{body: p.render(p.policy.level(p.aor, watcher, p.conf.Visibility))}
}

// render is the PIDF of the current version at a visibility level,
// composed and encoded once per version and level, and shared read-only by
// every watcher's NOTIFY.
func (p *Presentity) render(level string) []byte {
	if p.cacheOf != p.version+1 {
		p.cache = [2][]byte{}
		p.cacheOf = p.version + 1
	}
	i := levelIndex(level)
	if p.cache[i] == nil {
		doc := p.compose()
		if level == LevelBasic {
			doc = doc.Basic()
		}
		p.cache[i] = doc.Marshal()
	}
	return p.cache[i]
}

// compose merges every source into one document (RFC 4479).
func (p *Presentity) compose() *pidf.Document {
	srcs := make([]pidf.Source, 0, len(p.pubs)+len(p.contacts)+1)
	for i := range p.pubs {
		srcs = append(srcs, pidf.Publication(p.pubs[i].doc, time.Unix(0, p.pubs[i].At)))
	}
	for _, ct := range p.contacts {
		srcs = append(srcs, pidf.Registration(ct, true))
	}
	show := p.conf.CallState
	if p.policy.CallState != nil {
		show = *p.policy.CallState
	}
	if show && p.inCall {
		srcs = append(srcs, pidf.Call(true))
	}
	return pidf.Compose(p.aor, srcs...)
}

// changed starts a new version and sends it to every active presence
// watcher: one message each, the body rendered once per level. Each
// subscription actor sends its NOTIFY on its own, so a watcher that never
// answers delays no one.
func (p *Presentity) changed(c *shard.Context) {
	p.version++
	for key, w := range p.watchers {
		if w.event == EventPresence && w.state == StateActive {
			p.subs.Send(key, &update{state: StateActive, content: p.contentFor(w.uri, w.event, w.state)})
		}
	}
}

// winfoChanged sends the watcher list to the owner's winfo subscriptions.
// It visits the winfo subscriptions only: a presentity gaining its
// 10,000th watcher must not walk the other 9,999 to find none.
func (p *Presentity) winfoChanged() {
	if len(p.winfos) == 0 {
		return
	}
	wi := p.winfo()
	for key := range p.winfos {
		p.subs.Send(key, &update{state: StateActive, content: content{winfo: wi}})
	}
}

// winfo is the watcher information document (RFC 3858) of the presence
// watchers; its version is set per subscription when sent.
func (p *Presentity) winfo() *pidf.WatcherInfo {
	l := pidf.WatcherList{Resource: p.aor, Package: "presence"}
	for key, w := range p.watchers {
		if w.event != EventPresence {
			continue
		}
		st := pidf.WatcherPending
		if w.state == StateActive {
			st = pidf.WatcherActive
		} else if w.state == StateTerminated {
			st = pidf.WatcherTerminated
		}
		l.Watchers = append(l.Watchers, pidf.Watcher{ID: winfoID(key), Status: st, Event: pidf.WatcherEventSubscribe, URI: w.uri})
	}
	return &pidf.WatcherInfo{State: pidf.WatcherInfoFull, Lists: []pidf.WatcherList{l}}
}

// winfoID is a watcher's id in watcherinfo: stable per dialog, and not
// the dialog's Call-ID and tags themselves.
func winfoID(key string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 0, 13)
	for ; h > 0; h /= 36 {
		b = append(b, digits[h%36])
	}
	return "w" + string(b)
}

// refetch sends a subscription its current state again.
func (p *Presentity) refetch(key string) {
	w, ok := p.watchers[key]
	if !ok {
		p.subs.Send(key, &update{state: StateTerminated, reason: ReasonNoResource})
		return
	}
	p.subs.Send(key, &update{state: w.state, content: p.contentFor(w.uri, w.event, w.state)})
}

// setPolicy replaces the policy, then applies it to every watcher: a
// pending one now allowed becomes active, one now blocked is terminated
// with reason=rejected; visibility may have changed, so everyone gets the
// state again.
func (p *Presentity) setPolicy(c *shard.Context, pol Policy, answer func(error)) {
	if err := pol.Validate(); err != nil {
		answer(err)
		return
	}
	p.policy = pol
	listChanged := false
	for key, w := range p.watchers {
		if w.event != EventPresence {
			continue
		}
		st := p.policy.decide(p.aor, w.uri, p.conf.Policy)
		if st == w.state {
			continue
		}
		listChanged = true
		w.state = st
		if st == StateTerminated {
			p.subs.Send(key, &update{state: StateTerminated, reason: ReasonRejected})
			continue
		}
		p.saveWatcher(c, key, w)
		p.subs.Send(key, &update{state: st, content: p.contentFor(w.uri, w.event, st)})
	}
	if !p.save(c, func(err error) {
		if err != nil {
			err = ErrStore
		}
		answer(err)
	}, txKey{}) {
		return
	}
	p.changed(c)
	if listChanged {
		p.winfoChanged()
	}
}
