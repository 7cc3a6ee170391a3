package status_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/messaging"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/sip/status"
	"github.com/b2bua/b2bua/store"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   int
		reason string
	}{
		{"out of order", registrar.ErrOutOfOrder, 500, "CSeq Out of Order"},
		{"wrapped out of order", fmt.Errorf("bind: %w", registrar.ErrOutOfOrder), 500, "CSeq Out of Order"},
		{"bad wildcard", registrar.ErrBadWildcard, 400, "Invalid Wildcard Contact"},
		{"too many contacts", registrar.ErrTooManyContacts, 403, "Too Many Contacts"},
		{"store", fmt.Errorf("%w: disk", registrar.ErrStore), 500, "Server Internal Error"},
		{"record too large", registrar.ErrTooLarge, 413, "Registration Too Large"},
		{"store full", fmt.Errorf("%w: %w", registrar.ErrStore, store.ErrBusy), 503, "Store Busy"},
		{"panic in an entity", fmt.Errorf("%w: boom", shard.ErrInternal), 500, "Server Internal Error"},
		{"entity gone", shard.ErrUnavailable, 503, "Service Unavailable"},
		{"interval too brief classifies itself", &registrar.IntervalTooBriefError{MinExpires: 60}, 423, "Interval Too Brief"},
		{"edge error classifies itself", status.New(400, "Missing Call-ID"), 400, "Missing Call-ID"},
		{"no contact", registrar.ErrNoContact, 480, "Temporarily Unavailable"},
		{"max-forwards exhausted", registrar.ErrTooManyHops, 483, "Too Many Hops"},
		{"contact loops back", fmt.Errorf("forward: %w", registrar.ErrLoop), 482, "Loop Detected"},
		{"no dialog", dialog.ErrNoDialog, 481, "Call/Transaction Does Not Exist"},
		{"contact did not answer", fmt.Errorf("forward: %w", outbound.ErrTimeout), 408, "Request Timeout"},
		{"contact unreachable", fmt.Errorf("%w: connection refused", outbound.ErrTransport), 480, "Temporarily Unavailable"},
		{"port not running", outbound.ErrUnavailable, 503, "Service Unavailable"},
		{"deadline", context.DeadlineExceeded, 408, "Request Timeout"},
		{"no credentials", auth.ErrNoCredentials, 401, "Unauthorized"},
		{"invalid token", fmt.Errorf("%w: expired", auth.ErrInvalidToken), 401, "Unauthorized"},
		{"stale nonce", auth.ErrStaleNonce, 401, "Unauthorized"},
		{"replay", auth.ErrReplay, 401, "Unauthorized"},
		{"bad credentials", auth.ErrBadCredentials, 401, "Unauthorized"},
		{"bad header", auth.ErrInvalidRequest, 400, "Bad Authorization Header"},
		{"scope", auth.ErrInsufficientScope, 403, "Insufficient Scope"},
		{"mismatch", auth.ErrIdentityMismatch, 403, "Identity Does Not Match"},
		{"authority down", auth.ErrUnavailable, 503, "Authorization Server Unavailable"},
		{"message to an unknown user", messaging.ErrUnknownUser, 404, "Not Found"},
		{"mailbox full: 486, not 503", messaging.ErrMailboxFull, 486, "Mailbox Full"},
		{"message body too large", messaging.ErrTooLarge, 413, "Request Entity Too Large"},
		{"message without body", messaging.ErrNoBody, 400, "Missing Body"},
		{"message not stored", fmt.Errorf("%w: disk", messaging.ErrStore), 500, "Server Internal Error"},
		{"message store busy", fmt.Errorf("%w: %w", messaging.ErrStore, store.ErrBusy), 503, "Store Busy"},
		{"unknown", errors.New("boom"), 500, "Server Internal Error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, reason := status.Of(tc.err)
			if code != tc.code || reason != tc.reason {
				t.Fatalf("Of = %d %q, want %d %q", code, reason, tc.code, tc.reason)
			}
		})
	}
}

func TestReason(t *testing.T) {
	for code, want := range map[int]string{423: "Interval Too Brief", 489: "Bad Event", 412: "Conditional Request Failed", 299: "Unknown"} {
		if got := status.Reason(code); got != want {
			t.Errorf("Reason(%d) = %q, want %q", code, got, want)
		}
	}
}
