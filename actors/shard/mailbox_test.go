package shard

import (
	"slices"
	"testing"
)

// TestFifo: the mailbox's queue keeps order across wrap-around and
// growth, and gives back a burst's room once empty.
func TestFifo(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []int // n > 0: push n messages; n < 0: pop -n
		room int   // len(buf) at the end
	}{
		{"push pop", []int{3, -3}, 4},
		{"wrap around", []int{3, -2, 3, -4}, 4},
		{"grow while wrapped", []int{3, -2, 5, -6}, 8},
		{"burst kept", []int{100, -100}, 128},
		{"big burst shrinks", []int{2000, -2000}, 0},
		{"big burst not yet empty", []int{2000, -1999}, 2048},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q fifo
			next, want := 0, 0
			for _, op := range tc.ops {
				for range op {
					q.push(next, 4)
					next++
				}
				for range -op {
					got := q.pop()
					if got != want {
						t.Fatalf("popped %v, want %d", got, want)
					}
					want++
				}
			}
			if len(q.buf) != tc.room {
				t.Fatalf("room %d, want %d", len(q.buf), tc.room)
			}
			var rest []int
			for m := q.pop(); m != nil; m = q.pop() {
				rest = append(rest, m.(int))
			}
			if wantRest := seq(want, next); !slices.Equal(rest, wantRest) {
				t.Fatalf("left %v, want %v", rest, wantRest)
			}
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
