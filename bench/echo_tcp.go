package bench

import (
	"errors"
	"net"

	"go.uber.org/zap"
)

func (s *EchoServer) acceptTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return // closed
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() { s.serveTCP(c) })
	}
}

// serveTCP answers the requests of one connection, framed by
// Content-Length (RFC 3261 §18.3), writing once per read.
func (s *EchoServer) serveTCP(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	buf := make([]byte, 256<<10)
	out := make([]byte, 0, 64<<10)
	start, end := 0, 0
	for {
		if start > 0 {
			end = copy(buf, buf[start:end])
			start = 0
		}
		if end == len(buf) {
			s.cfg.Log.Warn("echo: request too long, closing")
			return
		}
		n, err := c.Read(buf[end:])
		end += n
		out = out[:0]
		for start < end {
			used, resp := s.answerStream(out, buf[start:end])
			if used == 0 {
				break
			}
			out, start = resp, start+used
		}
		if len(out) > 0 {
			if _, werr := c.Write(out); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.cfg.Log.Debug("echo tcp read", zap.Error(err))
			}
			return
		}
	}
}

// answerStream answers the first complete request of b and returns its
// length (0 if incomplete) and dst with the response appended.
func (s *EchoServer) answerStream(dst, b []byte) (int, []byte) {
	_, used, err := AppendEchoResponse(nil, b, 200, "")
	switch {
	case errors.Is(err, ErrIncomplete):
		return 0, dst
	case used == 0 || used > len(b):
		if used > len(b) {
			return 0, dst // body not complete yet
		}
		// Garbage without a frame: drop everything read so far.
		return len(b), dst
	}
	out, ok := s.answer(dst, b[:used])
	if !ok {
		return used, dst
	}
	return used, out
}
