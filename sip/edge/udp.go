package edge

import (
	"bytes"
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// udpConn is a UDP listener's socket as sipgo serves it: its read loop
// calls ReadFrom, which reads the datagrams itself and answers the
// stateless ones (takeUDP) before sipgo sees them; the rest it returns to
// sipgo unchanged. sipgo's loop allocated an address and formatted it
// (and the listener's) as strings for every datagram, and added every
// source to its connection pool; the requests taken here skip all that
// (README.md, "Allocations per REGISTER"). sipgo's pool is not needed for
// them: they are answered through the listener's sender, and our own
// requests leave from the listener they name (clientPort.build sets
// Laddr).
type udpConn struct {
	*net.UDPConn
	s *Server
	l *udpListener
}

// ReadFrom returns the next datagram that is not a stateless request of
// ours.
func (c *udpConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, src, err := c.ReadFromUDPAddrPort(p)
		if err != nil {
			return n, nil, err
		}
		if n > 0 && c.s.takeUDP(c.l, p[:n], src) {
			continue
		}
		return n, net.UDPAddrFromAddrPort(src), nil
	}
}

// takeUDP takes a datagram read off listener l, from src, when it is a
// request of the method table's stateless methods that the server answers
// itself: it is answered without a server transaction (see doc.go), and
// takeUDP reports true. Anything else goes on to sipgo. It runs on the
// listener's read goroutine, so it never waits for an actor.
func (s *Server) takeUDP(l *udpListener, data []byte, src netip.AddrPort) bool {
	if bytes.HasPrefix(data, responsePrefix) || !statelessMethod(data) {
		return false
	}
	if bytes.HasPrefix(data, registerPrefix) && !s.conf.Auth.enabled() && s.takeRegister(l, data, src) {
		return true // read without sipgo (light.go)
	}
	msg, err := s.parser.ParseSIP(data)
	if err != nil {
		s.metrics.malformed.Inc()
		if ce := s.log.Check(zap.DebugLevel, "malformed request"); ce != nil {
			ce.Write(zap.Stringer("from", src), zap.Int("bytes", len(data)), zap.Error(err))
		}
		if res := rawBadRequest(data); res != nil {
			_, _ = l.conn.WriteTo(res, net.UDPAddrFromAddrPort(src))
		}
		return true
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return true
	}
	if !takeStateless(req) {
		// Forwarded or in-dialog: sipgo parses it again, which only
		// these (rarer) requests pay for.
		return false
	}
	// One allocation for the source, which Register keeps as
	// "UDP:host:port" and the request as host:port.
	var buf [64]byte
	source := string(src.AppendTo(append(buf[:0], "UDP:"...)))
	req.SetTransport("UDP")
	req.SetSource(source[len("UDP:"):])
	x := &udpAnswer{}
	u := &x.udp
	u.sender, u.deadlines, u.forwards, u.source = l.sender, l.deadlines, l.forwards, source
	u.reply(req, src)
	if req.Method == sip.REGISTER {
		// Only REGISTER: its responses never copy Record-Route, which
		// a 2xx to other methods may have to (captureHead).
		u.head = captureHead(data, req, src)
	}
	w := &x.answer
	w.s, w.next, w.label, w.req = s, u, metricLabel(req.Method), req
	if s.conf.Auth.mayBlock(req) {
		// Verifying this token may wait on the network (JWKS,
		// introspection) or a signature check: not on the read goroutine,
		// and not more of them at once than slowAuth has room for, so a
		// flood of forged tokens cannot pile up goroutines.
		select {
		case s.slowAuth <- struct{}{}:
			go func() {
				defer func() { <-s.slowAuth }()
				s.handle(req, w)
			}()
		default:
			s.overloaded(req, w)
		}
	} else {
		s.handle(req, w)
	}
	return true
}

// udpAnswer is the answer to a request taken off a UDP listener and its
// responder, in one allocation.
type udpAnswer struct {
	answer answer
	udp    udpResponder
}

// readFilter sees every UDP datagram sipgo reads: the client port's
// responses are taken here (clientResponse); everything else goes on to
// sipgo. The listeners' stateless requests never come here (udpConn).
func (s *Server) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if !strings.EqualFold(p.Transport, "udp") {
		return data, nil
	}
	if bytes.HasPrefix(data, responsePrefix) {
		return s.clientResponse(data, p.RemoteAddr), nil
	}
	return data, nil
}

var (
	responsePrefix = []byte("SIP/2.0 ")
	ourBranch      = []byte(branchPrefix)
)

// clientResponse takes the responses to the client port's stateless
// requests, those whose top Via branch starts with branchPrefix, and hands
// them to it; it returns everything else for sipgo's transactions.
func (s *Server) clientResponse(data []byte, src net.Addr) []byte {
	if !bytes.Contains(data, ourBranch) { // cheap: most responses are sipgo's
		return data
	}
	msg, err := s.parser.ParseSIP(data)
	if err != nil {
		return data // sipgo logs and drops it
	}
	res, ok := msg.(*sip.Response)
	if !ok || !ours(res) {
		return data
	}
	res.SetTransport("UDP") // as sipgo's transport layer marks what it reads
	res.SetSource(src.String())
	s.port.sl.response(res)
	return nil
}

// reply sets where a response over UDP goes (RFC 3261 §18.2.2 with RFC
// 3581): the source address when Via asks for rport, else the source IP
// and the port in Via's sent-by (5060 when absent), as sipgo's transaction
// path does. The address is kept in r, so it costs no allocation.
func (r *udpResponder) reply(req *sip.Request, src netip.AddrPort) {
	if via := req.Via(); via != nil {
		r.replyTo(src, via.Params.Has("rport"), via.Port)
	} else {
		r.replyTo(src, true, 0)
	}
}

// replyTo is reply from the top Via's rport (whether it has one) and
// sent-by port.
func (r *udpResponder) replyTo(src netip.AddrPort, rport bool, viaPort int) {
	port := int(src.Port())
	if !rport {
		port = viaPort
		if port <= 0 || port > 65535 {
			port = 5060
		}
	}
	ip := src.Addr()
	r.ip = ip.As16()
	n := 16
	if ip.Is4() {
		n = copy(r.ip[:], r.ip[12:16])
	}
	r.addr = net.UDPAddr{IP: r.ip[:n], Port: port, Zone: ip.Zone()}
	r.to = &r.addr
}

// rawBadRequest builds a 400 for a request sipgo could not parse, from the
// header lines a response needs (RFC 3261 §8.2.6), taken as they came. It
// returns nil when they are not all there: such a message is dropped.
func rawBadRequest(data []byte) []byte {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	lines := bytes.Split(head, []byte("\r\n"))
	if len(lines) < 2 {
		return nil
	}
	var out bytes.Buffer
	out.WriteString("SIP/2.0 400 Bad Request\r\n")
	found := map[string]bool{}
	for _, line := range lines[1:] {
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(line) > 1024 || bytes.ContainsAny(line, "\x00\r\n") {
			continue
		}
		switch n := strings.ToLower(strings.TrimSpace(string(name))); n {
		case "via", "v", "from", "f", "to", "t", "call-id", "i", "cseq":
			found[canonical(n)] = true
			out.Write(line)
			out.WriteString("\r\n")
		}
	}
	for _, h := range []string{"via", "from", "to", "call-id", "cseq"} {
		if !found[h] {
			return nil
		}
	}
	out.WriteString("Content-Length: 0\r\n\r\n")
	return out.Bytes()
}

func canonical(compact string) string {
	switch compact {
	case "v":
		return "via"
	case "f":
		return "from"
	case "t":
		return "to"
	case "i":
		return "call-id"
	}
	return compact
}
