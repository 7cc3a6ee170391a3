package registrar

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/shard"
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
	shard.Envelope
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
}

// answer calls Reply once; later calls do nothing.
func (m *Register) answer(res *RegisterResult) {
	if m.Reply != nil && m.Claim() {
		m.Reply(res)
	}
}

// Fail implements shard.Failer.
func (m *Register) Fail(err error) { m.answer(&RegisterResult{Err: err, Now: time.Now()}) }

// RegisterResult answers Register. Err is nil or wraps a registrar sentinel
// (or is an *IntervalTooBriefError).
type RegisterResult struct {
	Bindings []Binding // every current binding, q-value order
	Now      time.Time // the time remaining expiries are counted from
	Err      error
}

// Lookup asks for the current bindings of an AOR: for presence, MESSAGE and
// call routing. The answer goes to Reply when set, else to the sender
// (ctx.RequestFuture with Router.Target, then ReenterAfter).
type Lookup struct {
	shard.Envelope
	AOR   AOR
	Reply func(*LookupResult)
}

// LookupResult answers Lookup. Err is set when the registration could not
// be read (shard.ErrInternal, shard.ErrUnavailable).
type LookupResult struct {
	Bindings []Binding
	Now      time.Time
	Err      error
}

func (m *Lookup) answer(ctx actor.Context, res *LookupResult) {
	if !m.Claim() {
		return
	}
	if m.Reply != nil {
		m.Reply(res)
	} else if ctx != nil {
		ctx.Respond(res)
	}
}

// Fail implements shard.Failer. Without Reply the asker's future times out.
func (m *Lookup) Fail(err error) { m.answer(nil, &LookupResult{Now: time.Now(), Err: err}) }

// AnswerAbsent implements shard.AbsentAnswerer: an AOR without a record
// has no binding, and needs no actor to say so.
func (m *Lookup) AnswerAbsent(ctx actor.Context) { m.answer(ctx, &LookupResult{Now: time.Now()}) }

// Forward sends a request addressed to the AOR itself (an out-of-dialog
// OPTIONS to sip:alice@domain, not to the server) on to the AOR's best
// contact: the highest q-value, then the latest refresh. The request is
// read-only; the actor sends a copy through the outbound port and answers
// Reply once, with the contact's final response or an error
// (ErrNoContact: 480; outbound.ErrTimeout: 408; outbound.ErrTransport: 480;
// ErrTooManyHops: 483; ErrLoop: 482).
type Forward struct {
	shard.Envelope
	AOR     AOR
	Request *sip.Request
	// Local lists the host:port pairs (in HostPort's form) that reach this
	// server: a contact that names one of them is ErrLoop. The edge fills
	// it from its listeners; it is read-only and shared between messages.
	Local []string
	Reply func(*ForwardResult)
}

// ForwardResult answers Forward.
type ForwardResult struct {
	Response *sip.Response // the contact's final response; nil when Err is set
	Err      error
}

// answer calls Reply once; later calls do nothing.
func (m *Forward) answer(res *ForwardResult) {
	if m.Reply != nil && m.Claim() {
		m.Reply(res)
	}
}

// Fail implements shard.Failer.
func (m *Forward) Fail(err error) { m.answer(&ForwardResult{Err: err}) }

// AnswerAbsent implements shard.AbsentAnswerer.
func (m *Forward) AnswerAbsent(actor.Context) { m.answer(&ForwardResult{Err: ErrNoContact}) }

// Binding is one registered contact of an AOR.
type Binding struct {
	Contact    string   `json:"c"`
	Q          int16    `json:"q,omitempty"` // × 1000; -1 when the REGISTER gave none
	Expires    int64    `json:"e"`           // absolute expiry, Unix nanoseconds
	CallID     string   `json:"i"`
	CSeq       uint32   `json:"s"`
	Branch     string   `json:"v,omitempty"` // Via branch of the REGISTER that made it: retransmissions match it
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

// expire is the registration actor's own timer message.
type expire struct{}

// written reports to the registration actor that one of its writes
// committed (err nil) or failed; tx is the request that made it, if any.
type written struct {
	err error
	tx  txKey
	by  uint64 // the Actor.id of the instance that wrote
}

// txKey identifies one REGISTER transaction (RFC 3261 §17.2.3: Call-ID,
// CSeq and the top Via branch).
type txKey struct {
	callID string
	cseq   uint32
	branch string
}
