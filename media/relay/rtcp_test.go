package relay

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/pion/rtcp"
)

func mustMarshal(t testing.TB, ps ...rtcp.Packet) []byte {
	t.Helper()
	b, err := rtcp.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFirstReport(t *testing.T) {
	block := rtcp.ReceptionReport{SSRC: 9, FractionLost: 128, TotalLost: 0xFFFFFE, Jitter: 4000}
	other := rtcp.ReceptionReport{SSRC: 8, FractionLost: 1, TotalLost: 2, Jitter: 3}
	sr := &rtcp.SenderReport{SSRC: 1, NTPTime: 1 << 40, RTPTime: 5, PacketCount: 6, OctetCount: 7, Reports: []rtcp.ReceptionReport{block, other}}
	rr := &rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{block}}
	sdes := rtcp.NewCNAMESourceDescription(1, "relay@example.com")
	want := report{fraction: 128, lost: -2, jitter: 4000}
	for _, tc := range []struct {
		name string
		pkt  []byte
		want report
		ok   bool
	}{
		{"SR, first of two blocks", mustMarshal(t, sr), want, true},
		{"RR", mustMarshal(t, rr), want, true},
		{"SR without blocks, then RR", mustMarshal(t, &rtcp.SenderReport{SSRC: 1}, sdes, rr), want, true},
		{"SDES then RR", mustMarshal(t, sdes, rr), want, true},
		{"only SDES and BYE", mustMarshal(t, sdes, &rtcp.Goodbye{Sources: []uint32{1}}), report{}, false},
		{"RR cut in its block", mustMarshal(t, rr)[:20], report{}, false},
		{"length beyond the datagram", func() []byte { b := mustMarshal(t, rr); b[3] += 4; return b }(), report{}, false},
		{"version 1", func() []byte { b := mustMarshal(t, rr); b[0] = b[0]&0x3f | 1<<6; return b }(), report{}, false},
		{"count says 1, length says none", mustHex(t, "81c90001 00000001"), report{}, false},
		{"empty", nil, report{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := firstReport(tc.pkt)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("firstReport = %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
			if ok && unpackReport(got.pack()) != got {
				t.Fatalf("pack round trip: %+v", unpackReport(got.pack()))
			}
		})
	}
}

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFirstReportAllocs(t *testing.T) {
	pkt := mustMarshal(t, rtcp.NewCNAMESourceDescription(1, "x"), &rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{Jitter: 1}}})
	if n := testing.AllocsPerRun(100, func() { firstReport(pkt) }); n != 0 && !raceEnabled {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzFirstReport checks the walker against pion's RTCP parser: whenever
// pion reads the whole compound packet, the first SR/RR block it finds is
// the one firstReport returns, and the packed form round-trips.
func FuzzFirstReport(f *testing.F) {
	rr := &rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2, FractionLost: 3, TotalLost: 0x800000, Jitter: 5}}}
	for _, ps := range [][]rtcp.Packet{
		{rr},
		{&rtcp.SenderReport{SSRC: 1, Reports: rr.Reports}},
		{rtcp.NewCNAMESourceDescription(1, "a"), rr},
		{&rtcp.SenderReport{SSRC: 1}, rr},
		{&rtcp.Goodbye{Sources: []uint32{1}}},
	} {
		b, _ := rtcp.Marshal(ps)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := firstReport(b)
		if ok && unpackReport(got.pack()) != got {
			t.Fatalf("pack round trip %+v", got)
		}
		ps, err := rtcp.Unmarshal(b)
		if err != nil {
			return
		}
		var want *rtcp.ReceptionReport
		for _, p := range ps {
			var blocks []rtcp.ReceptionReport
			switch p := p.(type) {
			case *rtcp.SenderReport:
				blocks = p.Reports
			case *rtcp.ReceiverReport:
				blocks = p.Reports
			}
			if len(blocks) > 0 {
				want = &blocks[0]
				break
			}
		}
		if want == nil {
			if ok {
				t.Fatalf("report %+v where pion finds none", got)
			}
			return
		}
		if !ok || got.fraction != want.FractionLost || uint32(got.lost)&0xffffff != want.TotalLost || got.jitter != want.Jitter {
			t.Fatalf("report %+v %v, pion %+v", got, ok, *want)
		}
	})
}
