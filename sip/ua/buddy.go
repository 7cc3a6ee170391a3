package ua

import (
	"context"
	"sync"
)

// buddyEventsBuffer is how many updates Events keeps for a slow reader.
const buddyEventsBuffer = 64

// BuddyList watches many targets with one event channel. Its Events
// channel never blocks the watches: when a reader falls behind, the
// oldest queued updates are dropped, so a slow reader loses intermediate
// states but always gets each buddy's latest one eventually (and
// Snapshot always has it). Events is closed when the peer closes.
type BuddyList struct {
	p      *Peer
	events chan Update

	mu       sync.Mutex // guards the fields below; also serialises sends on events
	watchers map[string]*Watcher
	last     map[string]Update
	closed   bool
	fwd      sync.WaitGroup // the forwarding goroutines
}

// NewBuddyList returns an empty buddy list of the peer.
func (p *Peer) NewBuddyList() *BuddyList {
	b := &BuddyList{p: p, events: make(chan Update, buddyEventsBuffer), watchers: map[string]*Watcher{}, last: map[string]Update{}}
	if !p.onClose(b.close) {
		b.closed = true
		close(b.events)
	}
	return b
}

// key is the target as Watcher.Target spells it.
func (b *BuddyList) key(target string) (string, error) {
	u, err := b.p.target(target)
	if err != nil {
		return "", err
	}
	u.UriParams, u.Headers = nil, nil
	return u.String(), nil
}

// Add watches target; adding a buddy already there does nothing.
func (b *BuddyList) Add(ctx context.Context, target string) error {
	k, err := b.key(target)
	if err != nil {
		return err
	}
	b.mu.Lock()
	_, dup := b.watchers[k]
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if dup {
		return nil
	}
	w, err := b.p.Watch(ctx, target)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return w.Stop(ctx)
	}
	b.watchers[w.Target()] = w
	b.fwd.Add(1)
	b.mu.Unlock()
	go b.forward(w)
	return nil
}

// forward fans w's updates in until w ends.
func (b *BuddyList) forward(w *Watcher) {
	defer b.fwd.Done()
	for u := range w.Updates() {
		b.mu.Lock()
		if !b.closed {
			b.last[u.Target] = u
			offerLatest(b.events, u)
		}
		b.mu.Unlock()
	}
	b.mu.Lock() // the watch ended (refused for good, or stopped): Add may watch again
	if b.watchers[w.Target()] == w {
		delete(b.watchers, w.Target())
	}
	b.mu.Unlock()
}

// Remove stops watching target.
func (b *BuddyList) Remove(ctx context.Context, target string) error {
	k, err := b.key(target)
	if err != nil {
		return err
	}
	b.mu.Lock()
	w := b.watchers[k]
	delete(b.watchers, k)
	delete(b.last, k)
	b.mu.Unlock()
	if w == nil {
		return nil
	}
	err = w.Stop(ctx)
	b.mu.Lock()
	delete(b.last, k) // an update forwarded while stopping
	b.mu.Unlock()
	return err
}

// Events yields the updates of every buddy.
func (b *BuddyList) Events() <-chan Update { return b.events }

// Snapshot returns the last update of every buddy, by target.
func (b *BuddyList) Snapshot() map[string]Update {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]Update, len(b.last))
	for k, u := range b.last {
		out[k] = u
	}
	return out
}

// close stops every watch and closes Events (at the peer's Close).
func (b *BuddyList) close(ctx context.Context) {
	b.mu.Lock()
	ws := make([]*Watcher, 0, len(b.watchers))
	for _, w := range b.watchers {
		ws = append(ws, w)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Stop(ctx) }()
	}
	wg.Wait()
	b.fwd.Wait()
	b.mu.Lock()
	b.closed = true
	close(b.events)
	b.mu.Unlock()
}
