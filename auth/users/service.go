// Package users keeps the SIP server's user accounts and is its OAuth 2.0
// authorization server: it issues the ES256 access tokens (RFC 9068) that
// auth verifies at the SIP edge, rotates refresh tokens, publishes its keys
// as a JWK set and answers introspection (RFC 7662) and revocation
// (RFC 7009). Digest (auth/digest) reads the stored HA1 through DigestHA1.
//
// Everything lives in the store, in the buckets "users", "signing_keys",
// "refresh_tokens" and "revoked"; the Service holds only the signing keys in
// memory, so the CLI and the server see the same records. Passwords are kept
// as argon2id PHC strings and Digest HA1s, never in plain text, and are never
// logged.
package users

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/store"
)

// Store kinds (buckets) of the service.
const (
	KindUsers         store.Kind = "users"
	KindSigningKeys   store.Kind = "signing_keys"
	KindRefreshTokens store.Kind = "refresh_tokens"
	KindRevoked       store.Kind = "revoked"
)

// Service manages users and issues tokens. It is safe for concurrent use.
type Service struct {
	st  store.Store
	cfg Config
	log *zap.Logger
	now func() time.Time

	// hashSem bounds concurrent argon2id runs: each takes Hash.MemoryKiB of
	// memory, so a burst of logins must not add up to gigabytes.
	hashSem chan struct{}
	// dummyPHC is verified against for unknown users, so a wrong name costs
	// as much time as a wrong password.
	dummyPHC string
	limits   *limiter

	// usersMu serializes read-modify-write of records in the users bucket.
	usersMu sync.Mutex

	// refreshMu serializes the use of one refresh token (striped by its
	// hash), so two concurrent uses cannot both rotate it.
	refreshMu [64]sync.Mutex

	// keysMu guards keys, jwks and pruneAt.
	keysMu sync.RWMutex
	keys   []signingKey // oldest first; the last one signs
	jwks   jwk.Set      // public keys of keys; replaced, never modified, once published
	// pruneAt is when the oldest retired key leaves the JWK set; zero if
	// no key is retired.
	pruneAt time.Time
}

// New returns the service over st. It loads the signing keys from the store
// (creating the first one when there is none), prunes retired keys and
// purges expired refresh tokens and revocations.
func New(st store.Store, cfg Config, log *zap.Logger) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	s := &Service{st: st, cfg: cfg, log: log, now: cfg.Now,
		hashSem: make(chan struct{}, runtime.GOMAXPROCS(0))}
	s.limits = newLimiter(s.now)
	phc, err := s.hash("not a password")
	if err != nil {
		return nil, err
	}
	s.dummyPHC = phc
	if err := s.loadKeys(); err != nil {
		return nil, err
	}
	if err := s.Purge(); err != nil {
		return nil, err
	}
	return s, nil
}

// hash and verify run argon2id under hashSem.
func (s *Service) hash(password string) (string, error) {
	s.hashSem <- struct{}{}
	defer func() { <-s.hashSem }()
	return hashPassword(password, s.cfg.Hash)
}

func (s *Service) verify(phc, password string) (bool, error) {
	s.hashSem <- struct{}{}
	defer func() { <-s.hashSem }()
	return verifyPassword(phc, password)
}

// write is one queued store change: val nil deletes.
type write struct {
	kind store.Kind
	key  string
	val  any
}

// commit queues the writes and waits until the store committed all of them:
// the store's Save and Delete are asynchronous (group commit).
func (s *Service) commit(ws ...write) error {
	errs := make(chan error, len(ws))
	for _, w := range ws {
		if w.val == nil {
			s.st.Delete(w.kind, w.key, func(err error) { errs <- err })
			continue
		}
		b, err := json.Marshal(w.val)
		if err != nil {
			errs <- err
			continue
		}
		s.st.Save(w.kind, w.key, b, func(err error) { errs <- err })
	}
	var all []error
	for range ws {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		return fmt.Errorf("users: store: %w", err)
	}
	return nil
}

// load reads key of kind into v; found is false for a missing record.
func (s *Service) load(kind store.Kind, key string, v any) (found bool, err error) {
	b, err := s.st.Load(kind, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("users: store: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("users: %s/%s: %w", kind, key, err)
	}
	return true, nil
}

// Purge deletes expired refresh tokens and expired revocations from the
// store. New runs it; a long-running server may call it now and then.
func (s *Service) Purge() error {
	now := s.now()
	var ws []write
	for _, kind := range []store.Kind{KindRefreshTokens, KindRevoked} {
		err := s.st.Scan(kind, func(key string, val []byte) error {
			var rec struct{ Expires time.Time }
			if json.Unmarshal(val, &rec) != nil || !now.Before(rec.Expires) {
				ws = append(ws, write{kind: kind, key: key})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("users: purge %s: %w", kind, err)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	s.log.Info("purged expired token records", zap.Int("records", len(ws)))
	return s.commit(ws...)
}
