package shard

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestPoolRunsEverything: every scheduled function runs exactly once,
// whether a worker takes it, the queue is full (its own goroutine), it
// schedules another from inside, or the pool is closed.
func TestPoolRunsEverything(t *testing.T) {
	p := newPool(0)
	var ran atomic.Int64
	var wg sync.WaitGroup
	const n = 20000
	wg.Add(2 * n)
	for range n {
		p.Schedule(func() {
			ran.Add(1)
			wg.Done()
			p.Schedule(func() { ran.Add(1); wg.Done() }) // from a worker: never blocks
		})
	}
	wg.Wait()
	p.close()
	wg.Add(1)
	p.Schedule(func() { ran.Add(1); wg.Done() }) // after close
	wg.Wait()
	if got := ran.Load(); got != 2*n+1 {
		t.Fatalf("%d ran, want %d", got, 2*n+1)
	}
}
