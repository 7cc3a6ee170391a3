package registrar

import (
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// AOR is a normalised address-of-record, "sip:user@domain" (RFC 3261 §10.3
// step 5: scheme sip, user as sent, lower-case domain, no parameters).
type AOR string

// Contact is one Contact header field value of a REGISTER, as the edge parsed
// it. Absent numbers are -1.
type Contact struct {
	URI        string // the contact URI as sent, e.g. "sip:alice@192.0.2.4:5060;transport=tcp"
	Q          int16  // q-value × 1000 (RFC 3261 §20.10); -1 when absent
	Expires    int    // the contact's expires parameter in seconds; -1 when absent
	InstanceID string // +sip.instance (RFC 5626 §4.1), without quotes
	RegID      int32  // reg-id (RFC 5626 §4.2); 0 when absent
}

// Register adds, refreshes, removes or queries the bindings of an AOR
// (RFC 3261 §10.3). No Contacts and no Wildcard is a query.
type Register struct {
	AOR      AOR
	Contacts []Contact
	Wildcard bool // Contact: *
	Expires  int  // the Expires header field in seconds; -1 when absent
	CallID   string
	CSeq     uint32
	Branch   string   // top Via branch: tells a retransmission from a new request
	Path     []string // Path header field values (RFC 3327), kept per binding
	Source   string   // where the request came from, "udp:192.0.2.4:5060"
	UA       string   // User-Agent header field
	// Reply receives the result exactly once, after any change is committed
	// to the store. It runs on an actor's or the store's goroutine and must
	// not block.
	Reply func(*RegisterResult)

	st       stamp  // set by the shard; see shard.go
	answered uint32 // atomic; Reply runs once, even when a panic follows it
}

// answer calls Reply once; later calls do nothing.
func (m *Register) answer(res *RegisterResult) {
	if m.Reply != nil && atomic.CompareAndSwapUint32(&m.answered, 0, 1) {
		m.Reply(res)
	}
}

// RegisterResult answers Register. Err is nil or wraps a registrar sentinel
// (or is an *IntervalTooBriefError).
type RegisterResult struct {
	Bindings []Binding // every current binding, q-value order
	Now      time.Time // the time remaining expiries are counted from
	Err      error
}

// Lookup asks for the current bindings of an AOR: for presence, MESSAGE and
// call routing. The answer goes to Reply when set, else to the sender
// (ctx.Request / RequestFuture).
type Lookup struct {
	AOR   AOR
	Reply func(*LookupResult)

	st stamp
}

// LookupResult answers Lookup.
type LookupResult struct {
	Bindings []Binding
	Now      time.Time
}

// Binding is one registered contact of an AOR.
type Binding struct {
	Contact    string   `json:"c"`
	Q          int16    `json:"q,omitempty"` // × 1000; -1 when the REGISTER gave none
	Expires    int64    `json:"e"`           // absolute expiry, Unix nanoseconds
	CallID     string   `json:"i"`
	CSeq       uint32   `json:"s"`
	InstanceID string   `json:"n,omitempty"`
	RegID      int32    `json:"r,omitempty"`
	Path       []string `json:"p,omitempty"`
	Source     string   `json:"src,omitempty"`
	UA         string   `json:"ua,omitempty"`
}

// ExpiresAt is the binding's absolute expiry.
func (b Binding) ExpiresAt() time.Time { return time.Unix(0, b.Expires) }

// Remaining is the whole number of seconds left at now, rounded up, never
// negative.
func (b Binding) Remaining(now time.Time) int {
	d := b.ExpiresAt().Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// Ready asks the registrar's root whether its state was restored; it
// answers with *ReadyResult.
type Ready struct{}

// ReadyResult answers Ready.
type ReadyResult struct{ Restored int }

// activate wakes the registration actor of a stored AOR at start, so its
// expiry timer runs again.
type activate struct {
	aor AOR
	st  stamp
}

// idle tells the shard that the actor holds no binding and has no write in
// flight after the message numbered seq, so it may be stopped (passivated).
type idle struct {
	aor AOR
	gen uint64 // which incarnation of the AOR's actor: names repeat
	seq uint64
}

// expire is the registration actor's own timer message.
type expire struct{}

// poison panics inside the registration actor: a fault injection hook for
// the supervision tests, unexported so only this package can send it.
type poison struct {
	aor AOR
	st  stamp
}

// shardPoison panics a shard: a fault injection hook for tests.
type shardPoison struct{}

// routable is a message the shards route by AOR. The shard stamps each
// message it forwards: which incarnation of the actor it goes to, its
// number among the messages to that incarnation, and whether it made the
// shard spawn the actor for an AOR the store holds nothing of.
type routable interface {
	key() AOR
	stamp(stamp)
	stamps() stamp
}

type stamp struct {
	gen, seq uint64
	fresh    bool
}

// written reports to the registration actor that one of its writes
// committed (err nil) or failed.
type written struct{ err error }

func (m *Register) key() AOR      { return m.AOR }
func (m *Register) stamp(s stamp) { m.st = s }
func (m *Register) stamps() stamp { return m.st }
func (m *Lookup) key() AOR        { return m.AOR }
func (m *Lookup) stamp(s stamp)   { m.st = s }
func (m *Lookup) stamps() stamp   { return m.st }
func (m *activate) key() AOR      { return m.aor }
func (m *activate) stamp(s stamp) { m.st = s }
func (m *activate) stamps() stamp { return m.st }
func (m *poison) key() AOR        { return m.aor }
func (m *poison) stamp(s stamp)   { m.st = s }
func (m *poison) stamps() stamp   { return m.st }

// Forward sends a request addressed to the AOR itself (an out-of-dialog
// OPTIONS to sip:alice@domain, not to the server) on to the AOR's best
// contact: the highest q-value, then the latest refresh. The request is
// read-only; the actor sends a copy through the outbound port and answers
// Reply once, with the contact's final response or an error
// (ErrNoContact: 480; outbound.ErrTimeout: 408; outbound.ErrTransport).
type Forward struct {
	AOR     AOR
	Request *sip.Request
	Reply   func(*ForwardResult)

	st       stamp
	answered uint32
}

// ForwardResult answers Forward.
type ForwardResult struct {
	Response *sip.Response // the contact's final response; nil when Err is set
	Err      error
}

// answer calls Reply once; later calls do nothing.
func (m *Forward) answer(res *ForwardResult) {
	if m.Reply != nil && atomic.CompareAndSwapUint32(&m.answered, 0, 1) {
		m.Reply(res)
	}
}

func (m *Forward) key() AOR      { return m.AOR }
func (m *Forward) stamp(s stamp) { m.st = s }
func (m *Forward) stamps() stamp { return m.st }
