// Package outbound is how actors send SIP requests: through a Port that
// the SIP edge implements (statelessly for non-INVITE requests over UDP,
// over sipgo client transactions otherwise). Send never
// blocks the actor; exactly one *Result comes back to the actor as a
// message (a response, a timeout or a transport error), so an actor waits
// for the network the way it waits for anything else: in its mailbox.
//
// The request a message carries is read-only to everyone but the port:
// build a fresh one for every Send (sipgo refuses to send one object twice).
package outbound

import (
	"errors"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
)

// Port sends requests for actors.
type Port interface {
	// Send sends req (a complete request: Request-URI, From, To, Call-ID,
	// CSeq; the port adds Via and Max-Forwards) and delivers exactly one
	// *Result carrying id to replyTo: the final response, or an error
	// (ErrTimeout, ErrTransport, ErrUnavailable). Provisional responses
	// are delivered as *Provisional when the port supports it.
	Send(req *sip.Request, replyTo *actor.PID, id uint64)
}

// Result is the outcome of one Send.
type Result struct {
	ID       uint64
	Response *sip.Response // the final response; nil when Err is set
	Err      error
}

// Provisional is a 1xx response to the Send numbered ID.
type Provisional struct {
	ID       uint64
	Response *sip.Response
}

var (
	// ErrTimeout is a request that got no final response in time (RFC
	// 3261 Timer F / B): 408 to whoever waits upstream.
	ErrTimeout = errors.New("outbound: no final response in time")
	// ErrTransport is a request that could not be sent (no route,
	// connection refused, message too large for UDP).
	ErrTransport = errors.New("outbound: transport error")
	// ErrUnavailable is a Send made before the edge is running or after
	// it stopped.
	ErrUnavailable = errors.New("outbound: port not running")
)

// Deferred is a Port whose implementation is set later: actors start
// before the SIP edge that sends for them. Before Set (and after a Set of
// nil) every Send gets ErrUnavailable at once.
type Deferred struct {
	root *actor.RootContext
	p    atomic.Pointer[portBox]
}

type portBox struct{ p Port }

// NewDeferred returns a Deferred that answers through root.
func NewDeferred(root *actor.RootContext) *Deferred { return &Deferred{root: root} }

// Set installs p (nil uninstalls).
func (d *Deferred) Set(p Port) {
	if p == nil {
		d.p.Store(nil)
		return
	}
	d.p.Store(&portBox{p})
}

// Send implements Port.
func (d *Deferred) Send(req *sip.Request, replyTo *actor.PID, id uint64) {
	if b := d.p.Load(); b != nil {
		b.p.Send(req, replyTo, id)
		return
	}
	d.root.Send(replyTo, &Result{ID: id, Err: ErrUnavailable})
}

// Best is the response a forked request answers with when no fork
// succeeded (RFC 3261 §16.7 step 6): a 6xx if there is one, else one of
// the lowest class; the first received among equals. nil when no fork
// answered. Calls and MESSAGE delivery both fork.
func Best(rs []*sip.Response) *sip.Response {
	var out *sip.Response
	for _, r := range rs {
		switch {
		case out == nil:
			out = r
		case out.StatusCode >= 600:
		case r.StatusCode >= 600:
			out = r
		case r.StatusCode/100 < out.StatusCode/100:
			out = r
		}
	}
	return out
}
