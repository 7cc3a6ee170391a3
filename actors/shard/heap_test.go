package shard

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDeadlinesPopInOrder: whatever the order of the pushes, and pops
// mixed in, the heap gives the earliest deadline first.
func TestDeadlinesPopInOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		dues []int64
	}{
		{"empty", nil},
		{"one", []int64{5}},
		{"ascending", []int64{1, 2, 3, 4, 5}},
		{"descending", []int64{5, 4, 3, 2, 1}},
		{"equal", []int64{3, 3, 3}},
		{"random", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dues := tc.dues
			if tc.name == "random" {
				r := rand.New(rand.NewPCG(1, 2))
				for range 200 {
					dues = append(dues, r.Int64N(50))
				}
			}
			var h deadlines
			var got []int64
			for i, d := range dues {
				h.push(deadline{due: d})
				if i%3 == 2 { // pops mixed in
					got = append(got, h.pop().due)
				}
			}
			for len(h) > 0 {
				got = append(got, h.pop().due)
			}
			if len(got) != len(dues) {
				t.Fatalf("popped %d, pushed %d", len(got), len(dues))
			}
			// Every pop is the least of what was in the heap then: check
			// against a sorted model of the same pushes and pops.
			var model, want []int64
			for i, d := range dues {
				model = append(model, d)
				slices.Sort(model)
				if i%3 == 2 {
					want, model = append(want, model[0]), model[1:]
				}
			}
			want = append(want, model...)
			if !slices.Equal(got, want) {
				t.Fatalf("popped %v, want %v", got, want)
			}
		})
	}
}
