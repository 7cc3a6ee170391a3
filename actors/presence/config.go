package presence

import (
	"errors"
	"runtime"
	"time"
)

// Config holds the presence server's rules and limits. The yaml tags are
// its keys under `presence:` in the server's configuration file.
type Config struct {
	// PUBLISH expiry (RFC 3903 §6): shorter non-zero requests get 423 with
	// this Min-Expires, longer ones are clamped, absent ones get the
	// default. Seconds.
	PublishMinExpires     int `yaml:"publish_min_expires"`
	PublishMaxExpires     int `yaml:"publish_max_expires"`
	PublishDefaultExpires int `yaml:"publish_default_expires"`
	// SUBSCRIBE expiry (RFC 6665 §4.2.1.1), the same way. Seconds.
	SubscribeMinExpires     int `yaml:"subscribe_min_expires"`
	SubscribeMaxExpires     int `yaml:"subscribe_max_expires"`
	SubscribeDefaultExpires int `yaml:"subscribe_default_expires"`
	// Policy is the watch policy of a presentity that set none: open,
	// same-domain or approve.
	Policy string `yaml:"policy"`
	// Visibility is what a watcher sees when the owner set no level for
	// it: full or basic.
	Visibility string `yaml:"visibility"`
	// CallState shows InCall while a call is up, for a presentity that
	// did not choose (a per-user default).
	CallState bool `yaml:"call_state"`
	// MaxWatchers caps the subscriptions of one presentity (503 past it);
	// MaxDialogsPerWatcher caps those one watcher holds to one presentity
	// (403 past it).
	MaxWatchers          int `yaml:"max_watchers"`
	MaxDialogsPerWatcher int `yaml:"max_dialogs_per_watcher"`
	// MaxPublications caps the publications of one presentity (its
	// devices); MaxPublishRate is the PUBLISH requests per second one
	// presentity may make, in a burst of twice as many (503 with
	// Retry-After past it).
	MaxPublications int     `yaml:"max_publications"`
	MaxPublishRate  float64 `yaml:"max_publish_rate"`
	// MinNotifyInterval is the shortest time between two NOTIFYs of one
	// subscription (RFC 6446 rate control): changes in between are
	// merged, and the latest state goes out when the interval is up.
	MinNotifyInterval time.Duration `yaml:"min_notify_interval"`
	// Shards of each of the two kinds (presentity, subscription).
	Shards int `yaml:"shards"`
	// Idle is how long a presentity stays resident without a message
	// before it passivates. Short: a device publishes once an hour, and a
	// presentity resident for nothing is heap the collector scans (with
	// 2 s instead of 30 s the clean PUBLISH rate rose from about 9,000/s
	// to 14,000/s on the 2-core test machine).
	Idle time.Duration `yaml:"idle"`
	// SubscriptionIdle is the same for a subscription. Longer: a fan-out
	// to passivated subscriptions reads each back from the store (10,000
	// watchers: about 15,000 NOTIFY/s instead of 28,000/s).
	SubscriptionIdle time.Duration `yaml:"subscription_idle"`
	// Now is the clock; nil means time.Now.
	Now func() time.Time `yaml:"-"`
}

// DefaultConfig: PUBLISH 60 s–1 day, default 3600 s; SUBSCRIBE 60 s–1 day,
// default 3600 s; same-domain policy, full visibility, call state shown;
// 20,000 watchers per presentity, 8 dialogs per watcher and presentity, 32
// publications, 20 PUBLISH/s; NOTIFYs at least 100 ms apart; 8 shards
// per CPU; presentities passivate after 2 s idle, subscriptions after 30 s.
func DefaultConfig() Config {
	return Config{
		PublishMinExpires: 60, PublishMaxExpires: 86400, PublishDefaultExpires: 3600,
		SubscribeMinExpires: 60, SubscribeMaxExpires: 86400, SubscribeDefaultExpires: 3600,
		Policy: PolicySameDomain, Visibility: LevelFull, CallState: true,
		MaxWatchers: 20000, MaxDialogsPerWatcher: 8, MaxPublications: 32, MaxPublishRate: 20,
		MinNotifyInterval: 100 * time.Millisecond,
		Shards:            8 * runtime.GOMAXPROCS(0), Idle: 2 * time.Second, SubscriptionIdle: 30 * time.Second,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.PublishMinExpires < 0, c.PublishMaxExpires < 1, c.PublishDefaultExpires < 1,
		c.SubscribeMinExpires < 0, c.SubscribeMaxExpires < 1, c.SubscribeDefaultExpires < 1:
		return errors.New("presence: expiries must be positive")
	case c.PublishMinExpires > c.PublishMaxExpires, c.SubscribeMinExpires > c.SubscribeMaxExpires:
		return errors.New("presence: min expires above max expires")
	case !validPolicy(c.Policy):
		return errors.New("presence: policy must be open, same-domain or approve")
	case !validLevel(c.Visibility):
		return errors.New("presence: visibility must be full or basic")
	case c.MaxWatchers < 1, c.MaxDialogsPerWatcher < 1, c.MaxPublications < 1:
		return errors.New("presence: caps must be at least 1")
	case c.MaxPublishRate <= 0:
		return errors.New("presence: max publish rate must be positive")
	case c.MinNotifyInterval < 0:
		return errors.New("presence: min notify interval must not be negative")
	case c.Shards < 1:
		return errors.New("presence: shards must be at least 1")
	case c.Idle < 0, c.SubscriptionIdle < 0:
		return errors.New("presence: idle time must not be negative")
	}
	return nil
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
