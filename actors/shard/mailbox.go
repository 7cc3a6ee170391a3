package shard

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
)

// trackedMailbox is an entity's mailbox: unbounded, with a tracker that
// answers the requests an actor will never handle. protoactor drops the
// messages still queued when an actor stops (and keeps a suspended one's
// queue forever once it is stopped past its restart budget); the tracker
// fails them with ErrUnavailable instead, so every request is answered.
func trackedMailbox() actor.Mailbox {
	return actor.Unbounded(&tracker{})()
}

type tracker struct {
	mu      sync.Mutex
	queued  []Failer // posted, not yet handled
	stopped bool
}

func (t *tracker) MailboxStarted() {}
func (t *tracker) MailboxEmpty()   {}

func (t *tracker) MessagePosted(m any) {
	f, ok := actor.UnwrapEnvelopeMessage(m).(Failer)
	if !ok {
		return
	}
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		f.Fail(ErrUnavailable)
		return
	}
	t.queued = append(t.queued, f)
	t.mu.Unlock()
}

func (t *tracker) MessageReceived(m any) {
	if _, ok := m.(*actor.Stop); ok {
		t.mu.Lock()
		t.stopped = true
		queued := t.queued
		t.queued = nil
		t.mu.Unlock()
		for _, f := range queued {
			f.Fail(ErrUnavailable)
		}
		return
	}
	f, ok := actor.UnwrapEnvelopeMessage(m).(Failer)
	if !ok {
		return
	}
	// Remove f itself: with several senders (a shard's mailbox) the hook
	// can see posts in another order than the queue. Then drop answered
	// requests from the front: one whose handling panicked never gets a
	// MessageReceived, but it was answered (failOnPanic).
	t.mu.Lock()
	for i, q := range t.queued {
		if q == f {
			last := len(t.queued) - 1
			copy(t.queued[i:], t.queued[i+1:])
			t.queued[last] = nil
			t.queued = t.queued[:last]
			break
		}
	}
	n := 0
	for n < len(t.queued) && t.queued[n].envelope().answeredYet() {
		n++
	}
	if n > 0 {
		k := copy(t.queued, t.queued[n:])
		clear(t.queued[k:])
		t.queued = t.queued[:k]
	}
	t.mu.Unlock()
}

// answerDeadLetters fails every request that went to dead letters (sent to
// an entity or shard that no longer exists) with ErrUnavailable.
func answerDeadLetters(system *actor.ActorSystem) *eventstream.Subscription {
	return system.EventStream.Subscribe(func(ev any) {
		if d, ok := ev.(*actor.DeadLetterEvent); ok {
			fail(d.Message, ErrUnavailable)
		}
	})
}
