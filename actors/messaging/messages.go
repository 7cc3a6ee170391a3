package messaging

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/shard"
)

// Message is an out-of-dialog MESSAGE (RFC 3428) for the box of AOR:
// the parts of the request that go on to the recipient's contacts.
type Message struct {
	shard.Envelope
	AOR    string
	From   string // the From header value: display name, URI, tag
	To     string // the To header value
	CallID string
	CSeq   uint32
	// Branch is the request's top Via branch: with Call-ID, CSeq and the
	// From tag it tells a retransmission (retrans.go).
	Branch      string
	Date        string // the Date header value; "" when absent
	ContentType string // "" when absent
	Body        []byte
	// Hops is the Max-Forwards the copies to the contacts carry: the
	// request's less one (RFC 3261 §16.6 step 3); 0 means 70.
	Hops uint32
	// Reply receives the result exactly once: after the delivery, or
	// after the store committed the message. It runs on an actor's or
	// the store's goroutine and must not block.
	Reply func(*Result)
}

// Outcome is what became of a Message.
type Outcome uint8

const (
	// Delivered: a contact answered 2xx (200 to the sender).
	Delivered Outcome = iota + 1
	// Stored: the message waits in the box for the next registration
	// (202 to the sender).
	Stored
	// Refused: every contact answered, none with 2xx; Response is the
	// best of their answers (RFC 3261 §16.7 step 6), relayed.
	Refused
)

// Result answers Message.
type Result struct {
	Outcome  Outcome
	Response *sip.Response // Refused: the contact's response chosen
	Err      error
	// Trying is set with ErrInProgress on the first retransmission of a
	// MESSAGE being delivered that comes 3.5 s or more after it (RFC 4320
	// §4.1): the edge answers it 100 Trying (RFC 3261 §17.2.2); other
	// copies get nothing.
	Trying bool
}

func (m *Message) answer(r *Result) {
	if m.Reply != nil && m.Claim() {
		m.Reply(r)
	}
}

// Fail implements shard.Failer.
func (m *Message) Fail(err error) { m.answer(&Result{Err: err}) }

// RegistrationChanged tells the box of AOR that the AOR's live contacts
// changed: with any, stored messages are delivered. It needs no box when
// none is stored (shard.AbsentAnswerer).
type RegistrationChanged struct {
	shard.Envelope
	AOR      string
	Contacts []string
}

// AnswerAbsent implements shard.AbsentAnswerer: no box, nothing to
// deliver.
func (m *RegistrationChanged) AnswerAbsent(actor.Context) {}

var (
	_ shard.Failer         = (*Message)(nil)
	_ shard.AbsentAnswerer = (*RegistrationChanged)(nil)
)
