// Package siplog bridges sipgo's slog logging into a zap logger, for the
// server's edge and the client SDK alike.
package siplog

import (
	"context"
	"log/slog"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// New returns the slog logger to hand to sipgo (it speaks slog), bridged
// into log. It demotes to debug what a peer can provoke at will (parse
// failures of garbage it sent, a connection it closed), so bad input
// cannot flood the log, and drops raw message text, which may carry
// credentials.
func New(log *zap.Logger) *slog.Logger {
	return slog.New(&sanitizer{next: zapslog.NewHandler(log.Core(), zapslog.WithName("sipgo"))})
}

type sanitizer struct{ next slog.Handler }

// peerFaults are (lower-case) parts of sipgo log messages caused by what a
// peer sent: parse failures, stray responses, malformed requests.
var peerFaults = []string{"parse", "malformed", "read filter", "unhandled sip response", "make key failed", "stateless 400",
	"ref went negative"}

func (s *sanitizer) Enabled(ctx context.Context, l slog.Level) bool { return s.next.Enabled(ctx, l) }

func (s *sanitizer) Handle(ctx context.Context, r slog.Record) error {
	lower := strings.ToLower(r.Message)
	level := r.Level
	for _, f := range peerFaults {
		if strings.Contains(lower, f) {
			level = slog.LevelDebug
			break
		}
	}
	if level != r.Level && !s.next.Enabled(ctx, level) {
		return nil
	}
	out := slog.NewRecord(r.Time, level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "data", "msg", "req", "res":
			if a.Value.Kind() == slog.KindString && strings.Contains(a.Value.String(), "\n") {
				a = slog.Int(a.Key+"_bytes", len(a.Value.String()))
			}
		}
		out.AddAttrs(a)
		return true
	})
	return s.next.Handle(ctx, out)
}

func (s *sanitizer) WithAttrs(as []slog.Attr) slog.Handler {
	return &sanitizer{next: s.next.WithAttrs(as)}
}

func (s *sanitizer) WithGroup(name string) slog.Handler {
	return &sanitizer{next: s.next.WithGroup(name)}
}
