package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"go.uber.org/zap"
)

// tcpTransport keeps one connection per socket. Writes of whole messages
// do not interleave: net.Conn serialises Write calls.
type tcpTransport struct {
	conns []*net.TCPConn
	addrs []string
	log   *zap.Logger
}

// dialTimeout bounds connecting to a target that is down or filtered.
const dialTimeout = 3 * time.Second

func dialTCP(c Config) (*tcpTransport, error) {
	laddr, err := net.ResolveTCPAddr("tcp", c.Local)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", c.Local, err)
	}
	t := &tcpTransport{log: c.Log}
	d := net.Dialer{LocalAddr: laddr, Timeout: dialTimeout}
	for range c.Sockets {
		conn, err := d.Dial("tcp", c.Target)
		if err != nil {
			_ = t.close()
			return nil, fmt.Errorf("dial tcp %s: %w", c.Target, err)
		}
		tc := conn.(*net.TCPConn)
		_ = tc.SetNoDelay(true)
		setBuffers(tc, c.SocketBuffer, c.Log)
		t.conns = append(t.conns, tc)
		t.addrs = append(t.addrs, tc.LocalAddr().String())
	}
	return t, nil
}

func (t *tcpTransport) locals() []string { return t.addrs }
func (t *tcpTransport) reliable() bool   { return true }

// flush writes the batch with one writev.
func (t *tcpTransport) flush(o *outbox) int {
	msgs := o.queued()
	o.n = 0
	if len(msgs) == 0 {
		return 0
	}
	nb := make(net.Buffers, len(msgs)) // WriteTo consumes its receiver
	copy(nb, msgs)
	if _, err := nb.WriteTo(t.conns[o.sock]); err != nil {
		if ce := t.log.Check(zap.DebugLevel, "tcp write"); ce != nil {
			ce.Write(zap.Error(err))
		}
		return len(msgs)
	}
	return 0
}

// maxStreamMessage bounds one response on a stream; a longer one is
// garbage and ends the connection's reading.
const maxStreamMessage = 64 << 10

func (t *tcpTransport) read(sock int, onMsg func([]byte), onBatch func()) {
	buf := make([]byte, 4*maxStreamMessage)
	start, end := 0, 0
	var r Response
	for {
		if start > 0 && (end == len(buf) || start == end) {
			end = copy(buf, buf[start:end])
			start = 0
		}
		n, err := t.conns[sock].Read(buf[end:])
		end += n
		for start < end {
			used := frame(buf[start:end], &r)
			if used == 0 {
				break
			}
			onMsg(buf[start : start+used])
			start += used
		}
		onBatch()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.log.Debug("tcp read", zap.Error(err))
			}
			return
		}
		if end-start >= maxStreamMessage {
			t.log.Warn("tcp response too long, dropping connection input")
			return
		}
	}
}

// frame returns the length of the first complete message in b, or 0 if
// more bytes are needed. Garbage is cut at the next blank line so that the
// stream can resynchronise.
func frame(b []byte, r *Response) int {
	err := ParseResponse(b, r)
	if errors.Is(err, ErrNotSIP) {
		// A request from the server (NOTIFY) on the same connection.
		var req IncomingRequest
		err = ParseRequest(b, &req)
		r.HeaderLen, r.ContentLength = req.HeaderLen, req.ContentLength
	}
	switch {
	case errors.Is(err, ErrIncomplete):
		return 0
	case err == nil || errors.Is(err, ErrMissingHeader):
		n := r.HeaderLen + max(r.ContentLength, 0)
		if n > len(b) {
			return 0
		}
		return n
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return 0
}

// stop sets a read deadline in the past, as for UDP.
func (t *tcpTransport) stop() {
	for _, c := range t.conns {
		if c.SetReadDeadline(time.Now()) != nil {
			_ = c.Close()
		}
	}
}

func (t *tcpTransport) close() error {
	var errs []error
	for _, c := range t.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
