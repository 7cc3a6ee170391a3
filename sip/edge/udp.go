package edge

import (
	"bytes"
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// readFilter sees every UDP datagram before sipgo parses it. Requests of
// the method table's stateless methods that the server answers itself are
// taken here and answered without a server transaction (see doc.go);
// everything else goes on to sipgo unchanged. It runs on the
// listener's read goroutine, so it never waits for an actor.
func (s *Server) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if !strings.EqualFold(p.Transport, "udp") {
		return data, nil
	}
	if bytes.HasPrefix(data, responsePrefix) {
		return s.clientResponse(data, p.RemoteAddr), nil
	}
	if !statelessMethod(data) {
		return data, nil
	}
	l := s.udp[p.LocalAddr.String()]
	if l == nil { // a client connection of ours, not a listener
		return data, nil
	}
	msg, err := s.parser.ParseSIP(data)
	if err != nil {
		s.metrics.malformed.Inc()
		if ce := s.log.Check(zap.DebugLevel, "malformed request"); ce != nil {
			ce.Write(zap.String("from", p.RemoteAddr.String()), zap.Int("bytes", len(data)), zap.Error(err))
		}
		if res := rawBadRequest(data); res != nil {
			_, _ = l.conn.WriteTo(res, p.RemoteAddr)
		}
		return nil, nil
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return nil, nil
	}
	if !takeStateless(req) {
		// Forwarded or in-dialog: sipgo parses it again, which only
		// these (rarer) requests pay for.
		return data, nil
	}
	req.SetTransport("UDP")
	req.SetSource(p.RemoteAddr.String())
	u := &udpResponder{sender: l.sender, deadlines: l.deadlines, forwards: l.forwards, to: replyAddr(req, p.RemoteAddr)}
	if req.Method == sip.REGISTER {
		// Only REGISTER: its responses never copy Record-Route, which
		// a 2xx to other methods may have to (captureHead).
		var src netip.AddrPort
		if a, ok := p.RemoteAddr.(*net.UDPAddr); ok {
			src = a.AddrPort()
		}
		u.head = captureHead(data, req, src)
	}
	w := s.newAnswer(req, u)
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
	return nil, nil
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

// replyAddr is where a response over UDP goes (RFC 3261 §18.2.2 with RFC
// 3581): the source address when Via asks for rport, else the source IP
// and the port in Via's sent-by (5060 when absent), as sipgo's transaction
// path does.
func replyAddr(req *sip.Request, src net.Addr) net.Addr {
	via := req.Via()
	udp, ok := src.(*net.UDPAddr)
	if via == nil || !ok || via.Params.Has("rport") {
		return src
	}
	port := via.Port
	if port <= 0 || port > 65535 {
		port = 5060
	}
	return &net.UDPAddr{IP: udp.IP, Port: port, Zone: udp.Zone}
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
