package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/net/ipv4"
)

// mediaTx is one stream as its sender sees it.
type mediaTx struct {
	stream uint32
	// sock is the index of the stream's socket among its sender's.
	sock int
	dst  *net.UDPAddr
	// offset spreads the streams over the packet interval, so the
	// generator sends a steady flow instead of one burst per 20 ms.
	offset time.Duration
	// enc encrypts (SRTP side only).
	enc *srtp.Context
}

// mediaSender paces the streams of one side: stream i's packet of round r
// is due at r×period + offset(i). The streams are sorted by offset, so one
// cursor (round, index) walks the due packets in order, and every tick
// sends what fell due since the last, in one sendmmsg batch per socket
// (each stream leaves from the socket its SDP names). One sender per side
// keeps the ticker wakeups to two per tick whatever the number of sockets.
type mediaSender struct {
	bcs     []batchConn
	streams []mediaTx
	// sent[stream] is the packets sent on each stream; read after the
	// sender ended.
	sent      []uint32
	sendErrs  uint64
	behind    time.Duration // the most a packet went out after its due time
	firstSend time.Duration
	lastSend  time.Duration
}

func (s *mediaSender) run(ctx context.Context, start time.Time, period, tick time.Duration, rounds uint32) {
	msgs := make([][]ipv4.Message, len(s.bcs))
	k := make([]int, len(s.bcs))
	for j := range msgs {
		msgs[j] = make([]ipv4.Message, maxBatch)
		for i := range msgs[j] {
			msgs[j][i].Buffers = [][]byte{make([]byte, mediaPacketLen+srtpTagLen+16)}
		}
	}
	plain := make([]byte, mediaPacketLen)
	var hdr rtp.Header
	t := time.NewTicker(tick)
	defer t.Stop()
	r, i, first := uint32(0), 0, true
	for r < rounds && len(s.streams) > 0 {
		now := time.Since(start)
		sentAny := false
		for r < rounds {
			tx := &s.streams[i]
			due := time.Duration(r)*period + tx.offset
			if due > now {
				break
			}
			s.behind = max(s.behind, now-due)
			if s.build(&msgs[tx.sock][k[tx.sock]], tx, mediaMark{stream: tx.stream, seq: r, sentNS: int64(now)}, plain, &hdr) {
				s.sent[tx.stream]++
				sentAny = true
				if k[tx.sock]++; k[tx.sock] == maxBatch {
					s.flush(s.bcs[tx.sock], msgs[tx.sock])
					k[tx.sock] = 0
				}
			}
			if i++; i == len(s.streams) {
				i, r = 0, r+1
			}
		}
		for j, n := range k {
			if n > 0 {
				s.flush(s.bcs[j], msgs[j][:n])
				k[j] = 0
			}
		}
		if sentAny {
			if first {
				s.firstSend, first = now, false
			}
			s.lastSend = now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// build writes packet m of tx into msg, encrypted on the SRTP side.
func (s *mediaSender) build(msg *ipv4.Message, tx *mediaTx, m mediaMark, plain []byte, hdr *rtp.Header) bool {
	buf := msg.Buffers[0][:cap(msg.Buffers[0])]
	msg.Addr = tx.dst
	if tx.enc == nil {
		msg.Buffers[0] = writeMediaPacket(buf, m)
		return true
	}
	writeMediaPacket(plain, m)
	*hdr = rtp.Header{Version: 2, PayloadType: mediaPayloadType, SequenceNumber: uint16(m.seq),
		Timestamp: m.seq * mediaSamplesPer, SSRC: ssrcOf(tx.stream)}
	out, err := tx.enc.EncryptRTP(buf[:0], plain, hdr)
	if err != nil {
		s.sendErrs++
		return false
	}
	msg.Buffers[0] = out
	return true
}

func (s *mediaSender) flush(bc batchConn, msgs []ipv4.Message) {
	for len(msgs) > 0 {
		n, err := bc.WriteBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.sendErrs++
			n = 1 // skip the message the kernel refused
		}
		msgs = msgs[n:]
	}
}

// mediaReceiver reads one socket: it decrypts (SRTP side), checks that the
// packet's stream ends at this socket and accounts it to the stream.
type mediaReceiver struct {
	bc    batchConn
	owns  func(stream uint32) bool
	recv  []streamRecv // shared array, each stream touched by its owner only
	dec   []*srtp.Context
	tally *mediaTally
	// fresh counts new packets of all receivers (for the drain).
	fresh *atomic.Uint64
}

func (m *mediaReceiver) run(start time.Time) {
	msgs := make([]ipv4.Message, maxBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	scratch := make([]byte, 2048)
	var hdr rtp.Header
	for {
		n, err := m.bc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := int64(time.Since(start))
		var fresh uint64
		for _, msg := range msgs[:n] {
			b := msg.Buffers[0][:msg.N]
			m.tally.bytes += uint64(len(b))
			if m.dec != nil {
				if len(b) < rtpHeaderLen {
					m.tally.foreign++
					continue
				}
				st := binary.BigEndian.Uint32(b[8:]) - mediaSSRCBase
				if int(st) >= len(m.dec) || m.dec[st] == nil || !m.owns(st) {
					m.tally.decryptErrors++
					continue
				}
				if _, err := hdr.Unmarshal(b); err != nil {
					m.tally.foreign++
					continue
				}
				out, err := m.dec[st].DecryptRTP(scratch[:0], b, &hdr)
				if err != nil {
					m.tally.decryptErrors++
					continue
				}
				b = out
			}
			mk, err := readMediaPacket(b)
			if err != nil || int(mk.stream) >= len(m.recv) {
				m.tally.foreign++
				continue
			}
			if !m.owns(mk.stream) {
				m.tally.misrouted++
				continue
			}
			if m.recv[mk.stream].add(mk.seq) {
				m.tally.record(mk.sentNS, now)
				fresh++
			}
		}
		m.fresh.Add(fresh)
	}
}
