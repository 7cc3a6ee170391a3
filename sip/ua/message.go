package ua

import (
	"context"
	"time"
)

// STUB: the registration helper replaces this file.

// Message is a MESSAGE (RFC 3428) the peer received.
type Message struct {
	From        string // AOR of the sender
	To          string
	ContentType string
	Body        []byte
	Date        time.Time // the Date header: when it was sent (stored messages keep theirs)
}

// Text returns the body as text.
func (m Message) Text() string { return string(m.Body) }

type inbox struct{}

func (p *Peer) initInbox() {}

// SendMessage sends text to to (RFC 3428). It returns nil when the
// message was delivered (200) or stored for later (202).
func (p *Peer) SendMessage(ctx context.Context, to, text string) error { return errNotYet }

// Messages yields the messages the peer receives.
func (p *Peer) Messages() <-chan Message { return nil }
