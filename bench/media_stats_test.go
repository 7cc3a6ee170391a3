package bench

import "testing"

func TestStreamRecv(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		seqs                      []uint32
		received, dups, reordered uint64
	}{
		{"in order", []uint32{0, 1, 2, 3}, 4, 0, 0},
		{"starts late", []uint32{5, 6}, 2, 0, 0},
		{"gap is loss, not reorder", []uint32{0, 1, 5, 6}, 4, 0, 0},
		{"swap", []uint32{0, 2, 1, 3}, 4, 0, 1},
		{"duplicate", []uint32{0, 1, 1, 2}, 3, 1, 0},
		{"duplicate of a late one", []uint32{0, 2, 1, 1}, 3, 1, 1},
		{"duplicate of the first", []uint32{0, 0}, 1, 1, 0},
		{"within the window", []uint32{100, 37, 37}, 2, 1, 1},
		{"older than the window", []uint32{100, 36, 36}, 3, 0, 2},
		{"jump beyond the window", []uint32{0, 1000, 1}, 3, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s streamRecv
			for _, q := range tc.seqs {
				s.add(q)
			}
			if s.received != tc.received || s.dups != tc.dups || s.reordered != tc.reordered {
				t.Errorf("received %d dups %d reordered %d, want %d %d %d",
					s.received, s.dups, s.reordered, tc.received, tc.dups, tc.reordered)
			}
		})
	}
}

func TestLossOf(t *testing.T) {
	recv := make([]streamRecv, 3)
	for q := range uint32(10) {
		recv[0].add(q)
		if q%2 == 0 {
			recv[1].add(q)
		}
	}
	recv[1].add(0) // a duplicate does not hide a loss
	sent := []uint32{10, 10, 0}
	s, r, lost, dups, reord := lossOf(sent, recv)
	if s != 20 || r != 15 || lost != 5 || dups != 1 || reord != 0 {
		t.Errorf("sent %d received %d lost %d dups %d reordered %d", s, r, lost, dups, reord)
	}
}

func TestMediaTallyLatency(t *testing.T) {
	a, b := newMediaTally(), newMediaTally()
	for i := range int64(100) {
		a.record(0, (i+1)*1000) // 1..100 µs
	}
	b.record(500, 400) // clock skew cannot be negative
	b.misrouted = 2
	a.merge(b)
	l := mediaLatencyOf(a.latency)
	if l.Count != 101 || l.P50 < 49 || l.P50 > 51 || l.Max < 99.9 || l.Max > 100.1 {
		t.Errorf("latency %+v", l)
	}
	if a.misrouted != 2 {
		t.Errorf("misrouted %d", a.misrouted)
	}
}
