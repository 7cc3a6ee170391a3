package ua

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

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

// MaxMessageSize is the largest MESSAGE body the peer sends or accepts
// (larger ones are answered 413).
const MaxMessageSize = 64 << 10

// inboxSize is how many received messages wait for the application.
const inboxSize = 64

// inboxWait is how long an incoming MESSAGE waits for room in a full
// inbox before it is refused with 486: long enough for an application
// that reads, short enough not to hold sipgo's handler.
const inboxWait = time.Second

type inbox struct {
	ch chan Message
}

func (p *Peer) initInbox() {
	p.inbox.ch = make(chan Message, inboxSize)
	p.handle(sip.MESSAGE, p.onMessage)
}

// SendMessage sends text to to (RFC 3428) as text/plain, through the
// server when the peer has one, else to the target directly (peer to
// peer). It returns nil when the message was delivered (200) or stored for
// later (202), a *StatusError for any other answer.
func (p *Peer) SendMessage(ctx context.Context, to, text string) error {
	_, err := p.Deliver(ctx, to, text)
	return err
}

// Delivery says what became of a message the server accepted.
type Delivery int

// Deliveries.
const (
	// Delivered: a device of the recipient took it (200).
	Delivered Delivery = iota
	// Stored: the recipient is offline and the server keeps the message
	// until they register (202 Accepted).
	Stored
)

func (d Delivery) String() string {
	if d == Stored {
		return "stored"
	}
	return "delivered"
}

// Deliver is SendMessage that also says whether the message was delivered
// or stored for later.
func (p *Peer) Deliver(ctx context.Context, to, text string) (Delivery, error) {
	if len(text) > MaxMessageSize {
		return 0, fmt.Errorf("ua: message of %d bytes: the limit is %d", len(text), MaxMessageSize)
	}
	u, err := p.target(to)
	if err != nil {
		return 0, err
	}
	req := p.newRequest(sip.MESSAGE, u)
	req.RemoveHeader("Contact") // RFC 3428: a MESSAGE makes no dialog, so no Contact to reach back
	req.AppendHeader(sip.NewHeader("Date", time.Now().UTC().Format(http.TimeFormat)))
	req.AppendHeader(sip.NewHeader("Content-Type", "text/plain;charset=UTF-8"))
	req.SetBody([]byte(text))
	res, err := p.send(ctx, req)
	if err != nil {
		return 0, err
	}
	p.log.Debug("message sent", zap.String("call_id", req.CallID().Value()), zap.String("method", "MESSAGE"),
		zap.Int("status", res.StatusCode))
	switch {
	case res.StatusCode == 202:
		return Stored, nil
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return Delivered, nil
	}
	return 0, statusError(req, res)
}

// Messages yields the messages the peer receives. The channel holds 64;
// when it is full, a new MESSAGE waits up to a second for room and is then
// refused with 486 Busy Here, so the sender knows it was not delivered.
func (p *Peer) Messages() <-chan Message { return p.inbox.ch }

// onMessage answers an incoming MESSAGE: 200 once the application's inbox
// has it, 413 for a body over MaxMessageSize, 486 when the inbox stays full.
func (p *Peer) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	log := p.log.With(zap.String("call_id", req.CallID().Value()), zap.String("method", "MESSAGE"))
	if len(req.Body()) > MaxMessageSize {
		log.Info("message too large", zap.Int("bytes", len(req.Body())))
		p.respond(tx, req, 413, "Request Entity Too Large")
		return
	}
	m := Message{Body: req.Body(), Date: time.Now()}
	if f := req.From(); f != nil {
		m.From = normalizeAOR(f.Address.String())
	}
	if t := req.To(); t != nil {
		m.To = normalizeAOR(t.Address.String())
	}
	if ct := req.ContentType(); ct != nil {
		m.ContentType = ct.Value()
	}
	if d := req.GetHeader("Date"); d != nil {
		if at, err := http.ParseTime(d.Value()); err == nil {
			m.Date = at
		}
	}
	select {
	case p.inbox.ch <- m:
	default:
		t := time.NewTimer(inboxWait)
		defer t.Stop()
		select {
		case p.inbox.ch <- m:
		case <-t.C:
			log.Warn("inbox full: message refused", zap.String("from", m.From))
			p.respond(tx, req, 486, "Busy Here")
			return
		case <-p.ctx.Done():
			p.respond(tx, req, 480, "Temporarily Unavailable")
			return
		}
	}
	p.respond(tx, req, 200, "OK")
}
