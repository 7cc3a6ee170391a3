package edge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
)

// clientPort is the edge's outbound.Port: it sends actors' requests and
// delivers each result to the actor as a message.
//
// Two paths, one contract:
//   - Non-INVITE requests to an IP address over UDP take the stateless
//     path (client_udp.go): our own Via branch, written from the edge's
//     listener, retransmitted and timed out by one timer goroutine for all
//     of them, responses matched by branch in the UDP read filter. It
//     exists for NOTIFY fan-out (10,000 watchers of one presentity at
//     once), which sipgo's transaction per request cannot carry: measured
//     in DEPENDENCIES.md, that design collapses at about 25,000/s on two
//     cores, the stateless one reaches about 56,000/s.
//   - INVITE (and CANCEL and ACK, which belong to an INVITE transaction),
//     TCP, destinations that need resolving, and requests too large for
//     UDP go through sipgo client transactions: each in flight has one
//     goroutine that reads its transaction (sipgo passes responses up on
//     an unbuffered channel, so someone must read it).
//
// At most Config.ClientConcurrency requests are in flight on both paths
// together, and at most maxTransactions of them on the transaction path;
// past that Send answers outbound.ErrUnavailable at once (503 upstream),
// the same shedding the edge does with MaxInFlight. A contact that never
// answers holds one slot for ClientTimeout, not a worker that others queue
// behind.
//
// UDP requests leave from the edge's own listener (so a contact behind a
// NAT, which registered through that listener, accepts them, RFC 5626
// §3.3), whose socket already has Config.UDPBuffer of receive buffer; TCP
// requests reuse the connection the contact registered over.
type clientPort struct {
	s        *Server
	client   *sipgo.Client
	sl       *udpClient
	inflight atomic.Int64 // requests in flight on both paths, at most limit
	limit    int64
	txs      atomic.Int64    // of which on the transaction path, at most maxTransactions
	ctx      context.Context // cancelled by close: in-flight requests end ErrUnavailable
	cancel   context.CancelFunc
	sentBy   sync.Map // *udpListener → the host of our Via from it (formatting the IP allocates)

	mu     sync.RWMutex // guards closed against wg.Add after close's Wait
	closed bool
	wg     sync.WaitGroup
}

func newClientPort(s *Server, client *sipgo.Client) *clientPort {
	ctx, cancel := context.WithCancel(context.Background())
	p := &clientPort{s: s, client: client, limit: int64(s.conf.ClientConcurrency), ctx: ctx, cancel: cancel}
	p.sl = newUDPClient(s.conf.ClientTimeout, p.release, s.log, s.metrics)
	return p
}

// maxTransactions bounds the requests in flight through sipgo client
// transactions: each holds a goroutine and a transaction, and DEPENDENCIES.md
// measured that design clean only up to about 22,000/s. The stateless path
// has only ClientConcurrency for a bound.
const maxTransactions = 4096

// acquire takes an in-flight slot; false past ClientConcurrency.
func (p *clientPort) acquire() bool {
	if p.inflight.Add(1) > p.limit {
		p.inflight.Add(-1)
		return false
	}
	return true
}

func (p *clientPort) release() { p.inflight.Add(-1) }

// Port returns the edge's client port, which delivers results through sys.
// Plug it into actors.System.Outbound after Start and unplug it (Set(nil))
// before Close; Close ends the requests still in flight with
// outbound.ErrUnavailable, and Sends after it get that at once.
func (s *Server) Port(sys *actor.ActorSystem) outbound.Port {
	return &boundPort{p: s.port, root: sys.Root}
}

// boundPort is the client port delivering through one actor system.
type boundPort struct {
	p    *clientPort
	root *actor.RootContext
}

// Send implements outbound.Port. It never blocks.
func (b *boundPort) Send(req *sip.Request, replyTo *actor.PID, id uint64) {
	p, root := b.p, b.root
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		root.Send(replyTo, &outbound.Result{ID: id, Err: outbound.ErrUnavailable})
		return
	}
	if !p.acquire() {
		root.Send(replyTo, &outbound.Result{ID: id, Err: fmt.Errorf("%w: %d requests in flight", outbound.ErrUnavailable, p.limit)})
		return
	}
	if p.sendStateless(req, root, replyTo, id) {
		return
	}
	if req.IsAck() {
		err := p.ack(req)
		p.release()
		root.Send(replyTo, &outbound.Result{ID: id, Err: err})
		return
	}
	if p.txs.Add(1) > maxTransactions {
		p.txs.Add(-1)
		p.release()
		root.Send(replyTo, &outbound.Result{ID: id, Err: fmt.Errorf("%w: %d transactions in flight", outbound.ErrUnavailable, maxTransactions)})
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.txs.Add(-1)
		defer p.release()
		res, err := p.transact(req, func(r *sip.Response) { root.Send(replyTo, &outbound.Provisional{ID: id, Response: r}) })
		root.Send(replyTo, &outbound.Result{ID: id, Response: res, Err: err})
	}()
}

// sendStateless sends req on the stateless path when it belongs there
// and reports whether it did. Otherwise req is unchanged, but for the
// Max-Forwards and Content-Length of a request too large for UDP, which
// the transaction path would add anyway.
func (p *clientPort) sendStateless(req *sip.Request, root *actor.RootContext, replyTo *actor.PID, id uint64) bool {
	switch req.Method {
	case sip.INVITE, sip.ACK, sip.CANCEL:
		return false
	}
	tp, dst := target(req)
	if !strings.EqualFold(tp, "udp") || req.CallID() == nil || req.CSeq() == nil || req.From() == nil || req.To() == nil {
		return false // sipgo fills the missing headers in
	}
	ap, err := netip.ParseAddrPort(dst)
	if err != nil {
		return false // a name: sipgo resolves it
	}
	l, err := p.s.udpForAddr(ap.Addr(), true)
	if err != nil {
		return false
	}
	if la := l.conn.LocalAddr().(*net.UDPAddr); !la.IP.IsUnspecified() && (la.IP.To4() != nil) != ap.Addr().Unmap().Is4() {
		// No listener of dst's family: a send would fail in the sender,
		// unseen, and end as a timeout; sipgo reports it as ErrTransport.
		return false
	}
	p.complete(req)
	return p.sl.send(req, p.via(req, l), l.sender, net.UDPAddrFromAddrPort(ap), root, replyTo, id)
}

// target is req.Transport() and req.Destination() at less cost. Unless
// they were set, sipgo computes both at each call from Via, Route and the
// Request-URI, and allocates for each of those headers it looks up and
// misses (a Via, a Route, the lowered name of every other header on the
// way) and in fmt.Sprintf: a dozen allocations per request an actor
// builds, which has neither header. For such a request they come from the
// Request-URI here, by sipgo's rules; with either header, from sipgo.
func target(req *sip.Request) (transport, dest string) {
	transport, dest = req.MessageData.Transport(), req.MessageData.Destination()
	if transport != "" && dest != "" {
		return transport, dest
	}
	if has(req, "via", "v", "route") {
		return req.Transport(), req.Destination()
	}
	u := &req.Recipient
	if transport == "" { // sip.Request.Transport without Via or Route
		transport = sip.DefaultProtocol
		if u.UriParams != nil {
			if t, ok := u.UriParams.Get("transport"); ok && t != "" {
				transport = upperTransport(t)
			}
		}
		if u.IsEncrypted() {
			switch transport {
			case "TCP":
				transport = "TLS"
			case "WS":
				transport = "WSS"
			}
		}
	}
	if dest == "" { // sip.Request.Destination without Route
		port := u.Port
		if port <= 0 {
			port = defaultPort(transport)
		}
		var b strings.Builder
		var digits [20]byte
		b.Grow(len(u.Host) + 6)
		b.WriteString(u.Host)
		b.WriteByte(':')
		b.Write(strconv.AppendInt(digits[:0], int64(port), 10))
		dest = b.String()
	}
	return transport, dest
}

// upperTransport is strings.ToUpper(t), without allocating for the
// transports there are.
func upperTransport(t string) string {
	for _, name := range [...]string{"UDP", "TCP", "TLS", "WS", "WSS"} {
		if strings.EqualFold(t, name) {
			return name
		}
	}
	return strings.ToUpper(t)
}

// defaultPort is sip.DefaultPort, which lowers the transport's name (an
// allocation) to compare it.
func defaultPort(transport string) int {
	switch {
	case strings.EqualFold(transport, "tls"):
		return sip.DefaultTlsPort
	case strings.EqualFold(transport, "udp"):
		return sip.DefaultUdpPort
	case strings.EqualFold(transport, "ws"):
		return sip.DefaultWsPort
	case strings.EqualFold(transport, "wss"):
		return sip.DefaultWssPort
	}
	return sip.DefaultTcpPort // tcp, and anything else
}

// has reports whether m has a header of one of the names (lower-case;
// any case in m, as sipgo compares them): without the allocations of a
// sipgo lookup that misses.
func has(m *sip.Request, names ...string) bool {
	for _, h := range m.Headers() {
		for _, n := range names {
			if asciiFold(h.Name(), n) {
				return true
			}
		}
	}
	return false
}

// transact runs one client transaction to its final response, an error or
// the port's own deadline: sipgo's ctx bounds only connection setup, and
// its Timer F is 32 s whatever we need. An INVITE that got a provisional
// response may ring longer: its deadline moves to Timer C (RFC 3261
// §16.6 step 11: more than 3 minutes) at each provisional.
func (p *clientPort) transact(req *sip.Request, provisional func(*sip.Response)) (*sip.Response, error) {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	deadline := time.NewTimer(p.s.conf.ClientTimeout)
	defer deadline.Stop()
	tx, err := p.client.TransactionRequest(ctx, req, p.build)
	if err != nil {
		return nil, p.classify(ctx, err)
	}
	// A completed non-INVITE UDP transaction otherwise lingers 32 s
	// (Timer K/D): memory and CPU at 10,000/s (DEPENDENCIES.md).
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				if req.IsInvite() {
					deadline.Reset(timerC)
				}
				provisional(res)
				continue
			}
			return res, nil
		case <-tx.Done():
			return nil, p.classify(ctx, tx.Err())
		case <-deadline.C:
			return nil, fmt.Errorf("%w: no final response in %v", outbound.ErrTimeout, p.s.conf.ClientTimeout)
		case <-ctx.Done():
			return nil, p.classify(ctx, ctx.Err())
		}
	}
}

// timerC is how long an INVITE may ring after a provisional response
// before the port gives up on it (RFC 3261 Timer C, more than 3 min).
const timerC = 181 * time.Second

// ack sends an ACK for a 2xx (RFC 3261 §13.2.2.4): a transaction of its
// own that gets no response, so it is written once and answered at once.
func (p *clientPort) ack(req *sip.Request) error {
	if err := p.client.WriteRequest(req, p.build); err != nil {
		return fmt.Errorf("%w: %w", outbound.ErrTransport, err)
	}
	return nil
}

// classify maps what ended a transaction to the port's errors.
func (p *clientPort) classify(ctx context.Context, err error) error {
	switch {
	case p.ctx.Err() != nil:
		return outbound.ErrUnavailable
	case errors.Is(err, sip.ErrTransactionTimeout), errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil:
		return fmt.Errorf("%w: %w", outbound.ErrTimeout, err)
	default:
		return fmt.Errorf("%w: %w", outbound.ErrTransport, err)
	}
}

// build completes an actor's request for sending (a sipgo
// ClientRequestOption): our Via with a fresh branch (RFC 3261 §8.1.1.7)
// and rport (RFC 3581), Max-Forwards, Content-Length, and for UDP the
// listener it leaves from.
func (p *clientPort) build(_ *sipgo.Client, req *sip.Request) error {
	var l *udpListener
	if sip.NetworkToLower(req.Transport()) == "udp" {
		var err error
		if l, err = p.s.udpFor(req.Destination()); err != nil {
			return err
		}
		a := l.conn.LocalAddr().(*net.UDPAddr)
		req.Laddr = sip.Addr{IP: a.IP, Port: a.Port, Hostname: a.IP.String()}
	}
	if req.IsCancel() && req.Via() != nil { // a CANCEL carries its INVITE's Via (RFC 3261 §9.1)
		p.complete(req)
		return nil
	}
	via := p.via(req, l)
	via.Params.Add("branch", sip.GenerateBranchN(16))
	req.PrependHeader(via)
	p.complete(req)
	return nil
}

// via is our Via for req, without a branch: sent-by is l's address for
// UDP; with l nil (TCP) sipgo fills it from the connection.
func (p *clientPort) via(req *sip.Request, l *udpListener) *sip.ViaHeader {
	tp, _ := target(req)
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: tp, Params: sip.NewParams()}
	via.Params.Add("rport", "")
	if l != nil {
		via.Host, via.Port = p.sentByHost(l), l.conn.LocalAddr().(*net.UDPAddr).Port
	}
	return via
}

// sentByHost is the host of our Via on requests sent from l: its IP, or
// the domain when l is bound to every address (sent-by must be reachable,
// RFC 3261 §18.1.1). Made once per listener.
func (p *clientPort) sentByHost(l *udpListener) string {
	if h, ok := p.sentBy.Load(l); ok {
		return h.(string)
	}
	a := l.conn.LocalAddr().(*net.UDPAddr)
	h := a.IP.String()
	if a.IP.IsUnspecified() {
		h = p.s.conf.Domain
	}
	p.sentBy.Store(l, h)
	return h
}

// complete adds Max-Forwards and Content-Length when req lacks them.
func (p *clientPort) complete(req *sip.Request) {
	if !has(req, "max-forwards") || req.MaxForwards() == nil { // has: a sipgo lookup that misses allocates
		mf := sip.MaxForwardsHeader(70)
		req.AppendHeader(&mf)
	}
	switch { // a MUST on TCP (RFC 3261 §20.14)
	case !has(req, "content-length", "l"):
		n := sip.ContentLengthHeader(len(req.Body())) // what SetBody(req.Body()) appends, without its lookup that misses
		req.AppendHeader(&n)
	case req.ContentLength() == nil:
		req.SetBody(req.Body())
	}
}

// udpFor picks the UDP listener to send to dst from: one of dst's address
// family, else the first.
func (s *Server) udpFor(dst string) (*udpListener, error) {
	host, _, _ := net.SplitHostPort(dst)
	ip, err := netip.ParseAddr(host)
	return s.udpForAddr(ip, err == nil && ip.Zone() == "") // net.ParseIP, which this was, took no zone
}

// udpForAddr is udpFor of an address already parsed; ok false: dst is a
// name (the first listener).
func (s *Server) udpForAddr(ip netip.Addr, ok bool) (*udpListener, error) {
	var first *udpListener
	for _, a := range s.addrs {
		if a.Network != "udp" {
			continue
		}
		l := s.udp[a.Addr]
		if first == nil {
			first = l
		}
		la := l.conn.LocalAddr().(*net.UDPAddr)
		if ok && ip.Unmap().Is4() == (la.IP.To4() != nil || la.IP.IsUnspecified()) {
			return l, nil
		}
	}
	if first == nil {
		return nil, errors.New("edge: no UDP listener to send from")
	}
	return first, nil
}

// close ends the port: Sends from now on get ErrUnavailable, and so do the
// requests in flight, whose transactions are terminated and whose
// stateless entries are dropped.
func (p *clientPort) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.sl.close()
}

// strayResponse takes the responses no client transaction matches
// (retransmitted 200s after Terminate, answers past our deadline): sipgo
// would log each at INFO.
func (s *Server) strayResponse(res *sip.Response) {
	s.metrics.stray.Inc()
	if cs := res.CSeq(); cs != nil && cs.MethodName == sip.INVITE && res.IsSuccess() && s.dialogs.Resend(res) {
		return // a 2xx whose ACK was lost: its leg ACKs again
	}
	if ce := s.log.Check(zap.DebugLevel, "stray response"); ce != nil {
		ce.Write(zap.Int("status", res.StatusCode), zap.String("call_id", callIDOf(res)))
	}
}

func callIDOf(m sip.Message) string {
	if c := m.CallID(); c != nil {
		return c.Value()
	}
	return ""
}
