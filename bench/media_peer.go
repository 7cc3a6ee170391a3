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
	dst    *net.UDPAddr
	// offset spreads the streams over the packet interval, so the
	// generator sends a steady flow instead of one burst per 20 ms.
	offset time.Duration
	// enc encrypts (SRTP side only).
	enc *srtp.Context
}

// mediaSender paces the streams that leave one socket: stream i's packet
// of round r is due at r×period + offset(i). The streams are sorted by
// offset, so one cursor (round, index) walks the due packets in order,
// and every tick sends what fell due since the last in sendmmsg batches.
type mediaSender struct {
	bc      batchConn
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
	msgs := make([]ipv4.Message, maxBatch)
	plain := make([]byte, mediaPacketLen)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, mediaPacketLen+srtpTagLen+16)}
	}
	var hdr rtp.Header
	t := time.NewTicker(tick)
	defer t.Stop()
	r, i, first := uint32(0), 0, true
	for r < rounds && len(s.streams) > 0 {
		now := time.Since(start)
		k := 0
		for r < rounds {
			due := time.Duration(r)*period + s.streams[i].offset
			if due > now {
				break
			}
			s.behind = max(s.behind, now-due)
			tx := &s.streams[i]
			m := mediaMark{stream: tx.stream, seq: r, sentNS: int64(now)}
			buf := msgs[k].Buffers[0][:cap(msgs[k].Buffers[0])]
			if tx.enc == nil {
				msgs[k].Buffers[0] = writeMediaPacket(buf, m)
			} else {
				writeMediaPacket(plain, m)
				hdr = rtp.Header{Version: 2, PayloadType: mediaPayloadType, SequenceNumber: uint16(r),
					Timestamp: r * mediaSamplesPer, SSRC: ssrcOf(tx.stream)}
				out, err := tx.enc.EncryptRTP(buf[:0], plain, &hdr)
				if err != nil {
					s.sendErrs++
					goto next
				}
				msgs[k].Buffers[0] = out
			}
			msgs[k].Addr = tx.dst
			s.sent[tx.stream]++
			if k++; k == len(msgs) {
				s.flush(msgs[:k])
				k = 0
			}
		next:
			if i++; i == len(s.streams) {
				i, r = 0, r+1
			}
		}
		if k > 0 {
			s.flush(msgs[:k])
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

func (s *mediaSender) flush(msgs []ipv4.Message) {
	for len(msgs) > 0 {
		n, err := s.bc.WriteBatch(msgs, 0)
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
