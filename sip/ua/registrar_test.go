package ua

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// registrar is a fake registrar for the tests: a real sipgo server on
// loopback whose answer to each REGISTER the test decides.
type registrar struct {
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	addr string
	ln   interface{ Close() error }

	mu      sync.Mutex
	regs    []*sip.Request // every REGISTER, in order
	options int            // OPTIONS received
	answer  func(n int, req *sip.Request) *sip.Response
	message func(req *sip.Request, tx sip.ServerTransaction) // MESSAGE handler; nil: 405
	got     chan *sip.Request                                // every REGISTER, for waiting
}

// accept answers a REGISTER 200 with its Contact, granted what it asked.
func accept(req *sip.Request) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if c := req.Contact(); c != nil {
		res.AppendHeader(c.Clone())
	}
	if e := req.GetHeader("Expires"); e != nil {
		res.AppendHeader(sip.NewHeader("Expires", e.Value()))
	}
	return res
}

// newRegistrar starts a fake registrar on network. answer gets the
// number (from 0) and the REGISTER and returns the response, or nil to
// stay silent; nil answer grants everything.
func newRegistrar(t *testing.T, network string, answer func(n int, req *sip.Request) *sip.Response) *registrar {
	t.Helper()
	if answer == nil {
		answer = func(_ int, req *sip.Request) *sip.Response { return accept(req) }
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("fake-registrar"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	r := &registrar{ua: ua, srv: srv, answer: answer, got: make(chan *sip.Request, 100)}
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		r.mu.Lock()
		n := len(r.regs)
		r.regs = append(r.regs, req)
		r.mu.Unlock()
		r.got <- req
		if res := answer(n, req); res != nil {
			_ = tx.Respond(res)
		}
	})
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		r.mu.Lock()
		r.options++
		r.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
		r.mu.Lock()
		h := r.message
		r.mu.Unlock()
		if h == nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil))
			return
		}
		h(req, tx)
	})
	var serve func() error
	switch network {
	case "udp":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.ln, r.addr = pc, pc.LocalAddr().String()
		serve = func() error { return srv.ServeUDP(pc) }
	default:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.ln, r.addr = ln, ln.Addr().String()
		serve = func() error { return srv.ServeTCP(ln) }
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := serve(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Logf("fake registrar: %v", err)
		}
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = r.ln.Close()
		_ = ua.Close()
		<-done
	})
	return r
}

// next waits for the next REGISTER.
func (r *registrar) next(t *testing.T, within time.Duration) *sip.Request {
	t.Helper()
	select {
	case req := <-r.got:
		return req
	case <-time.After(within):
		t.Fatalf("no REGISTER within %v", within)
		return nil
	}
}

// count is how many REGISTERs arrived.
func (r *registrar) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.regs)
}

// contactExpires is the expires param of req's Contact, -1 without one.
func contactExpires(req *sip.Request) int {
	c := req.Contact()
	if c == nil {
		return -1
	}
	v, ok := c.Params.Get("expires")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}
