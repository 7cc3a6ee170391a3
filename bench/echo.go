package bench

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// EchoConfig configures an EchoServer.
type EchoConfig struct {
	// Status is the answer to every request; 0 means 200.
	Status int
	// Respond, if not nil, decides per request instead of Status: it gets
	// the request and its number (from 0) and returns the status (0 drops
	// the request unanswered) and extra CRLF-terminated header lines.
	Respond func(req []byte, n uint64) (status int, extra string)
	// SocketBuffer is SO_RCVBUF/SO_SNDBUF; 0 means 4 MB.
	SocketBuffer int
	// Log receives diagnostics; nil for none.
	Log *zap.Logger
}

// EchoServer is a stateless SIP responder: it answers every request (but
// ACK) with a response copying Via, From, To, Call-ID and CSeq (RFC 3261
// §8.2.6.2), adding a To tag. It has no transactions and keeps no state, so
// it shows the generator's own ceiling.
type EchoServer struct {
	cfg      EchoConfig
	udp      *net.UDPConn
	tcp      *net.TCPListener
	requests atomic.Uint64
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// ListenEcho starts an EchoServer on network "udp" or "tcp" at addr
// ("127.0.0.1:0" picks a free port). Close stops it.
func ListenEcho(network, addr string, cfg EchoConfig) (*EchoServer, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.SocketBuffer == 0 {
		cfg.SocketBuffer = 4 << 20
	}
	s := &EchoServer{cfg: cfg, conns: map[net.Conn]struct{}{}}
	switch network {
	case "udp":
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("echo: %w", err)
		}
		if s.udp, err = net.ListenUDP("udp", ua); err != nil {
			return nil, fmt.Errorf("echo: %w", err)
		}
		setBuffers(s.udp, cfg.SocketBuffer, cfg.Log)
		var bc batchConn = ipv4.NewPacketConn(s.udp)
		if ua.IP != nil && ua.IP.To4() == nil {
			bc = ipv6.NewPacketConn(s.udp)
		}
		s.wg.Go(func() {
			serveBatches(bc, 1, s.cfg.Log, "echo", func(r *replies, req []byte) {
				if b, ok := s.answer(r.buf(), req); ok {
					r.add(b)
				}
			})
		})
	case "tcp":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("echo: %w", err)
		}
		s.tcp = ln.(*net.TCPListener)
		s.wg.Go(s.acceptTCP)
	default:
		return nil, fmt.Errorf("echo: network %q is not udp or tcp", network)
	}
	return s, nil
}

// Addr returns the listening address.
func (s *EchoServer) Addr() net.Addr {
	if s.udp != nil {
		return s.udp.LocalAddr()
	}
	return s.tcp.Addr()
}

// Requests returns the number of requests received.
func (s *EchoServer) Requests() uint64 { return s.requests.Load() }

// Close stops the server and waits for its goroutines.
func (s *EchoServer) Close() error {
	var err error
	if s.udp != nil {
		err = s.udp.Close()
	} else {
		err = s.tcp.Close()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
	}
	s.wg.Wait()
	return err
}

// answer appends the response to one request; ok is false when nothing is
// to be sent (ACK, a response, garbage, or Respond dropped it).
func (s *EchoServer) answer(dst, req []byte) ([]byte, bool) {
	n := s.requests.Add(1) - 1
	status, extra := s.cfg.Status, ""
	if s.cfg.Respond != nil {
		status, extra = s.cfg.Respond(req, n)
		if status == 0 {
			return dst, false
		}
	}
	if status == 0 {
		status = 200
	}
	out, _, err := AppendEchoResponse(dst, req, status, extra)
	return out, err == nil
}

// AppendEchoResponse appends a response with status to the request at the
// start of req, copying Via, From, To (with a tag), Call-ID and CSeq, then
// extra header lines. It returns the length of the request (header plus
// Content-Length body) for stream framing. ACK and responses give
// ErrNotSIP: they are never answered.
func AppendEchoResponse(dst, req []byte, status int, extra string) ([]byte, int, error) {
	sp := bytes.IndexByte(req, ' ')
	nl := bytes.IndexByte(req, '\n')
	if nl < 0 {
		return dst, 0, ErrIncomplete
	}
	if sp <= 0 || sp > nl || bytes.HasPrefix(req, []byte("SIP/")) {
		return dst, 0, ErrNotSIP
	}
	isACK := string(req[:sp]) == "ACK"
	dst = append(dst, "SIP/2.0 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, reasonPhrase(status)...)
	dst = append(dst, "\r\n"...)
	it := headerIter{b: req, pos: nl + 1, end: -1}
	cl := 0
	for {
		name, value, ok := it.next()
		if !ok {
			break
		}
		switch {
		case headerIs(name, "via", "v"), headerIs(name, "from", "f"),
			headerIs(name, "call-id", "i"), headerIs(name, "cseq", ""):
			dst = appendHeader(dst, name, value, "")
		case headerIs(name, "to", "t"):
			tag := ""
			if status > 100 && !hasTag(value) {
				tag = ";tag=b2becho"
			}
			dst = appendHeader(dst, name, value, tag)
		case headerIs(name, "content-length", "l"):
			cl = max(parseUint(value), 0)
		}
	}
	if it.end < 0 {
		return dst, 0, ErrIncomplete
	}
	if isACK {
		return dst, it.end + cl, ErrNotSIP
	}
	dst = append(dst, extra...)
	dst = append(dst, "Server: b2bua-bench-echo\r\nContent-Length: 0\r\n\r\n"...)
	return dst, it.end + cl, nil
}

func appendHeader(dst, name, value []byte, suffix string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	dst = append(dst, suffix...)
	return append(dst, "\r\n"...)
}

// hasTag reports whether a From/To value has a tag parameter.
func hasTag(v []byte) bool {
	for i := 0; i+5 <= len(v); i++ {
		if v[i] == ';' && equalFold(v[i+1:i+5], "tag=") {
			return true
		}
	}
	return false
}

// reasonPhrase returns the RFC 3261 §21 reason phrase of code.
func reasonPhrase(code int) string {
	switch code {
	case 100:
		return "Trying"
	case 180:
		return "Ringing"
	case 183:
		return "Session Progress"
	case 408:
		return "Request Timeout"
	case 423:
		return "Interval Too Brief"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 486:
		return "Busy Here"
	case 500:
		return "Server Internal Error"
	}
	if t := http.StatusText(code); t != "" {
		return t // shared with HTTP for 1xx-5xx codes like 200, 401, 403, 404, 503
	}
	return "Status " + strconv.Itoa(code)
}
