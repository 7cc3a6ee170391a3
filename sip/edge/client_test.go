package edge_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
)

// portRequest is an out-of-dialog OPTIONS to the UA at addr, as an actor
// builds it (the port adds Via and Max-Forwards).
func portRequest(addr, callID string) *sip.Request {
	host, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", User: "ua", Host: host, Port: p})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", Host: "localhost"}, Params: sip.NewParams()}
	from.Params.Add("tag", "port")
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "ua", Host: host}})
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	req.SetDestination(addr)
	req.SetTransport("UDP")
	return req
}

// TestPort sends through the client port as an actor does: a provisional
// and then the final response come back as messages; a UA that never
// answers is ErrTimeout after ClientTimeout; past ClientConcurrency a Send
// is ErrUnavailable at once.
func TestPort(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := startServerOpts(t, options{edit: func(c *edge.Config, _ *actors.System, _ *actors.Routers) {
		c.ClientTimeout, c.ClientConcurrency = timeout, 2
	}})
	got := make(chan any, 16)
	pid := s.sys.Actors.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *outbound.Result, *outbound.Provisional:
			got <- m
		}
	}))
	t.Cleanup(func() { _ = s.sys.Actors.Root.StopFuture(pid).Wait() })
	port := s.edge.Port(s.sys.Actors)
	ua := s.dial(t, "udp") // connected to the listener the port sends from
	next := func() any {
		select {
		case m := <-got:
			return m
		case <-time.After(3 * timeout):
			t.Fatal("no message")
			return nil
		}
	}

	port.Send(portRequest(ua.LocalAddr(), "port-1"), pid, 1)
	req, err := ua.Read(time.Second)
	if err != nil || !strings.HasPrefix(req, "OPTIONS sip:ua@") || len(siptest.Header(req, "Max-Forwards")) != 1 {
		t.Fatalf("UA got: %v\n%s", err, req)
	}
	// One at a time: sipgo may hand a 1xx and a final response that
	// arrive back to back to the transaction in either order.
	if err := ua.Send(reply(req, "100 Trying")); err != nil {
		t.Fatal(err)
	}
	if p, ok := next().(*outbound.Provisional); !ok || p.ID != 1 || p.Response.StatusCode != 100 {
		t.Fatalf("want the 100 first, got %+v", p)
	}
	if err := ua.Send(reply(req, "200 OK")); err != nil {
		t.Fatal(err)
	}
	if r, ok := next().(*outbound.Result); !ok || r.ID != 1 || r.Err != nil || r.Response.StatusCode != 200 {
		t.Fatalf("want the 200, got %+v", r)
	}

	start := time.Now()
	for id := uint64(2); id <= 4; id++ { // two slots: the third is refused
		port.Send(portRequest(ua.LocalAddr(), fmt.Sprintf("port-%d", id)), pid, id)
	}
	if r, ok := next().(*outbound.Result); !ok || r.ID != 4 || !errors.Is(r.Err, outbound.ErrUnavailable) {
		t.Fatalf("third Send: %+v", r)
	}
	for range 2 {
		r, ok := next().(*outbound.Result)
		if !ok || !errors.Is(r.Err, outbound.ErrTimeout) || time.Since(start) < timeout {
			t.Fatalf("silent UA: %+v after %v", r, time.Since(start))
		}
	}
}
