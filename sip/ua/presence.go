package ua

import (
	"context"
	"errors"
	"time"

	"github.com/b2bua/b2bua/pidf"
)

// STUB: the presence helper replaces this file (and adds watch.go,
// buddy.go, winfo.go, p2p.go).

var errNotYet = errors.New("ua: not implemented yet")

// PresenceOption adds a detail to SetPresence.
type PresenceOption func(*pidf.State)

// WithNote sets the note ("in a meeting").
func WithNote(s string) PresenceOption { return func(st *pidf.State) { st.Note = s } }

// WithDevice sets the device ID (a urn:uuid:… URI).
func WithDevice(id string) PresenceOption { return func(st *pidf.State) { st.Device = id } }

// WithLocation sets the place (free text).
func WithLocation(s string) PresenceOption { return func(st *pidf.State) { st.Location = s } }

// WithCaps sets the capabilities.
func WithCaps(c pidf.Caps) PresenceOption { return func(st *pidf.State) { st.Caps = c } }

type presenceState struct{}

func (p *Peer) initPresence() {}

// SetPresence publishes the peer's presence and keeps it published.
func (p *Peer) SetPresence(ctx context.Context, status pidf.Status, opts ...PresenceOption) error {
	return errNotYet
}

// SubState is the state of a subscription (RFC 6665 Subscription-State).
type SubState int

// Subscription states.
const (
	SubPending SubState = iota
	SubActive
	SubTerminated
)

// Update is one presence state of a watched target.
type Update struct {
	Target string     // the watched AOR
	State  pidf.State // Status Offline when the target is offline or unreachable
	Sub    SubState
	Reason string // of a terminated subscription
	At     time.Time
}

// Watcher is one watched target.
type Watcher struct{ target string }

// Watch subscribes to target's presence ("bob", "sip:bob@example.com", or
// "sip:bob@127.0.0.1:5070" peer to peer).
func (p *Peer) Watch(ctx context.Context, target string) (*Watcher, error) { return nil, errNotYet }

// Target is the watched AOR.
func (w *Watcher) Target() string { return w.target }

// Updates yields the target's presence states.
func (w *Watcher) Updates() <-chan Update { return nil }

// Stop ends the subscription (unSUBSCRIBE).
func (w *Watcher) Stop(ctx context.Context) error { return errNotYet }

// BuddyList watches many targets with one event channel.
type BuddyList struct{}

// NewBuddyList returns an empty buddy list of the peer.
func (p *Peer) NewBuddyList() *BuddyList { return &BuddyList{} }

// Add watches target.
func (b *BuddyList) Add(ctx context.Context, target string) error { return errNotYet }

// Remove stops watching target.
func (b *BuddyList) Remove(ctx context.Context, target string) error { return errNotYet }

// Events yields the updates of every buddy.
func (b *BuddyList) Events() <-chan Update { return nil }

// Snapshot returns the last update of every buddy, by target.
func (b *BuddyList) Snapshot() map[string]Update { return nil }

// PendingWatcher is someone who asked to watch the peer.
type PendingWatcher struct {
	AOR string
	At  time.Time
}

// PendingWatchers lists who waits for the owner's decision.
func (p *Peer) PendingWatchers(ctx context.Context) ([]PendingWatcher, error) { return nil, errNotYet }

// Approve lets watcher see the peer's presence.
func (p *Peer) Approve(ctx context.Context, watcher string) error { return errNotYet }

// Block refuses watcher.
func (p *Peer) Block(ctx context.Context, watcher string) error { return errNotYet }
