package bench

import (
	"errors"
	"net"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
)

// replies collects the answers to one batch of datagrams, in buffers
// reused from batch to batch.
type replies struct {
	out  []ipv4.Message
	bufs [][]byte
	k    int      // answers queued
	to   net.Addr // where the request being answered came from
}

// buf is an empty buffer to append the next answer to.
func (r *replies) buf() []byte { return r.bufs[r.k][:0] }

// add queues b, appended to buf(), to the current request's sender.
func (r *replies) add(b []byte) {
	r.bufs[r.k] = b
	r.out[r.k].Buffers[0], r.out[r.k].Addr = b, r.to
	r.k++
}

// serveBatches reads datagrams from bc with recvmmsg until it is closed,
// lets answer queue up to perRequest answers to each (r.add), and sends
// each batch's answers with sendmmsg. The generator's responders (the
// echo server, the call UAS) are this loop with their own answer.
func serveBatches(bc batchConn, perRequest int, log *zap.Logger, what string, answer func(r *replies, req []byte)) {
	in := make([]ipv4.Message, maxBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 64<<10)}
	}
	r := &replies{out: make([]ipv4.Message, perRequest*maxBatch), bufs: make([][]byte, perRequest*maxBatch)}
	for i := range r.out {
		r.bufs[i] = make([]byte, 0, 2048)
		r.out[i].Buffers = make([][]byte, 1)
	}
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Debug(what+" read", zap.Error(err))
			continue
		}
		r.k = 0
		for _, m := range in[:n] {
			r.to = m.Addr
			answer(r, m.Buffers[0][:m.N])
		}
		for sent := 0; sent < r.k; {
			w, err := bc.WriteBatch(r.out[sent:r.k], 0)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				w = 1 // skip the message the kernel refused
			}
			sent += w
		}
	}
}
