package bench

import (
	"encoding/binary"
	"errors"
)

// The media scenario's RTP packets (RFC 3550 §5.1) are PCMU (payload type
// 0) of 20 ms: a 12-byte header and 160 bytes of payload, 172 bytes on
// the wire, 182 with an SRTP authentication tag of 80 bits (RFC 3711
// §4.2). The first bytes of the payload carry what the receiver measures
// with, so it needs no lookup: a magic, the stream id, a 32-bit sequence
// number (RTP's own wraps after 21 minutes at 50 packets/s) and the send
// time in ns since the run began (monotonic). The rest is PCMU silence.
const (
	rtpHeaderLen     = 12
	mediaPayloadLen  = 160
	mediaPacketLen   = rtpHeaderLen + mediaPayloadLen
	srtpTagLen       = 10
	mediaMagic       = 0x42324d31 // "B2M1"
	mediaMarkLen     = 4 + 4 + 4 + 8
	mediaSSRCBase    = 0x4d000000
	pcmuSilence      = 0xff
	mediaSamplesPer  = 160 // RTP timestamp step: 20 ms at 8 kHz
	mediaPayloadType = 0
)

// errNotMedia reports a datagram that is not one of the run's packets.
var errNotMedia = errors.New("bench: not a media packet of this run")

// mediaMark is what a media packet tells its receiver.
type mediaMark struct {
	stream uint32
	seq    uint32
	sentNS int64
}

// ssrcOf is the SSRC of a stream: a relay may pass it through or not, the
// receiver trusts only the payload.
func ssrcOf(stream uint32) uint32 { return mediaSSRCBase + stream }

// appendMediaPacket appends the plain RTP packet of m to dst.
func appendMediaPacket(dst []byte, m mediaMark) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, mediaPacketLen)...)
	writeMediaPacket(dst[n:], m)
	return dst
}

// writeMediaPacket writes the plain RTP packet of m into b, which holds
// at least mediaPacketLen bytes, and returns the packet.
func writeMediaPacket(b []byte, m mediaMark) []byte {
	b = b[:mediaPacketLen]
	b[0], b[1] = 0x80, mediaPayloadType // V=2, no padding, extension or CSRC; M=0
	binary.BigEndian.PutUint16(b[2:], uint16(m.seq))
	binary.BigEndian.PutUint32(b[4:], m.seq*mediaSamplesPer)
	binary.BigEndian.PutUint32(b[8:], ssrcOf(m.stream))
	p := b[rtpHeaderLen:]
	binary.BigEndian.PutUint32(p[0:], mediaMagic)
	binary.BigEndian.PutUint32(p[4:], m.stream)
	binary.BigEndian.PutUint32(p[8:], m.seq)
	binary.BigEndian.PutUint64(p[12:], uint64(m.sentNS))
	if p[mediaMarkLen] != pcmuSilence { // the tail is written once per buffer
		for i := mediaMarkLen; i < len(p); i++ {
			p[i] = pcmuSilence
		}
	}
	return b
}

// readMediaPacket reads the mark of a plain RTP packet. It skips CSRCs
// and a header extension (RFC 3550 §5.3.1) a relay might add.
func readMediaPacket(b []byte) (mediaMark, error) {
	if len(b) < rtpHeaderLen || b[0]>>6 != 2 {
		return mediaMark{}, errNotMedia
	}
	off := rtpHeaderLen + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return mediaMark{}, errNotMedia
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	if len(b) < off+mediaMarkLen {
		return mediaMark{}, errNotMedia
	}
	p := b[off:]
	if binary.BigEndian.Uint32(p) != mediaMagic {
		return mediaMark{}, errNotMedia
	}
	return mediaMark{
		stream: binary.BigEndian.Uint32(p[4:]),
		seq:    binary.BigEndian.Uint32(p[8:]),
		sentNS: int64(binary.BigEndian.Uint64(p[12:])),
	}, nil
}
