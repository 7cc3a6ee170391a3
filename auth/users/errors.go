package users

import "errors"

var (
	// ErrUserExists is returned by AddUser for a name already taken.
	ErrUserExists = errors.New("users: user exists")
	// ErrNoSuchUser is returned for a name without a record.
	ErrNoSuchUser = errors.New("users: no such user")
	// ErrInvalidName is returned for a name that is not a plain SIP user
	// part (RFC 3261 §25.1: no "@", ":", ";", space, control characters).
	ErrInvalidName = errors.New("users: invalid user name")
	// ErrEmptyPassword is returned when a password is empty.
	ErrEmptyPassword = errors.New("users: empty password")
	// ErrUserDisabled is returned when a token is requested for a disabled
	// user.
	ErrUserDisabled = errors.New("users: user disabled")
	// ErrInvalidScope is returned for a malformed scope (RFC 6749 §3.3
	// scope-token) or one the user was not granted.
	ErrInvalidScope = errors.New("users: invalid scope")
	// ErrInvalidConfig is returned by New for a Config that fails
	// Validate.
	ErrInvalidConfig = errors.New("users: invalid config")
)
