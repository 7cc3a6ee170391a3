package edge

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/sip/status"
)

// responder sends the one final response to a request. respond may be
// called from any goroutine; calls after the first are ignored. A nil
// response answers nothing: a retransmission whose original's answer
// serves it.
type responder interface {
	respond(res *sip.Response)
}

// answer is the responder every handler gets: it lets exactly one response
// out, counts it, and releases the request's in-flight slot when it was
// admitted, so a reply that comes after the edge answered for a slow actor
// is dropped and the count can neither leak nor go negative (ARCHITECTURE.md,
// data path step 4).
type answer struct {
	s     *Server
	next  responder // the transaction's or the UDP listener's
	label string    // metrics method label
	done  atomic.Bool
	// Set by admit (and admitForward) before the request goes to an
	// actor; read by whoever claims the answer.
	admitted, forwarded bool
	// req builds the timeout answer. Only the claimer reads it, and
	// clears it, so an answered request queued in a deadline list does not
	// keep the parsed request alive.
	req *sip.Request
	due int64 // deadlines: when to answer for the actor (UDP only)
}

func (s *Server) newAnswer(req *sip.Request, next responder) *answer {
	return &answer{s: s, next: next, label: metricLabel(req.Method), req: req}
}

// claim makes the caller the one that answers.
func (a *answer) claim() bool { return a.done.CompareAndSwap(false, true) }

func (a *answer) respond(res *sip.Response) {
	if a.claim() {
		a.send(res)
	}
}

func (a *answer) send(res *sip.Response) {
	code := 0
	if res != nil {
		code = res.StatusCode
	}
	a.release(code)
	a.next.respond(res)
}

// release is what the claimer does before a response goes out: it drops
// the request, releases the in-flight slots and counts code (0: nothing
// is sent).
func (a *answer) release(code int) {
	a.req = nil
	if a.admitted {
		a.s.inflight.Add(-1)
	}
	if a.forwarded {
		a.s.forwarding.Add(-1)
	}
	if code != 0 {
		a.s.metrics.observe(a.label, code)
	}
}

// expire answers for an actor that did not reply in time; a reply that
// comes later is dropped.
func (a *answer) expire() {
	if !a.claim() {
		return
	}
	req := a.req
	code, reason := status.Of(ErrNoReply)
	if req == nil { // a REGISTER read by lightParse: answered from its head
		if ce := a.s.log.Check(zap.WarnLevel, "no reply in time, answered for the actor"); ce != nil {
			ce.Write(zap.String("method", string(sip.REGISTER)), zap.Int("status", code))
		}
		if u, ok := a.next.(*udpResponder); ok && u.head != nil {
			r := rawReply{a: a, u: u, code: code, b: beginReply(*u.head, code, reason, a.s.conf.UserAgent)}
			r.send()
		}
		return
	}
	if ce := a.s.log.Check(zap.WarnLevel, "no reply in time, answered for the actor"); ce != nil {
		ce.Write(zap.String("method", string(req.Method)), callIDField(req), zap.Int("status", code))
	}
	a.send(a.s.response(req, code, reason))
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
		if res != nil {
			if err := r.tx.Respond(res); err != nil {
				r.log.Debug("response not sent", zap.Int("status", res.StatusCode), zap.Error(err))
			}
		}
		close(r.done)
	})
}

// wait blocks until a response was sent, or calls expire after timeout.
func (r *txResponder) wait(timeout time.Duration, expire func()) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
		expire()
	}
}

// udpResponder answers a request read off a UDP listener without a
// transaction, through the listener's batching sender.
type udpResponder struct {
	sender    *udpSender
	deadlines *deadlines // the listener's: admit queues the answer there
	forwards  *deadlines // the listener's, for forwarded requests (admitForward)
	to        net.Addr
	// addr and ip hold to for the stateless path (reply), so it costs no
	// allocation of its own.
	addr net.UDPAddr
	ip   [16]byte
	// source is "UDP:host:port" of the request (sourceOf).
	source string
	// head is the request's header lines a response repeats, in a send
	// buffer from bufPool (captureHead): nil when they were not captured.
	// It is set before the responder is handed out and never changed;
	// whoever claims the answer owns the buffer (startReply, respond).
	head *[]byte
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// respond is called once, by the answer in front of it.
func (r *udpResponder) respond(res *sip.Response) {
	bp := r.head
	if res == nil {
		if bp != nil {
			bufPool.Put(bp)
		}
		return
	}
	if bp == nil {
		bp = bufPool.Get().(*[]byte)
	}
	w := byteWriter{b: (*bp)[:0]}
	res.StringWrite(&w)
	*bp = w.b
	r.sender.send(bp, r.to)
}

// byteWriter is an io.StringWriter over a reusable byte slice.
type byteWriter struct{ b []byte }

func (w *byteWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}
