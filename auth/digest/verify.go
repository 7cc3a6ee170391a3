package digest

import (
	"crypto/subtle"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/auth"
)

// HA1Func returns the stored HA1 of username in realm for algorithm
// (AlgorithmMD5 or AlgorithmSHA256), H(username:realm:password) in hex as
// computed by [HA1]. It returns an error wrapping auth.ErrBadCredentials
// if the user is unknown or disabled; any other error (say
// auth.ErrUnavailable) is passed through by Verify.
type HA1Func func(username, realm, algorithm string) (string, error)

// Verify checks the credentials c sent with a request of method (e.g.
// "REGISTER") and returns who they authenticate: Method "digest", Subject
// the username, URI "sip:<username>@<realm>", Expires when the nonce does.
//
// Errors wrap auth.ErrInvalidRequest (400: malformed or unsupported),
// auth.ErrBadCredentials (401: wrong password, unknown user, forged nonce,
// other realm), auth.ErrStaleNonce (401 with stale=true: right password,
// old nonce) or auth.ErrReplay (401: nonce count already used).
// The digest-uri is not compared with the Request-URI; see the package
// documentation.
func (s *Server) Verify(method string, c *Credentials, ha1 HA1Func) (*auth.Identity, error) {
	if c == nil {
		return nil, errNoCredentials
	}
	id, err := s.verify(method, c, ha1)
	if err != nil {
		if ce := s.log.Check(zap.DebugLevel, "digest answer rejected"); ce != nil {
			ce.Write(zap.String("username", c.Username), zap.Error(err))
		}
		return nil, err
	}
	if ce := s.log.Check(zap.DebugLevel, "digest answer accepted"); ce != nil {
		ce.Write(zap.Object("credentials", c))
	}
	return &auth.Identity{
		Subject: c.Username,
		URI:     userURI(c.Username, s.host),
		Method:  "digest",
		TokenID: id.tokenID(),
		Expires: id.minted().Add(s.ttl),
	}, nil
}

// verify runs the checks in order: syntax and policy first, then the
// nonce's MAC, the response, and only for a right response the nonce's
// age (RFC 7616 §3.3: stale only if the response is valid) and count.
func (s *Server) verify(method string, c *Credentials, ha1 HA1Func) (nonceID, error) {
	a, err := s.algorithm(c)
	if err != nil {
		return nonceID{}, err
	}
	id, ok := s.mac.open(c.Nonce)
	if !ok {
		return id, errForgedNonce
	}
	if err := s.checkResponse(a, method, c, ha1); err != nil {
		return id, err
	}
	if age := s.now().Sub(id.minted()); age > s.ttl || age < -maxClockSkew {
		return id, errExpired
	}
	if c.QOP == "" {
		return id, nil // RFC 2069: no count, replayable until the nonce expires
	}
	nc, _ := parseNC(c.NC) // checked by s.algorithm
	return id, s.count(id, nc)
}

// algorithm checks what can be checked without cryptography and returns
// the algorithm of the answer.
func (s *Server) algorithm(c *Credentials) (*algorithm, error) {
	switch {
	case c.UserHash:
		return nil, errUserHash
	case c.Username == "" || c.URI == "":
		return nil, errMissing
	case c.Realm != s.realm:
		return nil, errRealm
	}
	name := c.Algorithm
	if name == "" {
		name = AlgorithmMD5 // RFC 2617 §3.2.1
	}
	a := s.offered(name)
	if a == nil {
		return nil, errNotOffered
	}
	switch {
	case strings.EqualFold(c.QOP, "auth"):
		if nc, ok := parseNC(c.NC); !ok || nc == 0 {
			return nil, errNC
		}
		if c.CNonce == "" {
			return nil, errMissing
		}
	case c.QOP != "":
		return nil, errQOP // auth-int or unknown
	case s.requireQOP || a.sess || !a.md5:
		// RFC 2069 answers only for plain MD5: -sess needs a cnonce,
		// and a client that knows SHA-256 knows qop.
		return nil, errNoQOP
	}
	return a, nil
}

// offered returns the offered algorithm called name, or nil.
func (s *Server) offered(name string) *algorithm {
	for _, a := range s.algs {
		if strings.EqualFold(a.name, name) {
			return a
		}
	}
	return nil
}

// checkResponse compares the response with the one computed from the
// stored HA1, in constant time.
func (s *Server) checkResponse(a *algorithm, method string, c *Credentials, ha1 HA1Func) error {
	stored, err := ha1(c.Username, s.realm, a.base)
	if err != nil {
		return fmt.Errorf("digest: user %q: %w", c.Username, err)
	}
	var h1 [2 * maxSize]byte
	k, ok := lowerHex(&h1, stored, a.size)
	if !ok {
		s.log.Warn("stored HA1 is malformed", zap.String("username", c.Username),
			zap.String("algorithm", a.base))
		return errStoredHA1
	}
	if a.sess {
		k = a.sessionHA1(&h1, k, c)
	}
	var want, got [maxSize]byte
	w := a.response(&want, k, method, c)
	if !decodeHex(got[:a.size], c.Response) {
		return errResponse
	}
	if subtle.ConstantTimeCompare(w, got[:a.size]) != 1 {
		return errResponse
	}
	return nil
}

// count records nc for the nonce id if it is above the highest count
// accepted so far (RFC 7616 §3.4: the server detects replays by nc).
func (s *Server) count(id nonceID, nc uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.seen.Get(id)
	switch {
	case ok && nc <= last:
		return errReplay
	case !ok && id.compare(&s.evictedUpTo) <= 0:
		return errEvicted
	}
	s.seen.Add(id, nc)
	return nil
}
