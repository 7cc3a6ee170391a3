package users

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"go.uber.org/zap"
)

// signingKey is one ES256 key of the key ring.
type signingKey struct {
	kid     string
	priv    jwk.Key
	created time.Time
	retired time.Time // when a newer key replaced it; zero for the current key
}

// keyRecord is what the signing_keys bucket holds under the kid. The
// private key is stored as a JWK: the data directory must be protected like
// any other server secret.
type keyRecord struct {
	Created time.Time       `json:"created"`
	Retired time.Time       `json:"retired"`
	JWK     json.RawMessage `json:"jwk"`
}

// loadKeys reads the key ring from the store and creates the first key
// when there is no current one.
func (s *Service) loadKeys() error {
	var keys []signingKey
	err := s.st.Scan(KindSigningKeys, func(kid string, val []byte) error {
		var rec keyRecord
		if err := json.Unmarshal(val, &rec); err != nil {
			return fmt.Errorf("key %s: %w", kid, err)
		}
		priv, err := jwk.ParseKey(rec.JWK)
		if err != nil {
			return fmt.Errorf("key %s: %w", kid, err)
		}
		keys = append(keys, signingKey{kid: kid, priv: priv, created: rec.Created, retired: rec.Retired})
		return nil
	})
	if err != nil {
		return fmt.Errorf("users: signing keys: %w", err)
	}
	slices.SortFunc(keys, keyOrder)
	s.keysMu.Lock()
	s.keys = keys
	s.keysMu.Unlock()
	if len(keys) == 0 || !keys[len(keys)-1].retired.IsZero() {
		_, err := s.RotateKeys()
		return err
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	return s.pruneLocked(s.now())
}

// keyOrder sorts the ring: retired keys first, by retirement, then the
// current key. Creation times alone may tie on a coarse clock.
func keyOrder(a, b signingKey) int {
	switch {
	case a.retired.IsZero() != b.retired.IsZero():
		if a.retired.IsZero() {
			return 1
		}
		return -1
	case !a.retired.Equal(b.retired):
		return a.retired.Compare(b.retired)
	}
	return a.created.Compare(b.created)
}

// newSigningKey generates an ES256 key whose kid is its RFC 7638 thumbprint.
func newSigningKey(now time.Time) (signingKey, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return signingKey{}, err
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		return signingKey{}, err
	}
	if err := jwk.AssignKeyID(priv); err != nil {
		return signingKey{}, err
	}
	if err := priv.Set(jwk.AlgorithmKey, jwa.ES256()); err != nil {
		return signingKey{}, err
	}
	if err := priv.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return signingKey{}, err
	}
	kid, _ := priv.KeyID()
	return signingKey{kid: kid, priv: priv, created: now}, nil
}

func (k *signingKey) record() (*keyRecord, error) {
	b, err := json.Marshal(k.priv)
	if err != nil {
		return nil, err
	}
	return &keyRecord{Created: k.created, Retired: k.retired, JWK: b}, nil
}

// RotateKeys adds a new signing key and signs new tokens with it. The
// previous keys stay in the JWK set for AccessTTL after the rotation, so the
// tokens they signed still verify until they expire, and are pruned then.
// Verifiers that cache the JWK set must refetch it on an unknown kid.
func (s *Service) RotateKeys() (kid string, err error) {
	now := s.now()
	k, err := newSigningKey(now)
	if err != nil {
		return "", fmt.Errorf("users: new signing key: %w", err)
	}
	rec, err := k.record()
	if err != nil {
		return "", err
	}
	ws := []write{{KindSigningKeys, k.kid, rec}}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	var current *signingKey
	if n := len(s.keys); n > 0 && s.keys[n-1].retired.IsZero() {
		current = &s.keys[n-1]
		retired := *current
		retired.retired = now
		rec, err := retired.record()
		if err != nil {
			return "", err
		}
		ws = append(ws, write{KindSigningKeys, retired.kid, rec})
	}
	if err := s.commit(ws...); err != nil {
		return "", err
	}
	if current != nil {
		current.retired = now
	}
	s.keys = append(s.keys, k)
	s.log.Info("signing key added", zap.String("kid", k.kid))
	return k.kid, s.pruneLocked(now)
}

// pruneLocked drops the retired keys whose tokens have all expired and
// rebuilds the public JWK set. The caller holds keysMu for writing.
func (s *Service) pruneLocked(now time.Time) error {
	s.pruneAt = time.Time{}
	kept := s.keys[:0]
	for _, k := range s.keys {
		if k.retired.IsZero() {
			kept = append(kept, k)
			continue
		}
		end := k.retired.Add(s.cfg.AccessTTL)
		if now.Before(end) {
			kept = append(kept, k)
			if s.pruneAt.IsZero() || end.Before(s.pruneAt) {
				s.pruneAt = end
			}
			continue
		}
		// Deleting late is harmless: a key that survives in the store is
		// pruned again at the next start.
		s.st.Delete(KindSigningKeys, k.kid, func(err error) {
			if err != nil {
				s.log.Warn("pruning signing key failed", zap.String("kid", k.kid), zap.Error(err))
			}
		})
		s.log.Info("signing key pruned", zap.String("kid", k.kid))
	}
	clear(s.keys[len(kept):])
	s.keys = kept
	set := jwk.NewSet()
	for _, k := range s.keys {
		pub, err := publicKey(k)
		if err != nil {
			return err
		}
		if err := set.AddKey(pub); err != nil {
			return fmt.Errorf("users: jwks: %w", err)
		}
	}
	s.jwks = set
	return nil
}

func publicKey(k signingKey) (jwk.Key, error) {
	pub, err := k.priv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("users: public key %s: %w", k.kid, err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: k.kid, jwk.AlgorithmKey: jwa.ES256(), jwk.KeyUsageKey: jwk.ForSignature} {
		if err := pub.Set(name, v); err != nil {
			return nil, fmt.Errorf("users: public key %s: %w", k.kid, err)
		}
	}
	return pub, nil
}

// PublicKeys returns the current public JWK set: every key that signed
// tokens which may still be valid, each with kid, alg ES256 and use sig.
// It is safe for concurrent use; the set is shared, callers must not
// modify it.
func (s *Service) PublicKeys() jwk.Set {
	s.keysMu.RLock()
	set, at := s.jwks, s.pruneAt
	s.keysMu.RUnlock()
	if at.IsZero() {
		return set
	}
	now := s.now()
	if now.Before(at) {
		return set
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if err := s.pruneLocked(now); err != nil {
		s.log.Error("rebuilding the JWK set failed", zap.Error(err))
	}
	return s.jwks
}

// signer returns the current signing key.
func (s *Service) signer() signingKey {
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	return s.keys[len(s.keys)-1]
}
