package messaging

import "errors"

var (
	// ErrUnknownUser is a MESSAGE for an AOR that is neither a user of the
	// users service nor ever registered: 404.
	ErrUnknownUser = errors.New("messaging: unknown user")
	// ErrMailboxFull is a MESSAGE to store in a box that holds
	// Config.MaxStored already: 486 Busy Here, "Mailbox Full". Not 503:
	// the condition belongs to one recipient, and a 503 would make an RFC
	// 3263 client fail over to another server for nothing.
	ErrMailboxFull = errors.New("messaging: mailbox full")
	// ErrTooLarge is a body over Config.MaxBody: 413.
	ErrTooLarge = errors.New("messaging: body too large")
	// ErrNoBody is a MESSAGE without a body (RFC 3428 §4 has it carry
	// one): 400.
	ErrNoBody = errors.New("messaging: MESSAGE without a body")
	// ErrStore is a MESSAGE that could not be stored; nothing was
	// acknowledged: 500 (503 when the store is busy).
	ErrStore = errors.New("messaging: store write failed")
	// ErrInProgress answers a retransmission of a MESSAGE whose delivery
	// is in progress: the original's answer serves both (RFC 3261
	// §17.2.2), so the edge sends no final response for the copy.
	ErrInProgress = errors.New("messaging: retransmission of a MESSAGE in progress")
)
