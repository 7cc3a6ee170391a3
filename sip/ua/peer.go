package ua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/sip/siplog"
)

// Peer is one SIP identity on one local listener. Its methods are safe for
// concurrent use.
type Peer struct {
	log     *zap.Logger
	aor     sip.Uri // the identity: scheme, user, host only
	display string
	network string // "udp" or "tcp"
	conf    config

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	local  sip.Addr // the bound listener
	ln     io       // the listener, closed by Close

	ctx    context.Context // ends at Close: every loop of the peer watches it
	cancel context.CancelFunc
	wg     sync.WaitGroup // the peer's goroutines
	work   sync.WaitGroup // those of goLoop: Close waits for them before it closes the listener
	// serving counts the sipgo handlers running; after Close stopped the
	// transport (stopped, under mu) no new one starts, and Close waits for them.
	serving sync.WaitGroup
	stopped bool // guarded by mu
	// sipLog is what sipgo logs through; Close closes it.
	sipLog *closableLog
	// dropRequests: Close is under way; the UDP read filter drops requests.
	dropRequests atomic.Bool

	mu      sync.Mutex
	proxy   string // host:port every request goes to; "" sends to the target itself (peer to peer)
	cred    Credentials
	closing []func(ctx context.Context) // run by Close, last added first
	closed  bool

	handlersMu sync.RWMutex
	handlers   map[sip.RequestMethod]func(req *sip.Request, tx sip.ServerTransaction)
	dialogs    sync.Map // Call-ID -> func(req, tx): in-dialog requests to the peer (NOTIFY of a watch)

	// Each feature keeps its state in its own struct, in its own file.
	regs  registrations // register.go
	inbox inbox         // message.go
	pres  presenceState // presence.go, watch.go, p2p.go
	calls calls         // call.go, call_out.go, call_in.go
}

// io is what Close closes of the listener.
type io interface{ Close() error }

// config is what the options set.
type config struct {
	userAgent string
	display   string
	proxy     string
	cred      Credentials
	// heartbeat and offlineAfter: peer-to-peer liveness of watched peers.
	heartbeat, offlineAfter time.Duration
	// keepalive: CRLF (TCP) or OPTIONS (UDP) to the server; 0: off.
	keepalive time.Duration
	// authorize decides a peer-to-peer SUBSCRIBE from watcher (an AOR);
	// nil allows everyone.
	authorize func(watcher string) Decision
	timeout   time.Duration // of one transaction
	api       string        // base URL of the server's HTTP API (winfo.go)
	// publishExpires, subscribeExpires: the lifetimes asked (presence.go, watch.go).
	publishExpires, subscribeExpires time.Duration
	// mediaPort is the RTP port of our SDP (call.go); the SDK sends no media.
	mediaPort int
}

// Option configures a Peer.
type Option func(*config)

// WithUserAgent sets the User-Agent header (default "b2bua-ua").
func WithUserAgent(s string) Option { return func(c *config) { c.userAgent = s } }

// WithDisplayName sets the display name of From and Contact.
func WithDisplayName(s string) Option { return func(c *config) { c.display = s } }

// WithServer sends every request to addr (host:port), the registrar and
// presence server, without registering first (Register sets it too).
func WithServer(addr string) Option { return func(c *config) { c.proxy = addr } }

// WithCredentials sets how requests authenticate before Register is
// called (Register's options replace them).
func WithCredentials(cr Credentials) Option { return func(c *config) { c.cred = cr } }

// WithHeartbeat sets the peer-to-peer liveness check of watched peers: an
// OPTIONS every interval, and Offline after offlineAfter without an
// answer (defaults 30 s and 90 s).
func WithHeartbeat(interval, offlineAfter time.Duration) Option {
	return func(c *config) { c.heartbeat, c.offlineAfter = interval, offlineAfter }
}

// WithKeepalive sets how often the peer keeps its NAT binding to the
// server open: CRLF on TCP (RFC 5626 §4.4.1), OPTIONS on UDP. 0 turns it
// off; the default is 25 s.
func WithKeepalive(d time.Duration) Option { return func(c *config) { c.keepalive = d } }

// WithTransactionTimeout bounds one request's transaction (default 10 s).
func WithTransactionTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMediaPort sets the RTP port the peer's SDP offers and answers
// carry (default 40000). The SDK does signalling only: an application
// that sends media listens on this port itself.
func WithMediaPort(port int) Option { return func(c *config) { c.mediaPort = port } }

// Decision is a peer-to-peer watch authorization.
type Decision int

// Decisions: Allow answers the SUBSCRIBE and sends the state, Block
// rejects it with 403, Pending keeps it pending (NOTIFY without state).
const (
	Allow Decision = iota
	Block
	Pending
)

// WithAllowList lets only these AORs watch the peer directly (peer to
// peer); others are rejected with 403.
func WithAllowList(aors ...string) Option {
	set := map[string]bool{}
	for _, a := range aors {
		set[normalizeAOR(a)] = true
	}
	return func(c *config) {
		c.authorize = func(w string) Decision {
			if set[normalizeAOR(w)] {
				return Allow
			}
			return Block
		}
	}
}

// WithApprove decides each new direct watcher with fn (peer to peer).
func WithApprove(fn func(watcher string) Decision) Option {
	return func(c *config) { c.authorize = fn }
}

// New creates a peer for identity (sip:alice@example.com) listening on
// listen ("udp:127.0.0.1:0", "tcp:127.0.0.1:5070", or "127.0.0.1:0" for
// UDP).
func New(identity, listen string, log *zap.Logger, opts ...Option) (*Peer, error) {
	if log == nil {
		log = zap.NewNop()
	}
	var aor sip.Uri
	if err := sip.ParseUri(identity, &aor); err != nil || aor.User == "" || aor.Host == "" {
		return nil, fmt.Errorf("ua: identity %q: want sip:user@domain", identity)
	}
	aor = sip.Uri{Scheme: "sip", User: aor.User, Host: aor.Host, Port: aor.Port}
	c := config{userAgent: "b2bua-ua", heartbeat: 30 * time.Second, offlineAfter: 90 * time.Second,
		keepalive: 25 * time.Second, timeout: 10 * time.Second, mediaPort: defaultMediaPort}
	for _, o := range opts {
		o(&c)
	}
	network, addr := "udp", listen
	if n, a, ok := strings.Cut(listen, ":"); ok && (n == "udp" || n == "tcp") {
		network, addr = n, a
	}
	p := &Peer{log: log.With(zap.String("aor", aor.String())), aor: aor, display: c.display, network: network, conf: c,
		proxy: c.proxy, cred: c.cred, handlers: map[sip.RequestMethod]func(*sip.Request, sip.ServerTransaction){}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if err := p.start(addr); err != nil {
		p.cancel()
		return nil, err
	}
	return p, nil
}

func (p *Peer) start(addr string) error {
	// sipgo drops messages over 64 KiB in all; a larger limit lets the
	// peer answer a MESSAGE body over MaxMessageSize with 413.
	// sipgo logs through the peer's logger, never to the process's
	// default one: a library does not write to stderr on its own.
	p.sipLog = newClosableLog(siplog.New(p.log).Handler())
	sl := slog.New(p.sipLog)
	parser := sip.NewParser()
	parser.MaxMessageLength = 2 * MaxMessageSize
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(p.conf.userAgent), sipgo.WithUserAgentHostname(p.aor.Host),
		sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerReadFilter(p.readFilter), sip.WithTransportLayerLogger(sl)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sl),
			sip.WithTransactionLayerUnhandledResponseHandler(p.unhandledResponse)))
	if err != nil {
		return fmt.Errorf("ua: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sl))
	if err != nil {
		_ = ua.Close()
		return fmt.Errorf("ua: %w", err)
	}
	var serve func() error
	switch p.network {
	case "udp":
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			_ = ua.Close()
			return fmt.Errorf("ua: listen udp %s: %w", addr, err)
		}
		p.ln, p.local = pc, toAddr(pc.LocalAddr())
		serve = func() error { return srv.ServeUDP(pc) }
	case "tcp":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			_ = ua.Close()
			return fmt.Errorf("ua: listen tcp %s: %w", addr, err)
		}
		p.ln, p.local = ln, toAddr(ln.Addr())
		serve = func() error { return srv.ServeTCP(ln) }
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(sl), sipgo.WithClientHostname(p.local.IP.String()), sipgo.WithClientPort(p.local.Port))
	if err != nil {
		_ = p.ln.Close()
		_ = ua.Close()
		return fmt.Errorf("ua: %w", err)
	}
	p.ua, p.srv, p.client = ua, srv, client
	for _, m := range []sip.RequestMethod{sip.MESSAGE, sip.NOTIFY, sip.SUBSCRIBE, sip.OPTIONS,
		sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.UPDATE, sip.INFO, sip.PRACK} {
		srv.OnRequest(m, p.dispatch)
	}
	p.handle(sip.OPTIONS, p.answerOptions)
	p.initRegistrations()
	p.initInbox()
	p.initPresence()
	p.initCalls()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := serve(); err != nil && !errors.Is(err, net.ErrClosed) {
			p.log.Warn("listener stopped", zap.Error(err))
		}
	}()
	if p.network == "udp" {
		p.awaitServing()
	}
	return nil
}

// unhandledResponse notes a response no transaction waits for: a
// retransmission, or a provisional that sipgo's goroutines delivered after
// the final response. sipgo would log it on the process's default logger.
func (p *Peer) unhandledResponse(res *sip.Response) {
	if ce := p.log.Check(zap.DebugLevel, "response without a transaction"); ce != nil {
		ce.Write(zap.Int("status", res.StatusCode), zap.String("call_id", callIDOf(res)))
	}
}

func callIDOf(m sip.Message) string {
	if h := m.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// readFilter drops the requests a closing peer reads (see Close); the
// answers to its own requests pass.
func (p *Peer) readFilter(_ sip.TransportReadProps, data []byte) ([]byte, error) {
	if p.dropRequests.Load() && !bytes.HasPrefix(data, []byte("SIP/2.0 ")) {
		return nil, nil
	}
	return data, nil
}

// awaitServing waits until sipgo has taken the UDP listener into its
// connection pool: requests sent before would bind a second socket.
func (p *Peer) awaitServing() {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := p.ua.TransportLayer().GetConnection("udp", p.local.String()); err == nil && c != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func toAddr(a net.Addr) sip.Addr {
	host, port, _ := net.SplitHostPort(a.String())
	n, _ := strconv.Atoi(port)
	return sip.Addr{IP: net.ParseIP(host), Port: n, Hostname: host}
}

// AOR returns the peer's identity, e.g. "sip:alice@example.com".
func (p *Peer) AOR() string { return p.aor.String() }

// Addr returns the bound listener as host:port.
func (p *Peer) Addr() string { return p.local.String() }

// Network returns "udp" or "tcp".
func (p *Peer) Network() string { return p.network }

// handle sets the handler of out-of-dialog requests of method m. A
// handler must answer before it returns (sipgo ends the transaction).
func (p *Peer) handle(m sip.RequestMethod, h func(*sip.Request, sip.ServerTransaction)) {
	p.handlersMu.Lock()
	p.handlers[m] = h
	p.handlersMu.Unlock()
}

// dispatch sends a request to the dialog it belongs to (by Call-ID, when
// it has a To tag), else to the method's handler; 481 for an unknown
// dialog, 405 for a method the peer does not serve.
func (p *Peer) dispatch(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.serving.Add(1)
	p.mu.Unlock()
	defer p.serving.Done()
	if to := req.To(); to != nil {
		if _, tagged := to.Params.Get("tag"); tagged && req.Method != sip.OPTIONS {
			if h, ok := p.dialogs.Load(req.CallID().Value()); ok {
				h.(func(*sip.Request, sip.ServerTransaction))(req, tx)
				return
			}
			if req.Method == sip.ACK { // an ACK is never answered
				return
			}
			if req.Method != sip.MESSAGE {
				p.respond(tx, req, 481, "Call/Transaction Does Not Exist")
				return
			}
		}
	}
	p.handlersMu.RLock()
	h := p.handlers[req.Method]
	p.handlersMu.RUnlock()
	if h == nil {
		res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allow))
		_ = tx.Respond(res)
		return
	}
	h(req, tx)
}

// allow is what the peer serves (RFC 3261 §20.5).
const allow = "INVITE, ACK, CANCEL, BYE, UPDATE, INFO, PRACK, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY, PUBLISH"

// answerOptions answers an OPTIONS (a heartbeat or capability probe).
func (p *Peer) answerOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allow))
	res.AppendHeader(sip.NewHeader("Accept", "application/pidf+xml, text/plain"))
	res.AppendHeader(sip.NewHeader("Allow-Events", "presence"))
	_ = tx.Respond(res)
}

// respond answers req with a bodiless response.
func (p *Peer) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		p.log.Debug("respond", zap.Int("status", code), zap.Error(err))
	}
}

// onClose adds f to what Close runs (last added first), with the context
// that bounds Close. It returns false once the peer is closed.
func (p *Peer) onClose(f func(ctx context.Context)) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.closing = append(p.closing, f)
	return true
}

// goLoop runs f on a goroutine that Close waits for. It returns false
// (and f does not run) once Close has begun stopping the loops.
func (p *Peer) goLoop(f func()) bool {
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		return false
	}
	p.wg.Add(1)
	p.work.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		defer p.work.Done()
		f()
	}()
	return true
}

// Close hangs up every call (BYE), then ends every subscription,
// publication and registration cleanly (unSUBSCRIBE, PUBLISH Expires: 0,
// REGISTER Expires: 0), each bounded by ctx, then stops the listener. It is safe to call more than once.
func (p *Peer) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	closing := p.closing
	p.closing = nil
	p.mu.Unlock()
	p.hangupAll(ctx) // first: a BYE still goes through the registration's server
	for i := len(closing) - 1; i >= 0; i-- {
		closing[i](ctx)
	}
	p.mu.Lock()
	p.cancel() // under mu: no goLoop starts after it
	p.mu.Unlock()
	// A request still in flight after the listener closed would make
	// sipgo open (and leak) a new socket: let every loop end first.
	// From here on, requests are dropped as they are read: sipgo would
	// answer one that arrives while its listener is going away from a
	// socket it opens for the purpose and never closes.
	p.dropRequests.Store(true)
	p.work.Wait()
	// Nor may an answer: sipgo would open a socket for a response whose
	// listener is gone. Requests that arrive from now on go unanswered
	// (their senders time out, as with a peer that is gone), and no
	// handler logs or answers after Close returns.
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.serving.Wait()
	// The listener's reader must be gone before sipgo's pool is cleared:
	// a datagram it is still handling would find no connection to answer
	// from and make sipgo open one that nothing closes.
	err := p.ln.Close()
	p.wg.Wait() // the serving goroutine ends with the listener's reader
	_ = p.srv.Close()
	_ = p.ua.Close()
	if p.network == "udp" {
		// A request read just before dropRequests was set may still be on
		// its way through sipgo's transaction layer (one goroutine each),
		// and its answer opens a socket if the listener is gone. Give those
		// a moment and clear sipgo's pool once more, which closes it.
		time.Sleep(20 * time.Millisecond)
		_ = p.ua.TransportLayer().Close()
	}
	p.sipLog.close() // sipgo's connection readers may log for a while yet
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// normalizeAOR reduces s to sip:user@host for comparisons; a bare "bob"
// stays "bob".
func normalizeAOR(s string) string {
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil || u.Host == "" {
		return strings.ToLower(strings.TrimSpace(s))
	}
	return "sip:" + u.User + "@" + strings.ToLower(u.Host)
}
