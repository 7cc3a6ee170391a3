package relay

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/b2bua/b2bua/media/sdp"
)

func TestRelayPlain(t *testing.T) {
	for _, tc := range []struct {
		name       string
		link       bool
		sendA      bool // endpoint A takes media (B's packets reach it)
		sendB      bool
		wantAtB    bool
		wantAtA    bool
		remoteKnow bool // SetRemote called at all
	}{
		{"linked both ways", true, true, true, true, true, true},
		{"no link drops", false, true, true, false, false, true},
		{"B on hold: A's packets dropped", true, true, false, false, true, true},
		{"B's SDP not known yet: dropped", true, true, false, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			epA, epB := newEndpoint(t, Crypto{}, Crypto{}), newEndpoint(t, Crypto{}, Crypto{})
			a, b := newStream(t, Options{}, true), newStream(t, Options{}, true)
			ra, rb := epA.remote(), epB.remote()
			ra.Send, rb.Send = tc.sendA, tc.sendB
			if err := a.SetRemote(ra); err != nil {
				t.Fatal(err)
			}
			if tc.remoteKnow {
				if err := b.SetRemote(rb); err != nil {
					t.Fatal(err)
				}
			}
			if tc.link {
				Link(a, b)
			}
			const n = 5
			for i := range n {
				payload := []byte(fmt.Sprintf("a->b %d", i))
				epA.sendRTP(a.LocalRTP(), uint16(i), 0xA, payload)
				got := epB.recvRTP(map[bool]time.Duration{true: wait, false: quiet}[tc.wantAtB])
				if (got != nil) != tc.wantAtB {
					t.Fatalf("B got %v, want a packet: %v", got, tc.wantAtB)
				}
				if got != nil && (!bytes.Equal(got.Payload, payload) || got.SequenceNumber != uint16(i)) {
					t.Fatalf("B got seq %d %q", got.SequenceNumber, got.Payload)
				}
			}
			if tc.remoteKnow {
				for i := range n {
					epB.sendRTP(b.LocalRTP(), uint16(i), 0xB, []byte("b->a"))
					got := epA.recvRTP(map[bool]time.Duration{true: wait, false: quiet}[tc.wantAtA])
					if (got != nil) != tc.wantAtA {
						t.Fatalf("A got %v, want a packet: %v", got, tc.wantAtA)
					}
				}
			}
			eventually(t, "counters", func() bool {
				sa, sb := a.Stats(), b.Stats()
				return sa.RxPackets == n && sb.TxPackets == uint64(n*b2i(tc.wantAtB)) &&
					sa.Dropped == uint64(n*b2i(!tc.wantAtB))
			})
			sa := a.Stats()
			if sa.RxBytes != n*uint64(12+len("a->b 0")) || sa.LastRx.IsZero() || sa.Latched != addr(epA.rtp) {
				t.Fatalf("a stats %+v", sa)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

var _ = sdp.None
