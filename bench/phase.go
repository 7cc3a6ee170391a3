package bench

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// phase is one send phase of a run: a scenario sent at a rate until its
// duration or total. Most runs have one; presence has a setup phase
// (SUBSCRIBE) before the measured one (PUBLISH). The sockets, slots and
// timers of the engine outlive phases; the counters do not.
type phase struct {
	scen     Scenario
	steps    int
	rate     float64
	ramp     time.Duration
	duration time.Duration
	total    uint64
	// seqBase is added to the sequence numbers of the phase, so that its
	// Call-IDs and tags differ from those of earlier phases.
	seqBase uint64
	// hold is how long a logical request may wait between two steps (a
	// call's hold time); the drain waits that much longer.
	hold time.Duration
	// t0 is when the phase began, ns since the run's start.
	t0 int64
	st *stats
	// lastDone is when the phase's last logical request ended, ns since
	// the run's start.
	lastDone atomic.Int64
}

func (e *engine) newPhase(s Scenario, rate float64, d time.Duration, total, seqBase uint64) *phase {
	return &phase{scen: s, steps: s.Steps(), rate: rate, duration: d, total: total, seqBase: seqBase, st: newStats()}
}

// runPhase sends p, waits for its answers and returns what it measured.
func (e *engine) runPhase(ctx context.Context, p *phase) *Result {
	p.t0 = e.now()
	e.cur.Store(p)
	rep := newReporter(e, p)
	repDone := make(chan []Sample, 1)
	repCtx, stopRep := context.WithCancel(context.Background())
	go func() { repDone <- rep.run(repCtx) }()
	e.pace(ctx, p)
	sendTime := time.Duration(e.now() - p.t0)
	e.drain(ctx, p)
	stopRep()
	return e.result(p, sendTime, <-repDone, rep)
}

// pace sends on schedule until the send phase ends (open loop): each round
// sends what is due since the start, in batches of up to maxBatch per
// socket, then sleeps about a millisecond.
func (e *engine) pace(ctx context.Context, p *phase) {
	obs := make([]*outbox, len(e.locals))
	for i := range obs {
		obs[i] = newOutbox(i)
	}
	scratch := make([]byte, 0, 64)
	var seq uint64
	next := 0
	for ctx.Err() == nil {
		el := e.now() - p.t0
		if p.duration > 0 && el >= int64(p.duration) || p.total > 0 && seq >= p.total {
			break
		}
		due := p.expected(el) - seq
		if p.total > 0 {
			due = min(due, p.total-seq)
		}
		if due == 0 {
			time.Sleep(p.pause(el))
			continue
		}
		for range min(due, maxBatch) {
			e.start(p, p.seqBase+seq, obs[next], scratch)
			seq++
			next = (next + 1) % len(obs)
		}
		for _, ob := range obs {
			e.flush(ob)
		}
	}
}

// rateAt is the target rate at el ns into the phase (linear ramp).
func (p *phase) rateAt(el int64) float64 {
	if r := p.ramp; r > 0 && el < int64(r) {
		return p.rate * float64(el) / float64(r)
	}
	return p.rate
}

// expected is how many requests should have started by el: the integral of
// rateAt, plus one so the first goes out at once.
func (p *phase) expected(el int64) uint64 {
	t, r, ramp := float64(el)/1e9, p.rate, p.ramp.Seconds()
	var n float64
	if t < ramp {
		n = r * t * t / (2 * ramp)
	} else {
		n = r*ramp/2 + r*(t-ramp)
	}
	return uint64(math.Floor(n)) + 1
}

// pause is the sleep between rounds: one interval between requests, but at
// least 1 ms (so that a batch goes out per syscall) and at most 50 ms.
func (p *phase) pause(el int64) time.Duration {
	rate := max(p.rateAt(el), 1)
	return min(max(time.Duration(float64(time.Second)/rate), time.Millisecond), 50*time.Millisecond)
}

// drain waits for outstanding requests to end. The sweeper times every
// transaction out by Timer F, so the wait is bounded by the longest chain
// a logical request can take; ctx cuts it short.
func (e *engine) drain(ctx context.Context, p *phase) {
	limit := time.Duration(p.steps+maxChallenges)*e.cfg.Timeout + p.hold + time.Second
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for e.active.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			e.log.Warn("drain gave up", zap.Int64("outstanding", e.active.Load()))
			return
		case <-tick.C:
		}
	}
}

// result assembles the Result of phase p once its requests have ended.
func (e *engine) result(p *phase, sendTime time.Duration, series []Sample, rep *reporter) *Result {
	c := p.st.counts()
	res := &Result{
		Scenario: p.scen.Name(), Transport: e.cfg.Transport, Target: e.cfg.Target,
		Rate: p.rate, Start: e.base.Add(time.Duration(p.t0)), SendTime: sendTime,
		Elapsed: time.Duration(e.now() - p.t0), Total: c, Outstanding: e.active.Load(),
		FailuresByStatus: p.st.failuresByStatus(), Latency: p.st.totalPercentiles(), Series: series,
		TargetProc: rep.target.stats(), Generator: rep.self.stats(),
	}
	if s := sendTime.Seconds(); s > 0 {
		res.SendRate = float64(c.Started) / s
	}
	if s := max(sendTime, time.Duration(p.lastDone.Load()-p.t0)).Seconds(); s > 0 {
		res.CompletionRate = float64(c.OK) / s
	}
	if offered := c.Started + c.Throttled; offered > 0 {
		res.FailureRatio = float64(c.Unsuccessful()) / float64(offered)
	}
	return res
}
