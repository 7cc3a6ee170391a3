package registrar

import (
	"errors"
	"runtime"
	"time"
)

// Config holds the registrar's binding rules and sharding. The yaml tags
// are its keys under `registrar:` in the server's configuration file.
type Config struct {
	MinExpires     int `yaml:"min_expires"`     // shorter non-zero requests get 423 with this Min-Expires (seconds)
	MaxExpires     int `yaml:"max_expires"`     // longer requests are clamped to this
	DefaultExpires int `yaml:"default_expires"` // used when neither the contact nor the request gives one
	MaxContacts    int `yaml:"max_contacts"`    // bindings per AOR
	Shards         int `yaml:"shards"`          // shard actors; a small multiple of GOMAXPROCS
	// Idle is how long a registration actor stays resident without a
	// message before it passivates: it stops, and its shard keeps only its
	// key and next expiry; the next message or the expiry brings it back
	// from the store.
	Idle time.Duration `yaml:"idle"`
	// Now is the clock; nil means time.Now. Tests may set it.
	Now func() time.Time `yaml:"-"`
	// Changed, when set, is told the live contacts of an AOR whenever
	// the set changes (a contact added, removed or expired): the server
	// wires it to the presence server, which derives presence from
	// registration. It runs on the registration actor's goroutine and
	// must not block.
	Changed func(aor AOR, contacts []string) `yaml:"-"`
}

// DefaultConfig is 60 s minimum, 7200 s maximum, 3600 s default, 32 contacts
// per AOR, 8 shards per CPU and passivation after 30 seconds idle (a phone
// refreshes at 90% of its expiry, so a longer stay rarely serves a refresh and
// keeps every new AOR's actor for the collector to mark: actors/README.md).
func DefaultConfig() Config {
	return Config{MinExpires: 60, MaxExpires: 7200, DefaultExpires: 3600, MaxContacts: 32,
		Shards: 8 * runtime.GOMAXPROCS(0), Idle: 30 * time.Second}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MinExpires < 0, c.MaxExpires < 1, c.DefaultExpires < 1:
		return errors.New("registrar: expiries must be positive")
	case c.MinExpires > c.MaxExpires:
		return errors.New("registrar: min expires above max expires")
	case c.MaxContacts < 1:
		return errors.New("registrar: max contacts must be at least 1")
	case c.Shards < 1:
		return errors.New("registrar: shards must be at least 1")
	case c.Idle < 0:
		return errors.New("registrar: idle time must not be negative")
	}
	return nil
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
