package bench

import (
	"golang.org/x/net/ipv4"
)

// maxBatch is the most messages one sendmmsg/recvmmsg moves.
const maxBatch = 64

// transport is the generator's side of the wire: a few client sockets (UDP)
// or connections (TCP) to one target.
type transport interface {
	// locals returns the host:port of every socket, for Via and Contact.
	locals() []string
	// reliable is true for TCP: no retransmissions (RFC 3261 §17.1.2.2).
	reliable() bool
	// flush writes the queued messages of o on socket o.sock and empties o.
	// It returns the number of messages the socket refused.
	flush(o *outbox) int
	// read delivers every message arriving on socket sock to onMsg and
	// calls onBatch after each batch, until stop or close.
	read(sock int, onMsg func([]byte), onBatch func())
	// stop makes every read return once the batch in hand has gone
	// through onBatch, which flushes what it answered; the sockets stay
	// open for those writes until close.
	stop()
	// close closes every socket and makes read return.
	close() error
}

// outbox queues messages for one socket so that they leave in one batch.
// Its buffers are reused from batch to batch: nothing is allocated once
// they have grown to the size of a request.
type outbox struct {
	sock int
	bufs [][]byte
	n    int
	// ms and one back the ipv4.Message slice of sendmmsg.
	ms  []ipv4.Message
	one [][1][]byte
}

func newOutbox(sock int) *outbox {
	o := &outbox{sock: sock, bufs: make([][]byte, maxBatch), ms: make([]ipv4.Message, maxBatch),
		one: make([][1][]byte, maxBatch)}
	for i := range o.bufs {
		o.bufs[i] = make([]byte, 0, 1024)
	}
	return o
}

// buf returns the next empty buffer to append a message to.
func (o *outbox) buf() []byte { return o.bufs[o.n][:0] }

// add queues b, which must come from buf; it reports whether o is full.
func (o *outbox) add(b []byte) bool {
	o.bufs[o.n] = b
	o.n++
	return o.n == len(o.bufs)
}

// queued returns the queued messages.
func (o *outbox) queued() [][]byte { return o.bufs[:o.n] }
