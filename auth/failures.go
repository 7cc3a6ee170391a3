package auth

import (
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Reasons of failed authentications, for logs: short, fixed, and free of
// anything the client sent.
var reasons = [...]struct {
	err  error
	name string
}{
	{ErrNoCredentials, "no_credentials"},
	{ErrBadCredentials, "bad_credentials"},
	{ErrStaleNonce, "stale_nonce"},
	{ErrReplay, "replay"},
	{ErrInvalidToken, "invalid_token"},
	{ErrInvalidRequest, "invalid_request"},
	{ErrInsufficientScope, "insufficient_scope"},
	{ErrIdentityMismatch, "identity_mismatch"},
	{ErrUnavailable, "unavailable"},
}

// reasonOther is the index of errors that wrap no sentinel of ours.
const reasonOther = len(reasons)

func reasonIndex(err error) int {
	for i, r := range reasons {
		if errors.Is(err, r.err) {
			return i
		}
	}
	return reasonOther
}

// Reason names the kind of an authentication failure for logs:
// "no_credentials", "bad_credentials", "invalid_token"… or "other".
func Reason(err error) string {
	if i := reasonIndex(err); i < reasonOther {
		return reasons[i].name
	}
	return "other"
}

// FailureSummary counts failed authentications by reason and logs the
// counts at info at most once per interval. Each failure itself belongs at
// debug: a missing Authorization is the normal first leg of Digest (RFC
// 3261 §22.2), so logging every one at info drowns the log in noise, while
// an attack or a misconfigured fleet still shows in the summary.
//
// The summary is written by a timer armed by the first failure of an
// interval, so a burst followed by silence is still reported, and an idle
// server has no timer at all. It is safe for concurrent use.
type FailureSummary struct {
	log   *zap.Logger
	every time.Duration

	// mu guards counts, timer and closed.
	mu     sync.Mutex
	counts [reasonOther + 1]int
	timer  *time.Timer
	closed bool
}

// NewFailureSummary logs to log at most once per every (10 s when zero).
func NewFailureSummary(log *zap.Logger, every time.Duration) *FailureSummary {
	if every <= 0 {
		every = 10 * time.Second
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &FailureSummary{log: log, every: every}
}

// Add counts one failure.
func (s *FailureSummary) Add(err error) {
	i := reasonIndex(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[i]++
	if s.timer == nil && !s.closed {
		s.timer = time.AfterFunc(s.every, s.flush)
	}
}

// flush writes the summary of the interval that ends now.
func (s *FailureSummary) flush() {
	s.mu.Lock()
	counts := s.counts
	s.counts = [reasonOther + 1]int{}
	s.timer = nil
	s.mu.Unlock()
	total := 0
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return
	}
	s.log.Info("authentication failures", zap.Duration("interval", s.every), zap.Int("total", total),
		zap.Object("by_reason", reasonCounts(counts)))
}

// Close stops the timer and writes what was counted since the last
// summary. Failures added afterwards are counted but never written.
func (s *FailureSummary) Close() {
	s.mu.Lock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	s.flush()
}

// reasonCounts logs the non-zero counts, in the order of reasons.
type reasonCounts [reasonOther + 1]int

func (c reasonCounts) MarshalLogObject(e zapcore.ObjectEncoder) error {
	for i, n := range c {
		if n == 0 {
			continue
		}
		if i < reasonOther {
			e.AddInt(reasons[i].name, n)
		} else {
			e.AddInt("other", n)
		}
	}
	return nil
}
