package shard

import (
	"runtime"
	"sync"
)

// pool is the dispatcher of every entity and shard: it runs their
// mailboxes on long-lived goroutines. protoactor's default dispatcher
// starts a goroutine for every burst of messages, and each of those grows
// its stack anew on our call depth (middleware, actor, registrar rules,
// bbolt): stack copying measured 28% of the CPU of a refresh that wakes a
// passivated AOR. A worker grows its stack once.
//
// Shards get a pool of their own with a worker per shard: protoactor's
// mailbox loop keeps its goroutine while messages keep coming, so a busy
// shard holds its worker, and must not hold the entities' ones.
//
// Schedule never blocks (a mailbox schedules from inside another's run):
// when every worker is busy and the queue is full, or after close, the
// mailbox runs on a goroutine of its own, as with the default dispatcher.
type pool struct {
	work       chan runner
	done       chan struct{}
	throughput int
	wg         sync.WaitGroup
	closeOnce  sync.Once
}

// throughput is how many messages a mailbox handles before it yields, as
// protoactor's default dispatcher.
const throughput = 300

// newPool starts n workers (n <= 0: 4 per CPU).
func newPool(n int) *pool {
	p := &pool{work: make(chan runner, 4096), done: make(chan struct{}), throughput: throughput}
	if n <= 0 {
		n = 4 * runtime.GOMAXPROCS(0)
	}
	p.wg.Add(n)
	for range n {
		go p.worker()
	}
	return p
}

func (p *pool) worker() {
	defer p.wg.Done()
	for {
		select {
		case r := <-p.work:
			r.process()
		case <-p.done:
			for { // whatever was queued before close still runs
				select {
				case r := <-p.work:
					r.process()
				default:
					return
				}
			}
		}
	}
}

// runner is what the workers run: a mailbox of ours, or a func given to
// Schedule. A func and a pointer fit in an interface as they are, so
// neither allocates (a method value, m.process, would).
type runner interface{ process() }

type runFunc func()

func (f runFunc) process() { f() }

// Schedule implements actor.Dispatcher.
func (p *pool) Schedule(fn func()) { p.run(runFunc(fn)) }

// run runs r on a worker.
func (p *pool) run(r runner) {
	select {
	case <-p.done:
		go r.process()
		return
	default:
	}
	select {
	case p.work <- r:
	default:
		go r.process()
	}
}

// Throughput implements actor.Dispatcher.
func (p *pool) Throughput() int { return p.throughput }

// close stops the workers once they ran what was queued.
func (p *pool) close() {
	p.closeOnce.Do(func() { close(p.done) })
	p.wg.Wait()
}
