package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpTransport uses connected UDP sockets: the kernel skips the route
// lookup per send, drops datagrams from other peers, and reports ICMP port
// unreachable as ECONNREFUSED (counted as send errors).
type udpTransport struct {
	conns []*net.UDPConn
	bcs   []batchConn
	addrs []string
	log   *zap.Logger
	// rbuf is the receive buffer size per datagram.
	rbuf int
}

func dialUDP(c Config) (*udpTransport, error) {
	raddr, err := net.ResolveUDPAddr("udp", c.Target)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", c.Target, err)
	}
	laddr, err := net.ResolveUDPAddr("udp", c.Local)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", c.Local, err)
	}
	t := &udpTransport{log: c.Log, rbuf: 16 << 10}
	for range c.Sockets {
		conn, err := net.DialUDP("udp", laddr, raddr)
		if err != nil {
			_ = t.close()
			return nil, fmt.Errorf("dial udp %s: %w", c.Target, err)
		}
		setBuffers(conn, c.SocketBuffer, c.Log)
		t.conns = append(t.conns, conn)
		t.addrs = append(t.addrs, conn.LocalAddr().String())
		if raddr.IP.To4() != nil {
			t.bcs = append(t.bcs, ipv4.NewPacketConn(conn))
		} else {
			t.bcs = append(t.bcs, ipv6.NewPacketConn(conn))
		}
	}
	return t, nil
}

func (t *udpTransport) locals() []string { return t.addrs }
func (t *udpTransport) reliable() bool   { return false }

func (t *udpTransport) flush(o *outbox) int {
	refused := 0
	msgs := o.queued()
	for i, b := range msgs {
		o.one[i][0] = b
		o.ms[i] = ipv4.Message{Buffers: o.one[i][:]}
	}
	ms := o.ms[:len(msgs)]
	for len(ms) > 0 {
		n, err := t.bcs[o.sock].WriteBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				refused += len(ms)
				break
			}
			// The error belongs to the first unsent message (often an
			// ECONNREFUSED left by an earlier ICMP); skip it, keep going.
			refused++
			n++
		}
		ms = ms[min(n, len(ms)):]
	}
	o.n = 0
	return refused
}

func (t *udpTransport) read(sock int, onMsg func([]byte), onBatch func()) {
	ms := make([]ipv4.Message, maxBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, t.rbuf)}
	}
	for {
		n, err := t.bcs[sock].ReadBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			// ECONNREFUSED after an ICMP port unreachable: the target is
			// down; the transactions will time out.
			if ce := t.log.Check(zap.DebugLevel, "udp read"); ce != nil {
				ce.Write(zap.Error(err))
			}
			continue
		}
		for _, m := range ms[:n] {
			onMsg(m.Buffers[0][:m.N])
		}
		onBatch()
	}
}

// stop sets a read deadline in the past: a reader blocked in ReadBatch
// wakes up, one in the middle of a batch finishes it first.
func (t *udpTransport) stop() {
	for _, c := range t.conns {
		if c.SetReadDeadline(time.Now()) != nil {
			_ = c.Close() // read must return all the same
		}
	}
}

func (t *udpTransport) close() error {
	var errs []error
	for _, c := range t.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
