package bench

import (
	"testing"
	"time"
)

func TestTimerIntervals(t *testing.T) {
	tests := []struct {
		t1, t2 time.Duration
		want   []int64
	}{
		{500 * time.Millisecond, 4 * time.Second, []int64{500e6, 1e9, 2e9, 4e9}}, // RFC 3261 Timer E
		{time.Second, time.Second, []int64{1e9}},
		{300 * time.Millisecond, time.Second, []int64{300e6, 600e6, 1e9}},
	}
	for _, tc := range tests {
		tm := newTimers(tc.t1, tc.t2, time.Minute, false)
		if len(tm.intervals) != len(tc.want) {
			t.Fatalf("%v/%v: %v", tc.t1, tc.t2, tm.intervals)
		}
		for i := range tc.want {
			if tm.intervals[i] != tc.want[i] {
				t.Errorf("%v/%v: %v", tc.t1, tc.t2, tm.intervals)
			}
		}
	}
}

func TestFIFO(t *testing.T) {
	var f fifo
	for i := range 3000 { // grows past the first 1024
		f.push(timerEntry{at: int64(i), slot: uint32(i)})
	}
	f.push(timerEntry{at: 5, slot: 9999}) // out of order: clamped to the tail
	out := f.popDue(1499, make([]timerEntry, 0, 4096))
	if len(out) != 1500 || out[0].slot != 0 || out[1499].slot != 1499 {
		t.Fatalf("popped %d", len(out))
	}
	out = f.popDue(1<<62, make([]timerEntry, 0, 10))
	if len(out) != 10 || out[0].slot != 1500 {
		t.Fatalf("cap not honoured: %d %v", len(out), out[0])
	}
	rest := f.popDue(1<<62, make([]timerEntry, 0, 4096))
	if last := rest[len(rest)-1]; last.slot != 9999 || last.at != 2999 {
		t.Fatalf("last %+v", last)
	}
}

func TestRearm(t *testing.T) {
	tm := newTimers(500*time.Millisecond, 4*time.Second, 32*time.Second, false)
	e := timerEntry{slot: 1}
	tm.rearm(e, 0, false, 0)
	tm.rearm(e, 3, false, 0)
	tm.rearm(e, 0, true, 0) // Proceeding: straight to T2
	if tm.levels[1].n != 1 || tm.levels[3].n != 2 {
		t.Fatalf("levels %d %d %d %d", tm.levels[0].n, tm.levels[1].n, tm.levels[2].n, tm.levels[3].n)
	}
	rel := newTimers(500*time.Millisecond, 4*time.Second, 32*time.Second, true)
	rel.arm(1, 1, 0)
	if rel.levels[0].n != 0 || rel.timeout.n != 1 {
		t.Fatal("reliable transport armed a retransmission")
	}
}
