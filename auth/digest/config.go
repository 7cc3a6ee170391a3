package digest

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultNonceTTL  = 5 * time.Minute
	DefaultMaxNonces = 100_000
)

// MinSecretLen is the shortest Config.Secret New accepts; 32 random bytes
// are recommended.
const MinSecretLen = 16

// Config configures a [Server].
type Config struct {
	// Realm is the SIP domain, sent in every challenge and required,
	// byte for byte, in every answer.
	Realm string
	// Secret keys the HMAC of the stateless nonces: 32 random bytes the
	// caller persists and shares between nodes that verify each other's
	// nonces. Changing it makes every outstanding nonce invalid.
	Secret []byte
	// NonceTTL is how long a nonce is good for; an older one is answered
	// with auth.ErrStaleNonce so the 401 carries stale=true. Default 5 min.
	NonceTTL time.Duration
	// Algorithms are offered in order of preference, one challenge each
	// (RFC 8760 §2.4): AlgorithmSHA256, AlgorithmMD5 and their -sess
	// variants, matched case-insensitively. Default ["SHA-256", "MD5"].
	// Answers are accepted only for an offered algorithm.
	Algorithms []string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxNonces bounds the replay cache (highest nonce count per nonce).
	// Default 100000, about 10 MB.
	MaxNonces int
	// RequireQOP rejects answers without qop (RFC 2069 style), which are
	// otherwise accepted for plain MD5 for the sake of old phones.
	RequireQOP bool
}

// Validate reports whether c is usable once defaults are applied.
func (c *Config) Validate() error {
	if c.Realm == "" {
		return errors.New("digest: empty realm")
	}
	if strings.ContainsFunc(c.Realm, isCTL) {
		return errors.New("digest: realm contains control characters")
	}
	if len(c.Secret) < MinSecretLen {
		return fmt.Errorf("digest: secret must be at least %d bytes", MinSecretLen)
	}
	if c.NonceTTL < 0 || c.MaxNonces < 0 {
		return errors.New("digest: negative NonceTTL or MaxNonces")
	}
	_, err := offered(c.Algorithms)
	return err
}

// withDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.NonceTTL == 0 {
		c.NonceTTL = DefaultNonceTTL
	}
	if c.MaxNonces == 0 {
		c.MaxNonces = DefaultMaxNonces
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{AlgorithmSHA256, AlgorithmMD5}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Secret = append([]byte(nil), c.Secret...)
	return c
}

// offered resolves the configured algorithm names, rejecting unknown ones
// and duplicates.
func offered(names []string) ([]*algorithm, error) {
	algs := make([]*algorithm, 0, len(names))
	for _, n := range names {
		a := lookupAlgorithm(n)
		if a == nil {
			return nil, fmt.Errorf("digest: unsupported algorithm %q", n)
		}
		for _, b := range algs {
			if a == b {
				return nil, fmt.Errorf("digest: algorithm %q listed twice", n)
			}
		}
		algs = append(algs, a)
	}
	return algs, nil
}

// isCTL reports whether r is a control character (RFC 3261 §25.1 CTL),
// tab excepted since it is allowed in quoted strings.
func isCTL(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }
