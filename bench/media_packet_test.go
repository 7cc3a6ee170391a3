package bench

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestMediaPacketRoundTrip(t *testing.T) {
	for _, m := range []mediaMark{{0, 0, 0}, {7, 1, 1234567}, {1<<32 - 1, 1<<32 - 1, 1 << 62}} {
		b := appendMediaPacket(nil, m)
		if len(b) != 172 {
			t.Fatalf("len %d, want 172", len(b))
		}
		if b[0] != 0x80 || b[1] != 0 {
			t.Errorf("header % x, want V=2 PT=0", b[:2])
		}
		if got := binary.BigEndian.Uint16(b[2:]); got != uint16(m.seq) {
			t.Errorf("RTP seq %d, want %d", got, uint16(m.seq))
		}
		if got := binary.BigEndian.Uint32(b[8:]); got != ssrcOf(m.stream) {
			t.Errorf("SSRC %x, want %x", got, ssrcOf(m.stream))
		}
		if b[len(b)-1] != pcmuSilence {
			t.Errorf("tail %x, want PCMU silence", b[len(b)-1])
		}
		got, err := readMediaPacket(b)
		if err != nil || got != m {
			t.Errorf("read %+v, %v; want %+v", got, err, m)
		}
	}
}

func TestMediaPacketRelayHeaders(t *testing.T) {
	m := mediaMark{stream: 3, seq: 9, sentNS: 42}
	plain := appendMediaPacket(nil, m)
	// A relay may add CSRCs or a header extension (RFC 3550 §5.3.1).
	csrc := append([]byte{0x82}, plain[1:12]...)
	csrc = append(csrc, 0, 0, 0, 1, 0, 0, 0, 2)
	csrc = append(csrc, plain[12:]...)
	ext := append([]byte{0x90}, plain[1:12]...)
	ext = append(ext, 0xbe, 0xde, 0, 1, 1, 2, 3, 4)
	ext = append(ext, plain[12:]...)
	for name, b := range map[string][]byte{"csrc": csrc, "extension": ext} {
		if got, err := readMediaPacket(b); err != nil || got != m {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
}

func TestMediaPacketNotOurs(t *testing.T) {
	good := appendMediaPacket(nil, mediaMark{stream: 1, seq: 2, sentNS: 3})
	badMagic := append([]byte(nil), good...)
	badMagic[12] ^= 0xff
	v1 := append([]byte(nil), good...)
	v1[0] = 0x40
	for name, b := range map[string][]byte{
		"empty": nil, "short": good[:20], "magic": badMagic, "version": v1,
		"extension past end": append([]byte{0x90}, good[1:13]...),
	} {
		if _, err := readMediaPacket(b); !errors.Is(err, errNotMedia) {
			t.Errorf("%s: err %v, want errNotMedia", name, err)
		}
	}
}

func TestWriteMediaPacketAllocs(t *testing.T) {
	buf := make([]byte, mediaPacketLen)
	n := testing.AllocsPerRun(100, func() { writeMediaPacket(buf, mediaMark{stream: 1, seq: 2}) })
	if n != 0 {
		t.Errorf("%v allocs, want 0", n)
	}
}
