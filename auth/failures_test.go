package auth

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ErrNoCredentials, "no_credentials"},
		{fmt.Errorf("%w: token expired", ErrInvalidToken), "invalid_token"},
		{&ScopeError{Scope: ScopeRegister}, "insufficient_scope"},
		{fmt.Errorf("digest: %w", ErrStaleNonce), "stale_nonce"},
		{ErrBadCredentials, "bad_credentials"},
		{ErrReplay, "replay"},
		{ErrInvalidRequest, "invalid_request"},
		{ErrIdentityMismatch, "identity_mismatch"},
		{ErrUnavailable, "unavailable"},
		{errors.New("something else"), "other"},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestFailureSummary: failures are summed by reason into at most one info
// line per interval, written by the interval's end even if nothing else
// fails; an idle interval writes nothing; Close writes the rest.
func TestFailureSummary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		s := NewFailureSummary(zap.New(core), 10*time.Second)
		for range 5 {
			s.Add(ErrNoCredentials)
		}
		s.Add(fmt.Errorf("%w: token expired", ErrInvalidToken))
		s.Add(errors.New("boom"))
		time.Sleep(9 * time.Second)
		if n := logs.Len(); n != 0 {
			t.Fatalf("%d lines before the interval ended", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		lines := logs.TakeAll()
		if len(lines) != 1 {
			t.Fatalf("%d summary lines, want 1", len(lines))
		}
		want := map[string]any{"no_credentials": 5, "invalid_token": 1, "other": 1}
		checkSummary(t, lines[0], 7, want)

		time.Sleep(time.Minute) // idle: nothing
		synctest.Wait()
		if n := logs.Len(); n != 0 {
			t.Fatalf("%d lines while idle", n)
		}

		s.Add(ErrBadCredentials)
		time.Sleep(3 * time.Second)
		s.Add(ErrBadCredentials)
		s.Close()
		lines = logs.TakeAll()
		if len(lines) != 1 {
			t.Fatalf("%d lines at Close, want 1", len(lines))
		}
		checkSummary(t, lines[0], 2, map[string]any{"bad_credentials": 2})
		s.Add(ErrBadCredentials) // after Close: no timer, no line
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := logs.Len(); n != 0 {
			t.Fatalf("%d lines after Close", n)
		}
	})
}

func checkSummary(t *testing.T, e observer.LoggedEntry, total int64, want map[string]any) {
	t.Helper()
	if e.Level != zapcore.InfoLevel || e.Message != "authentication failures" {
		t.Fatalf("entry %v %q", e.Level, e.Message)
	}
	m := e.ContextMap()
	if m["total"] != total {
		t.Fatalf("total = %v, want %d", m["total"], total)
	}
	by, _ := m["by_reason"].(map[string]any)
	if len(by) != len(want) {
		t.Fatalf("by_reason = %v, want %v", by, want)
	}
	for k, v := range want {
		if by[k] != v {
			t.Fatalf("by_reason = %v, want %v", by, want)
		}
	}
}
