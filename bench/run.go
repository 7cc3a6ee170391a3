package bench

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Result is what a run measured.
type Result struct {
	Scenario  string
	Transport string
	Target    string
	Rate      float64
	Start     time.Time
	// SendTime is the length of the send phase, Elapsed the whole run
	// including the wait for outstanding answers.
	SendTime time.Duration
	Elapsed  time.Duration
	Total    Counts
	// Outstanding counts logical requests still open when the run stopped
	// (only after a cancel).
	Outstanding int64
	// FailuresByStatus counts failed logical requests by final status.
	FailuresByStatus map[int]uint64
	// Latency is that of successful logical requests, first send to final
	// 2xx, challenges and steps included.
	Latency Percentiles
	// SendRate is logical requests started per second of the send phase;
	// CompletionRate successful ones per second until the last ended.
	SendRate       float64
	CompletionRate float64
	// FailureRatio is Total.Unsuccessful() over the requests offered
	// (started and throttled).
	FailureRatio float64
	TargetProc   ProcStats
	Generator    ProcStats
	Series       []Sample
}

// Run drives one load run and returns what it measured. The error is
// ErrTooManyFailures or ErrNothingSent (with a full Result) when the run
// went through but failed its bar, ctx's error (with the Result so far)
// when ctx ended the run, or a setup error (nil Result). Every
// wait is bounded: the send phase by Duration/Total, the drain by Timer F.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	e.base = time.Now()
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range e.locals {
		wg.Go(func() { e.readLoop(i) })
	}
	wg.Go(func() { e.sweep(bg) })
	rep := newReporter(e)
	repDone := make(chan []Sample, 1)
	repCtx, stopRep := context.WithCancel(context.Background())
	go func() { repDone <- rep.run(repCtx) }()

	e.pace(ctx)
	sendTime := time.Duration(e.now())
	e.drain(ctx)
	stopRep()
	series := <-repDone
	stopBG()
	if err := e.tr.close(); err != nil {
		e.log.Debug("close sockets", zap.Error(err))
	}
	wg.Wait()
	res := e.result(sendTime, series, rep)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("bench: run cut short with %d outstanding: %w", res.Outstanding, err)
	}
	return res, res.check(cfg.MaxFailures)
}

// readLoop runs the reader of socket sock.
func (e *engine) readLoop(sock int) {
	ob := newOutbox(sock)
	e.tr.read(sock, func(msg []byte) { e.onResponse(msg, ob) }, func() { e.flush(ob) })
}

// pace sends on schedule until the send phase ends (open loop): each round
// sends what is due since the start, in batches of up to maxBatch per
// socket, then sleeps about a millisecond.
func (e *engine) pace(ctx context.Context) {
	obs := make([]*outbox, len(e.locals))
	for i := range obs {
		obs[i] = newOutbox(i)
	}
	scratch := make([]byte, 0, 64)
	var seq uint64
	next := 0
	for ctx.Err() == nil {
		el := e.now()
		if e.cfg.Duration > 0 && el >= int64(e.cfg.Duration) || e.cfg.Total > 0 && seq >= e.cfg.Total {
			break
		}
		due := e.expected(el) - seq
		if e.cfg.Total > 0 {
			due = min(due, e.cfg.Total-seq)
		}
		if due == 0 {
			time.Sleep(e.pause(el))
			continue
		}
		for range min(due, maxBatch) {
			e.start(seq, obs[next], scratch)
			seq++
			next = (next + 1) % len(obs)
		}
		for _, ob := range obs {
			e.flush(ob)
		}
	}
}

// rateAt is the target rate at el ns into the run (linear ramp).
func (e *engine) rateAt(el int64) float64 {
	if r := e.cfg.Ramp; r > 0 && el < int64(r) {
		return e.cfg.Rate * float64(el) / float64(r)
	}
	return e.cfg.Rate
}

// expected is how many requests should have started by el: the integral of
// rateAt, plus one so the first goes out at once.
func (e *engine) expected(el int64) uint64 {
	t, r, ramp := float64(el)/1e9, e.cfg.Rate, e.cfg.Ramp.Seconds()
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
func (e *engine) pause(el int64) time.Duration {
	rate := max(e.rateAt(el), 1)
	return min(max(time.Duration(float64(time.Second)/rate), time.Millisecond), 50*time.Millisecond)
}

// drain waits for outstanding requests to end. The sweeper times every
// transaction out by Timer F, so the wait is bounded by the longest chain
// a logical request can take; ctx cuts it short.
func (e *engine) drain(ctx context.Context) {
	limit := time.Duration(e.steps+maxChallenges)*e.cfg.Timeout + time.Second
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

// result assembles the Result once every goroutine has stopped.
func (e *engine) result(sendTime time.Duration, series []Sample, rep *reporter) *Result {
	c := e.st.counts()
	res := &Result{
		Scenario: e.cfg.Scenario.Name(), Transport: e.cfg.Transport, Target: e.cfg.Target,
		Rate: e.cfg.Rate, Start: e.base, SendTime: sendTime, Elapsed: time.Since(e.base),
		Total: c, Outstanding: e.active.Load(), FailuresByStatus: e.st.failuresByStatus(),
		Latency: e.st.totalPercentiles(), Series: series,
		TargetProc: rep.target.stats(), Generator: rep.self.stats(),
	}
	if s := sendTime.Seconds(); s > 0 {
		res.SendRate = float64(c.Started) / s
	}
	if s := max(sendTime, time.Duration(e.lastDone.Load())).Seconds(); s > 0 {
		res.CompletionRate = float64(c.OK) / s
	}
	if offered := c.Started + c.Throttled; offered > 0 {
		res.FailureRatio = float64(c.Unsuccessful()) / float64(offered)
	}
	return res
}

// check compares the run with the failure bar.
func (r *Result) check(maxFailures float64) error {
	if r.Total.Started == 0 {
		return ErrNothingSent
	}
	if r.FailureRatio > maxFailures {
		return fmt.Errorf("%w: %.4f > %.4f (%d failed, %d timeouts, %d throttled of %d)",
			ErrTooManyFailures, r.FailureRatio, maxFailures,
			r.Total.Failed, r.Total.Timeouts, r.Total.Throttled, r.Total.Started+r.Total.Throttled)
	}
	return nil
}
