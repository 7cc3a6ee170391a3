package edge

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/actors/call"
	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/messaging"
	"github.com/b2bua/b2bua/actors/presence"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/sip/siplog"
)

// udpListener is a UDP socket we serve and the sender of its stateless
// responses.
type udpListener struct {
	conn      net.PacketConn
	sender    *udpSender
	deadlines *deadlines // ReplyTimeout
	// forwards is the deadline queue of requests an actor forwards to
	// contacts (a MESSAGE: ReplyTimeout plus ClientTimeout, as onTx gives
	// them); a queue of its own keeps each FIFO in due order.
	forwards *deadlines
}

// Listener is one address the edge listens on, e.g. {udp 0.0.0.0:5060}.
type Listener struct {
	Network string // "udp" or "tcp"
	Addr    string // host:port
}

func (l Listener) String() string { return l.Network + ":" + l.Addr }

// ParseListener parses "udp:HOST:PORT" or "tcp:HOST:PORT".
func ParseListener(s string) (Listener, error) {
	network, addr, ok := strings.Cut(s, ":")
	network = strings.ToLower(network)
	if !ok || (network != "udp" && network != "tcp") {
		return Listener{}, fmt.Errorf("listener %q: want udp:HOST:PORT or tcp:HOST:PORT", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Listener{}, fmt.Errorf("listener %q: %w", s, err)
	}
	return Listener{Network: network, Addr: addr}, nil
}

// Config is the edge's configuration. The yaml tags are its keys at the top
// level of the server's configuration file ("-": not configurable there).
type Config struct {
	Domain  string     `yaml:"domain"`  // the SIP domain served; AORs of other domains get 403
	Aliases []string   `yaml:"aliases"` // more names of the same domain (and Request-URI hosts)
	Listen  []Listener `yaml:"-"`
	// ReplyTimeout bounds the wait for an actor's reply, on both paths;
	// past it the edge answers 500 (ErrNoReply) and drops the late reply.
	ReplyTimeout time.Duration `yaml:"-"`
	// ClientTimeout bounds an outbound request of the client port (and a
	// forwarded OPTIONS): no final response by then is outbound.ErrTimeout
	// (408). Default 64*T1 = 32 s, RFC 3261 Timer F.
	ClientTimeout time.Duration `yaml:"client_timeout"`
	// ClientConcurrency bounds the outbound requests of the client port in
	// flight; past it Send answers outbound.ErrUnavailable at once (503).
	// Default 65536: a NOTIFY fan-out to 10,000 watchers of one presentity
	// must not be shed, and a request on the stateless UDP path costs a
	// table slot and its datagram (about 1 KB), no goroutine. Requests
	// through sipgo transactions (INVITE, TCP) cost a goroutine each and
	// are bounded further, by maxTransactions.
	ClientConcurrency int `yaml:"client_concurrency"`
	// UDPBuffer is the socket receive and send buffer size, in bytes.
	UDPBuffer int `yaml:"-"`
	// UserAgent is the Server and User-Agent header value.
	UserAgent string `yaml:"-"`
	// Auth authenticates requests; nil lets everything through.
	Auth *Auth `yaml:"-"`
	// MaxInFlight bounds the requests handed to actors and not yet
	// answered. Past it the edge answers 503 with Retry-After at once,
	// which costs a fraction of processing: overload degrades into 503s
	// instead of growing queues, retransmissions and a collapse. A quarter
	// of it (at least 1) at most goes to requests forwarded to a contact
	// (an OPTIONS to a user), which wait up to ClientTimeout each: past
	// that they get the same 503, and REGISTER keeps the rest.
	MaxInFlight int `yaml:"max_inflight"`
	// CallSetup bounds how long an INVITE's transaction waits for its
	// call's final answer (the call's own no-answer time is shorter);
	// default 190 s, past RFC 3261's Timer C (3 min).
	CallSetup time.Duration `yaml:"-"`
	// CallLimit bounds the INVITEs being set up (not yet finally
	// answered); past it an INVITE gets 503. Default 20000.
	CallLimit int `yaml:"call_limit"`
	// Outbound says calls to other domains are routed (to the call
	// kind's outbound proxy); false: they get 404.
	Outbound bool `yaml:"-"`
}

// DefaultConfig is domain localhost, a 5 s reply timeout, 4 MiB UDP socket
// buffers, User-Agent b2bua, 5000 requests in flight, a 32 s client
// timeout and 65536 outbound requests in flight; no listener.
func DefaultConfig() Config {
	return Config{Domain: "localhost", ReplyTimeout: 5 * time.Second, UDPBuffer: 4 << 20, UserAgent: "b2bua", MaxInFlight: 5000,
		ClientTimeout: 32 * time.Second /* 64*T1, RFC 3261 Timer F */, ClientConcurrency: 65536,
		CallSetup: 190 * time.Second, CallLimit: 20000}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Domain == "" {
		return errors.New("edge: domain is empty")
	}
	if len(c.Listen) == 0 {
		return errors.New("edge: no listener")
	}
	return nil
}

// Server is the SIP edge.
type Server struct {
	conf    Config
	log     *zap.Logger
	reg     *registrar.Router
	pres    *presence.Router
	msgs    *messaging.Router
	calls   *call.Router
	dialogs *dialog.Registry
	metrics *Metrics

	inflight atomic.Int64  // requests with an actor, not yet answered
	slowAuth chan struct{} // slots for UDP requests whose verification may block
	// authFails sums failed authentications into one info line per 10 s.
	authFails *auth.FailureSummary
	// forwarding counts the admitted requests forwarded to a contact, at
	// most forwardLimit (MaxInFlight/4): they are part of inflight too.
	forwarding   atomic.Int64
	forwardLimit int64
	// calling counts the INVITEs whose call has not answered them yet (a
	// ringing call holds its transaction), at most callLimit; they are
	// not in inflight, so ringing phones cannot take REGISTER's share.
	calling   atomic.Int64
	callLimit int64
	outbound  bool // calls to other domains go to an outbound proxy (else 404)
	acks      acks // 2xx responses waiting for their ACK

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	port   *clientPort // what Port hands to actors
	parser *sip.Parser
	hosts  map[string]bool // Request-URI hosts we answer for
	server sip.Header

	// Set in Start before any listener serves, read-only afterwards
	// (udpFor reads udp without a lock).
	udp       map[string]*udpListener
	closers   []func() error
	addrs     []Listener
	local     []string // host:port pairs that reach us (localHostPorts): Forward.Local
	contacts  sync.Map // network → our Contact URI for dialogs (contactFor)
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New builds the edge; Start opens the listeners.
func New(c Config, log *zap.Logger, routers actors.Routers, m *Metrics) (*Server, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d := DefaultConfig()
	if c.ReplyTimeout <= 0 {
		c.ReplyTimeout = d.ReplyTimeout
	}
	if c.ClientTimeout <= 0 {
		c.ClientTimeout = d.ClientTimeout
	}
	if c.ClientConcurrency <= 0 {
		c.ClientConcurrency = d.ClientConcurrency
	}
	if c.UDPBuffer <= 0 {
		c.UDPBuffer = d.UDPBuffer
	}
	if c.UserAgent == "" {
		c.UserAgent = d.UserAgent
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.CallSetup <= 0 {
		c.CallSetup = d.CallSetup
	}
	if c.CallLimit <= 0 {
		c.CallLimit = d.CallLimit
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	s := &Server{conf: c, log: log, reg: routers.Registrar, pres: routers.Presence, msgs: routers.Messaging, calls: routers.Calls, metrics: m, parser: sip.NewParser(), slowAuth: make(chan struct{}, 256),
		udp: map[string]*udpListener{}, server: sip.NewHeader("Server", c.UserAgent)}
	s.hosts = localHosts(c)
	s.forwardLimit = max(1, int64(c.MaxInFlight)/4)
	s.callLimit = int64(max(c.CallLimit, 1))
	s.outbound = c.Outbound
	m.track(s)
	s.authFails = auth.NewFailureSummary(log, 10*time.Second)
	if s.dialogs = routers.Dialogs; s.dialogs == nil {
		s.dialogs = dialog.NewRegistry(nil) // no dialogs: every in-dialog request gets 481
	}
	sl := siplog.New(log)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(c.UserAgent), sipgo.WithUserAgentHostname(c.Domain),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sl), sip.WithTransportLayerReadFilter(s.readFilter)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sl), sip.WithTransactionLayerUnhandledResponseHandler(s.strayResponse)))
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sl))
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(sl), sipgo.WithClientHostname(c.Domain))
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	s.ua, s.srv, s.client = ua, srv, client
	s.port = newClientPort(s, client)
	for _, m := range table() {
		if m.name == sip.ACK {
			srv.OnAck(s.onAck)
		} else {
			srv.OnRequest(m.name, s.onTx)
		}
	}
	srv.OnNoRoute(s.onTx) // methods not in the table: 405 with Allow
	return s, nil
}

// Start opens every listener and serves them until Close. Every socket is
// opened (and s.udp filled) before any is served: a request read off a
// listener that already serves may make an actor send through another
// (udpFor reads s.udp), so filling it afterwards would race (two UDP
// listeners, e.g. IPv4 and IPv6).
func (s *Server) Start() error {
	var serves []func() error
	for _, l := range s.conf.Listen {
		serve, err := s.listen(l)
		if err != nil {
			_ = s.Close()
			return err
		}
		serves = append(serves, serve)
	}
	s.local = localHostPorts(s.hosts, s.addrs)
	for _, f := range serves {
		s.serve(f)
	}
	s.awaitServing()
	return nil
}

// awaitServing returns once sipgo has taken every UDP listener into its
// connection pool (ServeUDP does that on its own goroutine): until then a
// request of the client port would try to bind the listener's address
// again, and fail.
func (s *Server) awaitServing() {
	deadline := time.Now().Add(2 * time.Second)
	for _, a := range s.addrs {
		if a.Network != "udp" {
			continue
		}
		for time.Now().Before(deadline) {
			if c, err := s.ua.TransportLayer().GetConnection("udp", a.Addr); err == nil && c != nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// listen opens l and returns the function that serves it.
func (s *Server) listen(l Listener) (func() error, error) {
	var serve func() error
	switch l.Network {
	case "udp":
		pc, err := net.ListenPacket("udp", l.Addr)
		if err != nil {
			return nil, fmt.Errorf("edge: listen %s: %w", l, err)
		}
		uc, ok := pc.(*net.UDPConn)
		if !ok { // what net.ListenPacket("udp") returns
			_ = pc.Close()
			return nil, fmt.Errorf("edge: listen %s: not a UDP socket", l)
		}
		_ = uc.SetReadBuffer(s.conf.UDPBuffer)
		_ = uc.SetWriteBuffer(s.conf.UDPBuffer)
		l := &udpListener{conn: pc, sender: newUDPSender(pc, s.log), deadlines: newDeadlines(s.conf.ReplyTimeout),
			forwards: newDeadlines(s.conf.ReplyTimeout + s.conf.ClientTimeout)}
		s.udp[pc.LocalAddr().String()] = l
		s.closers = append(s.closers, func() error {
			err := pc.Close()
			l.deadlines.close()
			l.forwards.close()
			l.sender.close()
			return err
		})
		s.addrs = append(s.addrs, Listener{"udp", pc.LocalAddr().String()})
		serve = func() error { return s.srv.ServeUDP(&udpConn{UDPConn: uc, s: s, l: l}) }
	case "tcp":
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return nil, fmt.Errorf("edge: listen %s: %w", l, err)
		}
		s.closers = append(s.closers, ln.Close)
		s.addrs = append(s.addrs, Listener{"tcp", ln.Addr().String()})
		serve = func() error { return s.srv.ServeTCP(ln) }
	default:
		return nil, fmt.Errorf("edge: unknown network %q", l.Network)
	}
	s.log.Info("listening", zap.Stringer("listener", s.addrs[len(s.addrs)-1]))
	return serve, nil
}

func (s *Server) serve(f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Error("listener stopped", zap.Error(err))
		}
	}()
}

// Addrs returns the bound listeners (with real ports when 0 was asked).
func (s *Server) Addrs() []Listener { return s.addrs }

// Close ends the client port's requests in flight (ErrUnavailable), stops
// the listeners and the transports, and waits for the serving goroutines.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.port.close()
		s.stopAcks()
		for _, c := range s.closers {
			if e := c(); e != nil && !errors.Is(e, net.ErrClosed) {
				err = errors.Join(err, e)
			}
		}
		err = errors.Join(err, s.ua.Close())
		s.wg.Wait()
		s.authFails.Close()
	})
	return err
}

// localHosts is every host a Request-URI may name to reach us: the domain,
// its aliases, localhost and the machine's addresses.
func localHosts(c Config) map[string]bool {
	hosts := map[string]bool{strings.ToLower(c.Domain): true, "localhost": true}
	for _, a := range c.Aliases {
		hosts[strings.ToLower(a)] = true
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				hosts[ipn.IP.String()] = true
			}
		}
	}
	return hosts
}

// localHostPorts lists the host:port pairs (registrar.HostPort) a request
// sent to would reach one of listeners: a listener on an unspecified
// address is reached through every host of ours, one on a given address
// through that address and our names (domain, aliases, localhost).
func localHostPorts(hosts map[string]bool, listeners []Listener) []string {
	seen := map[string]bool{}
	var out []string
	add := func(host string, port int) {
		if hp := registrar.HostPort(host, port); !seen[hp] {
			seen[hp] = true
			out = append(out, hp)
		}
	}
	for _, l := range listeners {
		host, p, err := net.SplitHostPort(l.Addr)
		if err != nil {
			continue
		}
		port, err := strconv.Atoi(p)
		if err != nil {
			continue
		}
		ip := net.ParseIP(host)
		if ip != nil && !ip.IsUnspecified() {
			add(host, port)
		}
		for h := range hosts {
			if ip == nil || ip.IsUnspecified() || net.ParseIP(h) == nil {
				add(h, port)
			}
		}
	}
	slices.Sort(out)
	return out
}

// isDomain reports whether host is our SIP domain (or an alias): AORs of
// other domains are not ours to register.
func (s *Server) isDomain(host string) bool {
	h := strings.ToLower(host)
	if h == strings.ToLower(s.conf.Domain) {
		return true
	}
	for _, a := range s.conf.Aliases {
		if h == strings.ToLower(a) {
			return true
		}
	}
	return false
}

// isLocal reports whether a Request-URI host names this server.
func (s *Server) isLocal(host string) bool {
	return s.hosts[strings.ToLower(strings.Trim(host, "[]"))]
}
