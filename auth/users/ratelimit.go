package users

import (
	"math"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// Failed password grants are limited per user name and per source address.
// Only failures take tokens: a user who logs in correctly is never slowed
// down, unless someone guessed at the same name just before.
const (
	userFailures   = 5  // per minute, burst the same
	sourceFailures = 20 // per minute, burst the same
	// maxLimited bounds each table: names are attacker-chosen.
	maxLimited = 10000
)

// limiter holds the failure budgets of user names and source addresses.
// Each table is an LRU ordered by the last failure, so every operation is
// O(1) (amortised) however many names an attacker tries: a full table drops
// its least recently failing entry instead of scanning for one.
type limiter struct {
	now func() time.Time

	// mu guards users and sources.
	mu      sync.Mutex
	users   *budgets
	sources *budgets
}

// budgets is one table of failure budgets, all with the same rate.
type budgets struct {
	perMinute int
	lru       *simplelru.LRU[string, *rate.Limiter]
}

func newBudgets(perMinute int) *budgets {
	lru, err := simplelru.NewLRU[string, *rate.Limiter](maxLimited, nil)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &budgets{perMinute: perMinute, lru: lru}
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, users: newBudgets(userFailures), sources: newBudgets(sourceFailures)}
}

// Len is the number of entries held (tests).
func (b *budgets) Len() int { return b.lru.Len() }

// has reports whether key has an entry, without touching its recency.
func (b *budgets) has(key string) bool { return b.lru.Contains(key) }

// wait returns how long user at source must wait before the next password
// attempt; zero when one may be made now.
func (l *limiter) wait(user, source string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(l.users.delay(user, now), l.sources.delay(source, now))
}

// delay peeks, so a look-up does not reorder the LRU: its order must stay
// the order of the last failures (see take).
func (b *budgets) delay(key string, now time.Time) time.Duration {
	lim, ok := b.lru.Peek(key)
	if !ok {
		return 0
	}
	missing := 1 - lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
}

// fail records a failed attempt of user from source.
func (l *limiter) fail(user, source string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users.take(user, now)
	l.sources.take(source, now)
}

// take spends one token of key's budget. A new key first drops, from the
// old end of the LRU, the entries whose budget has refilled: they remember
// nothing. The pruning stops at the first entry still counting, so each
// entry is dropped at most once and the cost is amortised O(1); a refilled
// entry behind a live one stays until it ages out (it only costs memory).
// Past that, a full LRU drops its least recently failing entry.
func (b *budgets) take(key string, now time.Time) {
	lim, ok := b.lru.Get(key)
	if !ok {
		for {
			_, old, ok := b.lru.GetOldest()
			if !ok || old.TokensAt(now) < float64(old.Burst()) {
				break
			}
			b.lru.RemoveOldest()
		}
		lim = rate.NewLimiter(rate.Every(time.Minute/time.Duration(b.perMinute)), b.perMinute)
		b.lru.Add(key, lim)
	}
	lim.AllowN(now, 1)
}

// retryAfter renders d as a Retry-After value in whole seconds, at least 1
// (RFC 9110 §10.2.3).
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
