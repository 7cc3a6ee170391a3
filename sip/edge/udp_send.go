package edge

import (
	"net"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// udpSender sends the stateless responses of one UDP listener. Replies come
// from many goroutines (store notifiers, actors); the sender drains what is
// queued into one sendmmsg call, so at 10,000 REGISTER/s the server makes a
// few hundred send syscalls a second instead of 10,000.
type udpSender struct {
	conn  net.PacketConn
	batch interface {
		WriteBatch(ms []ipv4.Message, flags int) (int, error)
	}
	log  *zap.Logger
	ch   chan outgoing
	done chan struct{}
	wg   sync.WaitGroup
}

type outgoing struct {
	buf *[]byte // from bufPool; returned after the write
	to  net.Addr
}

// maxBatch is the most datagrams one sendmmsg carries.
const maxBatch = 64

func newUDPSender(conn net.PacketConn, log *zap.Logger) *udpSender {
	s := &udpSender{conn: conn, log: log, ch: make(chan outgoing, 4096), done: make(chan struct{})}
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil && a.IP != nil && !a.IP.IsUnspecified() {
		s.batch = ipv6.NewPacketConn(conn)
	} else {
		s.batch = ipv4.NewPacketConn(conn)
	}
	s.wg.Add(1)
	go s.run()
	return s
}

// send queues b for to. It never blocks: with the queue full it writes
// directly; after close it drops.
func (s *udpSender) send(b *[]byte, to net.Addr) {
	select {
	case <-s.done:
		bufPool.Put(b)
		return
	default:
	}
	select {
	case s.ch <- outgoing{b, to}:
	default:
		s.write([]outgoing{{b, to}}, make([]ipv4.Message, 1))
	}
}

func (s *udpSender) run() {
	defer s.wg.Done()
	pending := make([]outgoing, 0, maxBatch)
	msgs := make([]ipv4.Message, maxBatch)
	for {
		select {
		case <-s.done:
			return
		case first := <-s.ch:
			pending = append(pending[:0], first)
		fill:
			for len(pending) < maxBatch {
				select {
				case o := <-s.ch:
					pending = append(pending, o)
				default:
					break fill
				}
			}
			s.write(pending, msgs)
		}
	}
}

func (s *udpSender) write(out []outgoing, msgs []ipv4.Message) {
	for i, o := range out {
		// Buffers keeps its backing array across batches (below): a
		// fresh [][]byte per response was an allocation each.
		msgs[i].Buffers = append(msgs[i].Buffers[:0], *o.buf)
		msgs[i].Addr = o.to
	}
	for sent := 0; sent < len(out); {
		n, err := s.batch.WriteBatch(msgs[sent:len(out)], 0)
		if err != nil || n <= 0 {
			s.log.Debug("responses not sent", zap.Int("count", len(out)-sent), zap.Error(err))
			break
		}
		sent += n
	}
	for i, o := range out {
		bufPool.Put(o.buf)
		bufs := msgs[i].Buffers
		bufs[0] = nil
		msgs[i] = ipv4.Message{Buffers: bufs[:0]}
	}
}

// close stops the sender; queued responses are dropped (the listener is
// closed by then and clients retransmit to whoever serves next).
func (s *udpSender) close() {
	close(s.done)
	s.wg.Wait()
}
