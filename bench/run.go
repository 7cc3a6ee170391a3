package bench

import (
	"context"
	"fmt"
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
	// Presence holds the setup, NOTIFY and memory figures of the presence
	// scenario; nil for the others.
	Presence *PresenceResult
	// Message holds the setup, relay and store-cost figures of the message
	// scenario sent to online or offline recipients; nil for the others.
	Message *MessageResult
	// Call holds the setup, per-leg and concurrency figures of the call
	// scenario; nil for the others.
	Call *CallResult
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
	ph, isPhased := cfg.Scenario.(phased)
	main := e.newPhase(cfg.Scenario, cfg.Rate, cfg.Duration, cfg.Total, 0)
	main.ramp = cfg.Ramp
	first := main
	var setup *phase
	if isPhased {
		if setup, main = ph.phases(e); setup != nil {
			first = setup
		} else {
			first = main
		}
	}
	// Readers count into the current phase from their first datagram on.
	e.cur.Store(first)
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range e.locals {
		wg.Go(func() { e.readLoop(i) })
	}
	wg.Go(func() { e.sweep(bg) })

	var res *Result
	var setupErr error
	if isPhased {
		res, setupErr = ph.runPhases(ctx, e, setup, main)
	} else {
		res = e.runPhase(ctx, main)
	}
	// A reader may hold answers it queued in its last batch (the 200 OK
	// to a NOTIFY the scenario has counted already, the ACK of a final
	// response): stop the readers and the sweeper, let each flush what it
	// holds, and only then close the sockets those writes go out on.
	stopBG()
	e.tr.stop()
	wg.Wait()
	if err := e.tr.close(); err != nil {
		e.log.Debug("close sockets", zap.Error(err))
	}
	if res == nil { // the scenario could not start its phases
		return nil, setupErr
	}
	res.Outstanding = e.active.Load()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("bench: run cut short with %d outstanding: %w", res.Outstanding, err)
	}
	if setupErr != nil {
		return res, setupErr
	}
	return res, res.check(cfg.MaxFailures)
}

// readLoop runs the reader of socket sock.
func (e *engine) readLoop(sock int) {
	ob := newOutbox(sock)
	e.tr.read(sock, func(msg []byte) { e.onMessage(msg, ob) }, func() { e.flush(ob) })
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
