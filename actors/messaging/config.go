package messaging

import (
	"errors"
	"runtime"
	"time"
)

// Config holds the message boxes' limits. The yaml tags are its keys
// under `messaging:` in the server's configuration file.
type Config struct {
	// Expiry is how long a stored MESSAGE waits for its recipient to
	// register: past it, it is deleted and never delivered.
	Expiry time.Duration `yaml:"expiry"`
	// MaxStored caps the MESSAGEs one box holds: past it a MESSAGE for an
	// offline user gets 486 Busy Here "Mailbox Full" (doc.go says why
	// not 503).
	MaxStored int `yaml:"max_stored"`
	// MaxBody is the largest MESSAGE body taken, in bytes (413 past it).
	// RFC 3428 §7 keeps a MESSAGE under 1300 bytes on UDP paths; a
	// larger one is delivered over TCP when the contact registered over
	// TCP, and fails as a transport error (so it is stored) otherwise.
	MaxBody int `yaml:"max_body"`
	// DeliveryTimeout bounds one delivery (all forks of one MESSAGE): a
	// contact that has not answered by then counts as timed out. Shorter
	// than the sender's own timeout (RFC 3261 Timer F, 32 s), so a
	// MESSAGE to stale contacts is stored and answered 202 in time.
	DeliveryTimeout time.Duration `yaml:"delivery_timeout"`
	// Shards of the kind.
	Shards int `yaml:"shards"`
	// Idle is how long a box with stored messages stays resident without
	// a message before it passivates.
	Idle time.Duration `yaml:"idle"`
	// Now is the clock; nil means time.Now.
	Now func() time.Time `yaml:"-"`
	// retransWindow and tryingAfter replace window (32 s) and
	// tryingAfter (3.5 s) in tests.
	retransWindow, tryingAfter time.Duration
}

// DefaultConfig: messages kept 7 days, 100 per box, bodies up to 8 KiB,
// 8 s per delivery, 8 shards per CPU, boxes passivate after 5 s idle.
func DefaultConfig() Config {
	return Config{Expiry: 7 * 24 * time.Hour, MaxStored: 100, MaxBody: 8 << 10, DeliveryTimeout: 8 * time.Second,
		Shards: 8 * runtime.GOMAXPROCS(0), Idle: 5 * time.Second}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Expiry <= 0:
		return errors.New("messaging: expiry must be positive")
	case c.MaxStored < 1:
		return errors.New("messaging: max stored must be at least 1")
	case c.MaxBody < 1 || c.MaxBody > maxBodyLimit:
		return errors.New("messaging: max body must be between 1 and 65536 bytes")
	case c.DeliveryTimeout <= 0:
		return errors.New("messaging: delivery timeout must be positive")
	case c.Shards < 1:
		return errors.New("messaging: shards must be at least 1")
	case c.Idle < 0:
		return errors.New("messaging: idle time must not be negative")
	}
	return nil
}

// maxBodyLimit keeps a full box (MaxStored bodies) within what one store
// record holds comfortably.
const maxBodyLimit = 64 << 10

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
