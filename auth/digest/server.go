package digest

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"go.uber.org/zap"
)

// Server issues Digest challenges for one realm and verifies the answers.
// It is safe for concurrent use.
type Server struct {
	realm      string
	host       string // realm in lower case, for Identity.URI
	ttl        time.Duration
	now        func() time.Time
	requireQOP bool
	algs       []*algorithm // offered, preferred first
	mac        *nonceMAC
	log        *zap.Logger

	// mu guards seen and evictedUpTo.
	mu sync.Mutex
	// seen holds the highest nonce count accepted per nonce.
	seen *simplelru.LRU[nonceID, uint32]
	// evictedUpTo is the greatest id (mint time first, then the random
	// part) of the nonces seen evicted. A nonce not in seen with an id up
	// to that may have been used, so it is treated as stale; one with a
	// greater id cannot have been, or it would have raised evictedUpTo.
	evictedUpTo nonceID
}

// New returns a Server for cfg, with defaults applied to its zero fields.
// A nil log discards. log receives usernames and realms, never passwords,
// HA1 values or responses.
func New(cfg Config, log *zap.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	algs, _ := offered(cfg.Algorithms) // checked by Validate
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{
		realm:      cfg.Realm,
		host:       strings.ToLower(cfg.Realm),
		ttl:        cfg.NonceTTL,
		now:        cfg.Now,
		requireQOP: cfg.RequireQOP,
		algs:       algs,
		mac:        newNonceMAC(cfg.Secret, cfg.Realm),
		log:        log.With(zap.String("realm", cfg.Realm)),
	}
	seen, err := simplelru.NewLRU(cfg.MaxNonces, s.evicted)
	if err != nil {
		return nil, fmt.Errorf("digest: replay cache: %w", err)
	}
	s.seen = seen
	return s, nil
}

// evicted is the replay cache's eviction callback; s.mu is held.
func (s *Server) evicted(id nonceID, _ uint32) {
	if id.compare(&s.evictedUpTo) > 0 {
		s.evictedUpTo = id
	}
}

// Challenges returns the WWW-Authenticate (or Proxy-Authenticate) values
// for a 401 (or 407), one per offered algorithm, preferred first
// (RFC 8760 §2.4), all with the same fresh nonce:
//
//	Digest realm="example.com", nonce="...", algorithm=SHA-256, qop="auth"
//
// stale adds stale=true, telling the client to retry with the new nonce
// without asking its user again (RFC 7616 §3.3); set it when Verify
// returned auth.ErrStaleNonce.
func (s *Server) Challenges(stale bool) []string {
	nonce := s.mac.mint(s.now())
	out := make([]string, len(s.algs))
	for i, a := range s.algs {
		b := make([]byte, 0, 96+len(s.realm)+len(nonce))
		b = appendQuoted(append(b, "Digest realm="...), s.realm)
		b = append(append(append(b, `, nonce="`...), nonce...), '"')
		b = append(append(b, ", algorithm="...), a.name...)
		b = append(b, `, qop="auth"`...)
		if stale {
			b = append(b, ", stale=true"...)
		}
		out[i] = string(b)
	}
	return out
}
