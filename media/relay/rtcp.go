package relay

import "encoding/binary"

// RTCP packet types with report blocks (RFC 3550 §6.4).
const (
	rtcpSR = 200
	rtcpRR = 201
)

// report is the part of an RTCP report block the relay keeps
// (RFC 3550 §6.4.1).
type report struct {
	fraction uint8  // fraction lost, in 1/256
	lost     int32  // cumulative number of packets lost (24-bit signed)
	jitter   uint32 // interarrival jitter, in timestamp units
}

// firstReport is the first report block of the first SR or RR that has
// one in the compound RTCP packet b; false when there is none or b is
// malformed before it. It does not allocate: the RTCP reader calls it
// for every packet.
func firstReport(b []byte) (report, bool) {
	for len(b) >= 4 {
		if b[0]>>6 != 2 {
			return report{}, false
		}
		count := int(b[0] & 0x1f)
		size := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
		if size > len(b) {
			return report{}, false
		}
		p := b[:size]
		b = b[size:]
		var off int
		switch p[1] {
		case rtcpSR:
			off = 8 + 20 // header, SSRC; NTP, RTP timestamp, counts
		case rtcpRR:
			off = 8 // header, SSRC
		default:
			continue
		}
		if count == 0 {
			continue
		}
		if len(p) < off+24 {
			return report{}, false
		}
		blk := p[off : off+24]
		lost := int32(uint32(blk[5])<<16 | uint32(blk[6])<<8 | uint32(blk[7]))
		if lost&0x800000 != 0 {
			lost -= 1 << 24 // sign-extend the 24-bit value
		}
		return report{fraction: blk[4], lost: lost, jitter: binary.BigEndian.Uint32(blk[12:])}, true
	}
	return report{}, false
}

// pack puts r in one word, so Stats reads a consistent block.
func (r report) pack() uint64 {
	return uint64(r.fraction)<<56 | uint64(uint32(r.lost)&0xffffff)<<32 | uint64(r.jitter)
}

func unpackReport(v uint64) report {
	lost := int32(v >> 32 & 0xffffff)
	if lost&0x800000 != 0 {
		lost -= 1 << 24
	}
	return report{fraction: uint8(v >> 56), lost: lost, jitter: uint32(v)}
}
