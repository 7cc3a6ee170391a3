package call

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/shard"
)

// Invite is a new call: an out-of-dialog INVITE from the caller (leg A).
// The edge holds A's server transaction open until Tx gets a final
// response.
type Invite struct {
	shard.Envelope
	// Request is A's INVITE; read-only.
	Request *sip.Request
	// Callee is the AOR of the local user called (sip:bob@example.com);
	// empty when the call goes to the outbound proxy.
	Callee string
	// Caller is the caller's AOR when it is a local user (InCall presence),
	// else empty.
	Caller string
	// Source is where A's INVITE came from ("udp:192.0.2.4:5060"):
	// requests to A go there when A is behind a NAT (registrar.Flow).
	Source string
	// Contact is the server's Contact URI for leg A's transport.
	Contact string
	// Local is the server's Contact URI for a transport ("udp", "tcp"):
	// leg B's. It only reads the edge's configuration.
	Local func(network string) string
	// Tx answers A's INVITE.
	Tx ServerTx
}

// Fail implements shard.Failer: the call could not start.
func (m *Invite) Fail(err error) {
	if m.Claim() {
		m.Tx.Fail(err)
	}
}

// ServerTx is the edge's INVITE server transaction of leg A. Respond sends
// provisional responses any number of times, then one final response; the
// edge retransmits a 2xx over UDP until its ACK comes (RFC 3261
// §13.3.1.4). Fail answers with the status an error maps to. Both are
// safe from any goroutine and ignored after the final response.
type ServerTx interface {
	Respond(res *sip.Response)
	Fail(err error)
}

// Cancel is A's CANCEL of its INVITE (RFC 3261 §9.2). The edge has
// answered it 200 and the INVITE 487 already; the call cancels its forks.
type Cancel struct{ shard.Envelope }

// Contact is one registered contact of the callee.
type Contact struct {
	URI    string
	Source string   // where its REGISTER came from
	Path   []string // Path header values: the Route of requests to it
	Q      int16    // × 1000; -1 when the REGISTER gave none
}

// LookupFunc asks the registrar for an AOR's live contacts; reply runs
// once, on any goroutine.
type LookupFunc func(aor string, reply func([]Contact, error))

// Known reports whether an AOR is a user of this server (a call to an
// unknown user is 404, to a known one without contacts 480).
type Known func(aor string) bool

// InCallFunc tells presence that aor's user is (or no longer is) in a
// call; the presentity counts the calls.
type InCallFunc func(aor, callID string, in bool)

// ---- between the call and its legs ----

// evKind is what a leg tells its call.
type evKind uint8

const (
	evProvisional evKind = iota // a 1xx to our INVITE (UAC), res set
	evAnswered                  // a 2xx to our INVITE (UAC), res set
	evFailed                    // our INVITE failed (UAC): res or err set
	evRequest                   // an in-dialog request from the peer, req and op set
	evResult                    // the outcome of a send, op and res or err set
	evAck                       // the ACK of our 2xx (UAS), req set
	evEnded                     // the leg is over; err says why when not a clean end
)

// event is a leg's report to its call.
type event struct {
	leg  *actor.PID
	kind evKind
	op   uint64
	req  *sip.Request
	res  *sip.Response
	err  error
}

// respond asks a UAS leg to answer A's INVITE.
type respond struct {
	code     int
	reason   string
	headers  []sip.Header
	body     []byte
	reliable bool // a provisional sent with 100rel (RFC 3262)
}

// send asks a leg to send an in-dialog request; the outcome comes back as
// evResult with op.
type send struct {
	op      uint64
	method  sip.RequestMethod
	headers []sip.Header
	body    []byte
}

// reply asks a leg to answer the peer's in-dialog request op.
type reply struct {
	op      uint64
	code    int
	reason  string
	headers []sip.Header
	body    []byte
}

// ackWith asks a UAC leg to send the ACK of its 2xx, with body (the
// answer to a 2xx offer, RFC 3264 delayed offer); nil sends it bare.
type ackWith struct{ body []byte }

// hangup ends a leg: CANCEL while ringing, BYE once answered, a final
// response (code) to an unanswered INVITE from A.
type hangup struct {
	code   int
	reason string
}
