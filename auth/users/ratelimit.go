package users

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed password grants are limited per user name and per source address.
// Only failures take tokens: a user who logs in correctly is never slowed
// down, unless someone guessed at the same name just before.
const (
	userFailures   = 5  // per minute, burst the same
	sourceFailures = 20 // per minute, burst the same
	// maxLimited bounds each map: names are attacker-chosen.
	maxLimited = 10000
)

// limiter holds the failure budgets of user names and source addresses.
type limiter struct {
	now func() time.Time

	// mu guards users and sources.
	mu      sync.Mutex
	users   map[string]*limitEntry
	sources map[string]*limitEntry
}

type limitEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, users: map[string]*limitEntry{}, sources: map[string]*limitEntry{}}
}

// wait returns how long user at source must wait before the next password
// attempt; zero when one may be made now.
func (l *limiter) wait(user, source string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(delay(l.users[user], now), delay(l.sources[source], now))
}

func delay(e *limitEntry, now time.Time) time.Duration {
	if e == nil {
		return 0
	}
	missing := 1 - e.lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(e.lim.Limit()) * float64(time.Second))
}

// fail records a failed attempt of user from source.
func (l *limiter) fail(user, source string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	take(l.users, user, userFailures, now)
	take(l.sources, source, sourceFailures, now)
}

func take(m map[string]*limitEntry, key string, perMinute int, now time.Time) {
	e := m[key]
	if e == nil {
		if len(m) >= maxLimited {
			evict(m, now)
		}
		e = &limitEntry{lim: rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), perMinute)}
		m[key] = e
	}
	e.last = now
	e.lim.AllowN(now, 1)
}

// evict makes room in a full map: first every entry whose budget has
// refilled (it remembers nothing), then, under a flood of live entries, the
// one used least recently.
func evict(m map[string]*limitEntry, now time.Time) {
	for k, e := range m {
		if e.lim.TokensAt(now) >= float64(e.lim.Burst()) {
			delete(m, k)
		}
	}
	if len(m) < maxLimited {
		return
	}
	oldest, at := "", time.Time{}
	for k, e := range m {
		if oldest == "" || e.last.Before(at) {
			oldest, at = k, e.last
		}
	}
	delete(m, oldest)
}

// retryAfter renders d as a Retry-After value in whole seconds, at least 1
// (RFC 9110 §10.2.3).
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
