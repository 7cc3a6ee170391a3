package ua

import (
	"context"
	"log/slog"
	"sync"
)

// closableLog is the slog handler sipgo logs through: the application's
// zap logger until Close, nothing after. sipgo's TCP readers end on their
// own goroutines after the peer closed and still log then, when the
// application may have moved on (a test's logger must not be written to
// once its test returned).
type closableLog struct {
	next  slog.Handler
	state *logState
}

type logState struct {
	mu     sync.RWMutex
	closed bool
}

func newClosableLog(next slog.Handler) *closableLog {
	return &closableLog{next: next, state: &logState{}}
}

// close drops every record from now on; it returns once no record is
// being written.
func (l *closableLog) close() {
	l.state.mu.Lock()
	l.state.closed = true
	l.state.mu.Unlock()
}

func (l *closableLog) Enabled(ctx context.Context, level slog.Level) bool {
	return l.next.Enabled(ctx, level)
}

func (l *closableLog) Handle(ctx context.Context, r slog.Record) error {
	l.state.mu.RLock()
	defer l.state.mu.RUnlock()
	if l.state.closed {
		return nil
	}
	return l.next.Handle(ctx, r)
}

func (l *closableLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &closableLog{next: l.next.WithAttrs(as), state: l.state}
}

func (l *closableLog) WithGroup(name string) slog.Handler {
	return &closableLog{next: l.next.WithGroup(name), state: l.state}
}
