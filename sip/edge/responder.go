package edge

import (
	"net"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// responder sends the one final response to a request. respond may be
// called from any goroutine; calls after the first are ignored.
type responder interface {
	respond(res *sip.Response)
}

// txResponder answers through a sipgo server transaction. The handler must
// wait (wait) before returning: sipgo terminates the transaction then.
type txResponder struct {
	tx   sip.ServerTransaction
	log  *zap.Logger
	once sync.Once
	done chan struct{}
}

func newTxResponder(tx sip.ServerTransaction, log *zap.Logger) *txResponder {
	return &txResponder{tx: tx, log: log, done: make(chan struct{})}
}

func (r *txResponder) respond(res *sip.Response) {
	r.once.Do(func() {
		if err := r.tx.Respond(res); err != nil {
			r.log.Debug("response not sent", zap.Int("status", res.StatusCode), zap.Error(err))
		}
		close(r.done)
	})
}

// wait blocks until a response was sent, or sends fallback after timeout.
func (r *txResponder) wait(timeout time.Duration, fallback func() *sip.Response) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
		r.respond(fallback())
		r.log.Warn("no reply in time, answered for the actor", zap.Duration("timeout", timeout))
	}
}

// udpResponder answers a request read off a UDP listener without a
// transaction, through the listener's batching sender.
type udpResponder struct {
	sender *udpSender
	to     net.Addr
	once   sync.Once
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func (r *udpResponder) respond(res *sip.Response) {
	r.once.Do(func() {
		bp := bufPool.Get().(*[]byte)
		w := byteWriter{b: (*bp)[:0]}
		res.StringWrite(&w)
		*bp = w.b
		r.sender.send(bp, r.to)
	})
}

// byteWriter is an io.StringWriter over a reusable byte slice.
type byteWriter struct{ b []byte }

func (w *byteWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}
