package auth

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// tokenCache remembers validated tokens by the sha256 of the token, so a
// phone refreshing its registration every few minutes costs a hash and a
// map lookup instead of a signature check. An entry lives until the
// token's exp (checked on every hit) or, for introspected tokens, at most
// 60 s: a token revoked at its issuer stays valid here until then (see
// README, "Revocation").
type tokenCache struct {
	lru *lru.Cache[[32]byte, cacheEntry]
}

type cacheEntry struct {
	id    *Identity
	until time.Time
}

func newTokenCache(size int) (*tokenCache, error) {
	c, err := lru.New[[32]byte, cacheEntry](size)
	if err != nil {
		return nil, err
	}
	return &tokenCache{lru: c}, nil
}

// get returns the identity cached for key if it is still valid at now.
func (c *tokenCache) get(key [32]byte, now time.Time) (*Identity, bool) {
	e, ok := c.lru.Get(key)
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		c.lru.Remove(key)
		return nil, false
	}
	return e.id, true
}

// add caches id until the given time; a zero or past time is not cached.
func (c *tokenCache) add(key [32]byte, id *Identity, until time.Time) {
	if until.IsZero() {
		return
	}
	c.lru.Add(key, cacheEntry{id: id, until: until})
}
