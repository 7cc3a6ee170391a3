package shard

import (
	"errors"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

var (
	// ErrInternal answers a request whose handling panicked: a bug; the
	// entity restarts from the store. 500.
	ErrInternal = errors.New("shard: internal error")
	// ErrUnavailable answers a request that could not be handled: its
	// entity stopped (past its restart budget) with it still queued, or
	// its shard was down. 503.
	ErrUnavailable = errors.New("shard: entity unavailable")
)

// Envelope is embedded in every message routed to an entity. It carries
// the key the router hashed and the stamps the shard sets, and it makes
// sure the message is answered once.
type Envelope struct {
	key      string
	gen, seq uint64
	fresh    bool
	to       *actor.PID // the entity it was forwarded to (the shard's copy of its PID)
	taken    bool       // an entity began handling it (mailbox goroutine only)
	answered uint32     // atomic; see Claim
}

// Message is a routed message: any struct that embeds Envelope.
type Message interface{ envelope() *Envelope }

func (e *Envelope) envelope() *Envelope { return e }

// Key is the key the message was routed by.
func (e *Envelope) Key() string { return e.key }

// Claim reports whether the caller is the first to answer this message:
// a request is answered once, even when a panic or a stop races its
// answer.
func (e *Envelope) Claim() bool { return atomic.CompareAndSwapUint32(&e.answered, 0, 1) }

// answeredYet reports whether the message was answered (without claiming
// it).
func (e *Envelope) answeredYet() bool { return atomic.LoadUint32(&e.answered) == 1 }

// Failer is a request that can answer itself with an error. Fail must
// use Claim, so that it answers only when nothing else did.
type Failer interface {
	Message
	Fail(err error)
}

// AbsentAnswerer is a message that needs no entity when its key has no
// state: the shard calls AnswerAbsent instead of spawning one (a lookup of
// an AOR nobody registered). ctx is the shard's, whose Sender is the
// message's.
type AbsentAnswerer interface {
	Message
	AnswerAbsent(ctx actor.Context)
}
