package presence

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/pidf"
)

// Event is a SIP event package the presence server serves.
type Event uint8

const (
	// EventUnknown is any package the server does not serve: 489.
	EventUnknown Event = iota
	// EventPresence is RFC 3856's presence.
	EventPresence
	// EventWinfo is RFC 3857's presence.winfo, for the presentity's owner.
	EventWinfo
)

// ParseEvent maps the package name of an Event header (without its
// parameters) to an Event.
func ParseEvent(name string) Event {
	switch name {
	case "presence":
		return EventPresence
	case "presence.winfo":
		return EventWinfo
	}
	return EventUnknown
}

func (e Event) String() string {
	switch e {
	case EventPresence:
		return "presence"
	case EventWinfo:
		return "presence.winfo"
	}
	return "unknown"
}

// ContentType is the body type of the event's NOTIFYs.
func (e Event) ContentType() string {
	if e == EventWinfo {
		return "application/watcherinfo+xml"
	}
	return pidf.ContentType
}

// SubState is the state of a subscription (RFC 6665 §4.1.3).
type SubState uint8

const (
	// StateUnknown is the zero value.
	StateUnknown SubState = iota
	// StatePending waits for the presentity's owner to decide.
	StatePending
	// StateActive receives the presentity's state.
	StateActive
	// StateTerminated has ended.
	StateTerminated
)

func (s SubState) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateActive:
		return "active"
	case StateTerminated:
		return "terminated"
	}
	return "unknown"
}

// Reason is why a subscription terminated (RFC 6665 §4.1.3).
type Reason string

const (
	ReasonTimeout     Reason = "timeout"     // expired, or the watcher unsubscribed
	ReasonRejected    Reason = "rejected"    // the owner blocked the watcher
	ReasonDeactivated Reason = "deactivated" // the server ended it; subscribe again at once
	ReasonNoResource  Reason = "noresource"  // the presentity is gone
	ReasonGiveUp      Reason = "giveup"      // pending too long
)

// Publish is a PUBLISH for the presence event package (RFC 3903): an
// initial one (ETag empty, Doc set), a refresh (ETag set, no Doc), a
// modify (both) or a removal (Expires 0).
type Publish struct {
	shard.Envelope
	AOR     string
	ETag    string         // SIP-If-Match; "" for an initial publication
	Expires int            // the Expires header in seconds; -1 when absent
	Body    []byte         // the PIDF as received; nil without a body
	Doc     *pidf.Document // Body parsed; the presentity parses it when nil
	CallID  string
	CSeq    uint32
	Branch  string // top Via branch: a retransmission repeats it
	// Reply receives the result exactly once, after the change committed.
	// It runs on an actor's or the store's goroutine and must not block.
	Reply func(*PublishResult)
}

// PublishResult answers Publish: the publication's new entity tag and
// expiry (RFC 3903 §6 step 8), or an error.
type PublishResult struct {
	ETag    string
	Expires int
	Err     error
}

func (m *Publish) answer(r *PublishResult) {
	if m.Reply != nil && m.Claim() {
		m.Reply(r)
	}
}

// Fail implements shard.Failer.
func (m *Publish) Fail(err error) { m.answer(&PublishResult{Err: err}) }

// Dialog is the dialog a SUBSCRIBE creates, from the notifier's side.
type Dialog struct {
	CallID    string
	LocalTag  string // ours: the To tag of our 2xx
	RemoteTag string // the watcher's From tag
	// LocalURI is the To URI of the SUBSCRIBE (the presentity as the
	// watcher named it), RemoteURI the From address (display name and
	// URI, without its tag): NOTIFY's From and To.
	LocalURI  string
	RemoteURI string
	// RemoteTarget is the watcher's Contact URI; Routes the Record-Route
	// values in order (RFC 3261 §12.1.1).
	RemoteTarget string
	Routes       []string
	RemoteCSeq   uint32
	// Source is where the SUBSCRIBE came from ("udp:192.0.2.4:5060"):
	// without a route set NOTIFYs go there, which reaches a watcher
	// behind NAT whose Contact does not.
	Source string
	// Contact is our Contact URI for the dialog (the listener the
	// SUBSCRIBE came in on).
	Contact string
}

// Key is the key of the subscription actor that owns the dialog.
func (d *Dialog) Key() string { return DialogKey(d.CallID, d.LocalTag, d.RemoteTag) }

// DialogKey names the subscription of a dialog: Call-ID, local and remote
// tag, separated by spaces (which neither holds).
func DialogKey(callID, localTag, remoteTag string) string {
	return callID + " " + localTag + " " + remoteTag
}

// Subscribe is an initial SUBSCRIBE (no To tag): it goes to the
// presentity, which authorises the watcher and hands the dialog to a new
// subscription actor.
type Subscribe struct {
	shard.Envelope
	Presentity string // the AOR watched
	Watcher    string // the watcher's AOR (From)
	Event      Event
	EventID    string // the Event header's id parameter
	Expires    int    // the Expires header in seconds; -1 when absent
	Branch     string // top Via branch: a retransmission repeats it
	Dialog     Dialog
	// Reply receives the result exactly once: 200 or 202 (State), after
	// the subscription committed, before its first NOTIFY.
	Reply func(*SubscribeResult)
}

// SubscribeResult answers Subscribe and Resubscribe.
type SubscribeResult struct {
	State   SubState // active: 200; pending: 202
	Expires int      // granted, seconds
	Err     error
}

func (m *Subscribe) answer(r *SubscribeResult) {
	if m.Reply != nil && m.Claim() {
		m.Reply(r)
	}
}

// Fail implements shard.Failer.
func (m *Subscribe) Fail(err error) { m.answer(&SubscribeResult{Err: err}) }

// Resubscribe is a SUBSCRIBE within a subscription's dialog: a refresh,
// or an unsubscribe with Expires 0. It goes to the subscription actor by
// DialogKey; one that does not exist answers ErrNoSubscription (481).
type Resubscribe struct {
	shard.Envelope
	Expires      int // -1 when absent
	CSeq         uint32
	Branch       string // top Via branch: a retransmission repeats it
	RemoteTarget string // a new Contact, or ""
	Source       string // where the refresh came from: NOTIFYs go there from now on
	Reply        func(*SubscribeResult)
}

func (m *Resubscribe) answer(r *SubscribeResult) {
	if m.Reply != nil && m.Claim() {
		m.Reply(r)
	}
}

// Fail implements shard.Failer.
func (m *Resubscribe) Fail(err error) { m.answer(&SubscribeResult{Err: err}) }

// AnswerAbsent implements shard.AbsentAnswerer: no stored subscription.
func (m *Resubscribe) AnswerAbsent(actor.Context) { m.answer(&SubscribeResult{Err: ErrNoSubscription}) }

// RegistrationChanged tells a presentity the contacts its AOR has now
// (the registrar sends it after every change it committed). A presentity
// nobody watches or publishes ignores it.
type RegistrationChanged struct {
	shard.Envelope
	AOR      string
	Contacts []string
}

// AnswerAbsent implements shard.AbsentAnswerer: no presentity, nothing to
// update (one created later asks the registrar).
func (m *RegistrationChanged) AnswerAbsent(actor.Context) {}

// CallStateChanged tells a presentity whether its user is in a call (the
// call actors send it).
type CallStateChanged struct {
	shard.Envelope
	AOR string
	// CallID names the call: a user in two calls is InCall until both
	// ended. Empty: the one call of the user.
	CallID string
	InCall bool
}

// AnswerAbsent implements shard.AbsentAnswerer.
func (m *CallStateChanged) AnswerAbsent(actor.Context) {}

// WatcherInfo is one watcher of a presentity, as the admin API and winfo
// show it.
type WatcherInfo struct {
	Key        string `json:"id"`
	Watcher    string `json:"watcher"`
	Event      string `json:"event"`
	State      string `json:"state"`
	Visibility string `json:"visibility,omitempty"`
}

// Watchers asks a presentity for its watchers and policy.
type Watchers struct {
	shard.Envelope
	AOR   string
	Reply func(*WatchersResult)
}

// WatchersResult answers Watchers.
type WatchersResult struct {
	Watchers []WatcherInfo
	Policy   Policy
	Err      error
}

func (m *Watchers) answer(r *WatchersResult) {
	if m.Reply != nil && m.Claim() {
		m.Reply(r)
	}
}

// Fail implements shard.Failer.
func (m *Watchers) Fail(err error) { m.answer(&WatchersResult{Err: err}) }

// AnswerAbsent implements shard.AbsentAnswerer: nobody watches.
func (m *Watchers) AnswerAbsent(actor.Context) { m.answer(&WatchersResult{}) }

// Decide is the owner's decision about one watcher (admin API, SDK): allow
// (a pending subscription becomes active), block (its subscriptions end
// with reason=rejected) or forget (neither list names it), and the
// watcher's visibility level ("" keeps it).
type Decide struct {
	shard.Envelope
	AOR        string
	Watcher    string // an AOR, or "@domain"
	Decision   Decision
	Visibility string
	Reply      func(error)
}

func (m *Decide) answer(err error) {
	if m.Reply != nil && m.Claim() {
		m.Reply(err)
	}
}

// Fail implements shard.Failer.
func (m *Decide) Fail(err error) { m.answer(err) }

// SetPolicy replaces a presentity's policy (mode, lists, visibility).
type SetPolicy struct {
	shard.Envelope
	AOR    string
	Policy Policy
	Reply  func(error)
}

func (m *SetPolicy) answer(err error) {
	if m.Reply != nil && m.Claim() {
		m.Reply(err)
	}
}

// Fail implements shard.Failer.
func (m *SetPolicy) Fail(err error) { m.answer(err) }

// Messages between the two kinds.

// start hands a new dialog to its subscription actor.
type start struct {
	shard.Envelope
	sub     *Subscribe
	state   SubState
	expires time.Time // zero: a fetch (Expires 0)
	content content
}

// content is the state a NOTIFY carries: a shared, read-only body.
type content struct {
	body  []byte // nil: no body (pending)
	winfo *pidf.WatcherInfo
}

// update gives a subscription the presentity's new state, or a new
// subscription state (pending → active, or terminated).
type update struct {
	shard.Envelope
	state   SubState
	reason  Reason
	content content
}

// AnswerAbsent implements shard.AbsentAnswerer: the subscription ended.
func (m *update) AnswerAbsent(actor.Context) {}

// ended tells the presentity a subscription is gone.
type ended struct {
	shard.Envelope
	key string
}

// AnswerAbsent implements shard.AbsentAnswerer.
func (m *ended) AnswerAbsent(actor.Context) {}

// refetch asks the presentity to send a subscription its current state
// (the subscription passivated and lost the body it had).
type refetch struct {
	shard.Envelope
	key string
}

// AnswerAbsent implements shard.AbsentAnswerer.
func (m *refetch) AnswerAbsent(actor.Context) {}
