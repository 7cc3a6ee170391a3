package dialog

import "errors"

var (
	// ErrNoDialog is an in-dialog request (or a CANCEL) that matches no
	// dialog or transaction here: 481 Call/Transaction Does Not Exist
	// (RFC 3261 §12.2.2, §15.1.2, §9.2).
	ErrNoDialog = errors.New("dialog: no such dialog")
	// ErrOwned is an Add of a dialog that another actor owns already.
	ErrOwned = errors.New("dialog: owned by another actor")
)
