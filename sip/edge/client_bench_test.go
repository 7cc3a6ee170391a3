package edge_test

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/bench"
	"github.com/b2bua/b2bua/sip/edge"
)

// pidfBody is a PIDF document of about 400 bytes, the size of a presence
// NOTIFY's body.
var pidfBody = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@example.org">
<tuple id="t8a1c2b3"><status><basic>open</basic></status>
<contact priority="0.8">sip:alice@192.0.2.10:5060;transport=udp</contact>
<note xml:lang="en">Available for calls and chat, back at the desk after lunch</note>
<timestamp>2026-11-29T22:00:00Z</timestamp></tuple></presence>`)

// notifyRequest is an in-dialog NOTIFY to the watcher at addr, as the
// presence actor builds it (the port adds Via and Max-Forwards).
func notifyRequest(addr string, n uint64) *sip.Request {
	host, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	req := sip.NewRequest(sip.NOTIFY, sip.Uri{Scheme: "sip", User: "watcher", Host: host, Port: p})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "example.org"}, Params: sip.NewParams()}
	from.Params.Add("tag", "pres-7f3a")
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "watcher", Host: "example.org"}, Params: sip.NewParams()}
	to.Params.Add("tag", "w-"+strconv.FormatUint(n, 36))
	cid := sip.CallIDHeader("sub-" + strconv.FormatUint(n, 36) + "@example.org")
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 2, MethodName: sip.NOTIFY})
	req.AppendHeader(sip.NewHeader("Event", "presence"))
	req.AppendHeader(sip.NewHeader("Subscription-State", "active;expires=3600"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/pidf+xml"))
	req.SetBody(pidfBody)
	req.SetDestination(addr)
	req.SetTransport("UDP")
	return req
}

// resultCounter is an actor that counts the Results it gets and hands a
// token back to window for each.
type resultCounter struct {
	done, failed atomic.Int64
	window       chan struct{}
}

func (c *resultCounter) receive(ctx actor.Context) {
	if r, ok := ctx.Message().(*outbound.Result); ok {
		if r.Err != nil || r.Response.StatusCode != 200 {
			c.failed.Add(1)
		}
		c.done.Add(1)
		if c.window != nil {
			<-c.window
		}
	}
}

// BenchmarkPortUDP sends NOTIFYs with a 400 B PIDF body through the client
// port to an in-process stateless UDP responder (bench.EchoServer), both
// on this machine. window keeps at most 1,024 in flight and reports the
// cost per request (ns/op, allocs/op of the whole process: port, actor
// delivery, responder); burst sends 10,000 at once, as a NOTIFY fan-out to
// every watcher of one presentity does, and reports how many complete per
// second, and how many requests were retransmitted per burst (the
// transaction path does not count them: 0 there); rate25000 offers the
// fan-out target, 25,000 NOTIFY/s, for 2 s.
func BenchmarkPortUDP(b *testing.B) {
	echo, err := bench.ListenEcho("udp", "127.0.0.1:0", bench.EchoConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = echo.Close() }()
	dst := echo.Addr().String()
	reg := prometheus.NewRegistry()
	s := startServerOpts(b, options{metrics: edge.NewMetrics(reg), edit: func(c *edge.Config, _ *actors.System, _ *actors.Routers) {
		c.ClientConcurrency = 65536
	}})
	port := s.edge.Port(s.sys.Actors)
	root := s.sys.Actors.Root
	spawn := func(c *resultCounter) *actor.PID {
		pid := root.Spawn(actor.PropsFromFunc(c.receive))
		b.Cleanup(func() { _ = root.StopFuture(pid).Wait() })
		return pid
	}
	var n uint64

	b.Run("window", func(b *testing.B) {
		c := &resultCounter{window: make(chan struct{}, 1024)}
		pid := spawn(c)
		b.ReportAllocs()
		sent := 0
		for b.Loop() {
			c.window <- struct{}{}
			n++
			port.Send(notifyRequest(dst, n), pid, n)
			sent++
		}
		waitCount(b, &c.done, sent)
		if f := c.failed.Load(); f > 0 {
			b.Fatalf("%d of %d failed", f, sent)
		}
	})

	b.Run("rate25000", func(b *testing.B) {
		c := &resultCounter{}
		benchRate(b, port, spawn(c), c, dst, &n, 25000, 2*time.Second)
	})

	b.Run("burst10000", func(b *testing.B) {
		const burst = 10000
		c := &resultCounter{}
		pid := spawn(c)
		reqs := make([]*sip.Request, burst)
		var total time.Duration
		rounds := 0
		retransmits := counterValue(b, reg, "b2bua_sip_client_retransmissions_total")
		for b.Loop() {
			b.StopTimer()
			for i := range reqs {
				n++
				reqs[i] = notifyRequest(dst, n)
			}
			base := c.done.Load()
			b.StartTimer()
			start := time.Now()
			for i, r := range reqs {
				port.Send(r, pid, n-uint64(burst-i))
			}
			waitCount(b, &c.done, int(base)+burst)
			total += time.Since(start)
			rounds++
		}
		if f := c.failed.Load(); f > 0 {
			b.Fatalf("%d of %d failed", f, rounds*burst)
		}
		b.ReportMetric(float64(rounds*burst)/total.Seconds(), "req/s")
		// Datagrams the kernel dropped (a socket buffer overrun by the
		// burst) come back as Timer E retransmissions, 500 ms later.
		retransmits = counterValue(b, reg, "b2bua_sip_client_retransmissions_total") - retransmits
		b.ReportMetric(retransmits/float64(rounds), "retransmits/burst")
	})
}

// benchRate sends NOTIFYs at rate per second for dur, then waits for the
// last result, and reports the rate achieved over the whole time and how
// long after the last Send the last result came (drain-ms): a port that
// keeps up drains in milliseconds, one that falls behind in seconds.
func benchRate(b *testing.B, port outbound.Port, pid *actor.PID, c *resultCounter, dst string, n *uint64, rate int, dur time.Duration) {
	var sent int
	var total, drain time.Duration
	for b.Loop() {
		base := int(c.done.Load())
		start := time.Now()
		i := 0
		for time.Since(start) < dur {
			for due := int(time.Since(start).Seconds() * float64(rate)); i < due; i++ {
				*n++
				port.Send(notifyRequest(dst, *n), pid, *n)
			}
			time.Sleep(time.Millisecond)
		}
		last := time.Now()
		waitCount(b, &c.done, base+i)
		drain += time.Since(last)
		total += time.Since(start)
		sent += i
	}
	// Failures are a figure here, not a fault: the transaction path
	// times out past its capacity (TestPortUDPBurst guards the port).
	b.ReportMetric(float64(c.failed.Load())/float64(b.N), "failed/op")
	b.ReportMetric(float64(sent)/total.Seconds(), "req/s")
	b.ReportMetric(float64(drain.Milliseconds())/float64(b.N), "drain-ms")
}

// waitCount waits until c reaches want, for at most a minute.
func waitCount(tb testing.TB, c *atomic.Int64, want int) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for c.Load() < int64(want) {
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d results after a minute", c.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
