package edge

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/auth/authparam"
)

// BearerVerifier verifies an RFC 8898 bearer token (auth.Bearer).
type BearerVerifier interface {
	Verify(ctx context.Context, token string) (*auth.Identity, error)
}

// DigestVerifier verifies SIP Digest credentials (auth/digest with the users
// service's HA1 lookup behind it) and issues its challenges.
type DigestVerifier interface {
	// Challenges are the WWW-Authenticate values of a 401, one per
	// algorithm; stale marks an expired nonce (RFC 7616 §3.3).
	Challenges(stale bool) []string
	// Verify checks the parameters of "Authorization: Digest <params>".
	Verify(method, params string) (*auth.Identity, error)
}

// Auth is the edge's authentication. With neither Bearer nor Digest set,
// every request goes through unauthenticated (--auth none).
type Auth struct {
	Bearer BearerVerifier
	Digest DigestVerifier
	// Scopes maps a method to the scope its bearer token needs.
	Scopes auth.ScopeMap
	// Realm is the realm of the Bearer challenge: the SIP domain.
	Realm string
	// AuthzServer is the token endpoint named in the Bearer challenge
	// (RFC 8898 §2.3 authz_server).
	AuthzServer string
	// Timeout bounds one verification (JWKS fetch, introspection).
	Timeout time.Duration
	// Policy picks the challenges of each 401 (auth.ChallengePolicy); nil
	// is the default: phones get one Digest challenge, RFC 8898 clients
	// every challenge.
	Policy *auth.ChallengePolicy
}

func (a *Auth) enabled() bool { return a != nil && (a.Bearer != nil || a.Digest != nil) }

// cachedVerifier is a BearerVerifier that can tell, without blocking,
// whether it holds a verification of a token (auth.Bearer does).
type cachedVerifier interface {
	Cached(token string) (*auth.Identity, bool)
}

// mayBlock reports whether authenticating req may wait: only a bearer
// token that is not cached (a JWKS fetch, introspection, or a signature
// check of ~100 µs). Digest and cached tokens are quick enough for the UDP
// read goroutine, which spares a goroutine per request.
func (a *Auth) mayBlock(req *sip.Request) bool {
	if !a.enabled() || a.Bearer == nil || exempt(req) {
		return false
	}
	cv, ok := a.Bearer.(cachedVerifier)
	for _, h := range req.GetHeaders("Authorization") {
		scheme, cred, err := auth.ParseAuthorization(h.Value())
		if err != nil || !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		if !ok {
			return true
		}
		_, hit := cv.Cached(cred)
		return !hit
	}
	return false
}

// authenticate checks the credentials of req and that they allow the
// request: the scope of its method, and acting for the AOR it names (To of
// REGISTER, From of anything else). A nil identity with a nil error means
// authentication is off or the request is exempt (the method table's
// exempt: e.g. OPTIONS to the server, but not OPTIONS to a user).
func (s *Server) authenticate(req *sip.Request) (*auth.Identity, error) {
	a := s.conf.Auth
	if !a.enabled() || exempt(req) {
		return nil, nil
	}
	id, err := a.verify(req)
	if err != nil {
		return nil, err
	}
	if id.Method == "bearer" && a.Scopes != nil {
		if err := a.Scopes.Check(string(req.Method), id); err != nil {
			return id, err
		}
	}
	var aor string
	switch req.Method {
	case sip.REGISTER:
		a, e := aorOf(&req.To().Address)
		aor, err = string(a), e
	case sip.PUBLISH: // only one's own presence (RFC 3903 §4: the Request-URI names it)
		aor, err = s.aorAt(&req.Recipient)
	default:
		a, e := aorOf(&req.From().Address)
		aor, err = string(a), e
	}
	if err != nil {
		return id, err
	}
	if err := auth.MatchIdentity(id, aor); err != nil {
		return id, err
	}
	return id, nil
}

// verify picks the credentials: Bearer first when both are offered and on.
func (a *Auth) verify(req *sip.Request) (*auth.Identity, error) {
	var digestParams string
	for _, h := range req.GetHeaders("Authorization") {
		scheme, cred, err := auth.ParseAuthorization(h.Value())
		if err != nil {
			return nil, err
		}
		switch {
		case strings.EqualFold(scheme, "Bearer") && a.Bearer != nil:
			timeout := a.Timeout
			if timeout <= 0 {
				timeout = 3 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			return a.Bearer.Verify(ctx, cred)
		case strings.EqualFold(scheme, "Digest") && a.Digest != nil && digestParams == "":
			digestParams = cred
		}
	}
	if digestParams != "" {
		return a.Digest.Verify(string(req.Method), digestParams)
	}
	return nil, auth.ErrNoCredentials
}

// challenges are the WWW-Authenticate headers answering an auth failure of
// req. The policy picks a profile (auth.ChallengePolicy): ProfilePhone is
// one Digest challenge, with the first configured algorithm, because
// Linphone crashes on a 401 with several and baresip gives up on any it
// does not know; ProfileFull is every Digest challenge, preferred first
// (RFC 8760 §2.4), then Bearer with error= when a token was given and
// failed (RFC 8898 §2.3, RFC 6750 §3). Digest goes first because many
// tools read only the first WWW-Authenticate (sipsak gives up on a Bearer
// one); bearer clients scan them all. A scope or identity failure is about
// the token, so it gets Bearer alone.
func (a *Auth) challenges(req *sip.Request, err error) []sip.Header {
	method := string(req.Method)
	prof := a.Policy.Select(challengeRequest(req))
	var out []sip.Header
	if a.Digest != nil && !errors.Is(err, auth.ErrInsufficientScope) && !errors.Is(err, auth.ErrIdentityMismatch) {
		digests := a.Digest.Challenges(errors.Is(err, auth.ErrStaleNonce))
		if prof == auth.ProfilePhone && len(digests) > 1 {
			digests = digests[:1]
		}
		for _, v := range digests {
			out = append(out, sip.NewHeader("WWW-Authenticate", v))
		}
	}
	if a.Bearer != nil && (prof == auth.ProfileFull || len(out) == 0) {
		out = append(out, sip.NewHeader("WWW-Authenticate", auth.BearerChallenge(a.bearerChallenge(method, err))))
	}
	return out
}

// challengeRequest is what the challenge policy looks at in req.
func challengeRequest(req *sip.Request) auth.ChallengeRequest {
	var r auth.ChallengeRequest
	if h := req.GetHeader("User-Agent"); h != nil {
		r.UserAgent, r.HasUserAgent = h.Value(), true
	}
	party := req.From()
	if req.Method == sip.REGISTER {
		if to := req.To(); to != nil {
			r.Domain = to.Address.Host
		}
	} else if party != nil {
		r.Domain = party.Address.Host
	}
	for _, h := range req.GetHeaders("Authorization") {
		if scheme, _, err := auth.ParseAuthorization(h.Value()); err == nil && scheme == "Bearer" {
			r.Bearer = true
			break
		}
	}
	return r
}

// bearerChallenge names the scope the method needs, so a client knows what
// to ask the authorization server for (RFC 8898 §2.3, RFC 6750 §3).
func (a *Auth) bearerChallenge(method string, err error) auth.Challenge {
	c := auth.Challenge{Realm: a.Realm, AuthzServer: a.AuthzServer, Scope: a.Scopes[method]}
	var scoped interface{ RequiredScope() string }
	switch {
	case errors.Is(err, auth.ErrInsufficientScope):
		c.Err = auth.ErrInsufficientScope
		if errors.As(err, &scoped) {
			c.Scope = scoped.RequiredScope()
		}
	case errors.Is(err, auth.ErrInvalidToken):
		c.Err, c.Description = auth.ErrInvalidToken, reasonOf(err)
	case errors.Is(err, auth.ErrInvalidRequest):
		c.Err = auth.ErrInvalidRequest
	}
	return c
}

// reasonOf is the part of an error after its sentinel's text, for
// error_description: "auth: invalid token: token expired" → "token expired".
func reasonOf(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// logAuth logs a failed authentication at debug, once, and counts it for
// the info summary (auth.FailureSummary: one line per 10 s at most). A
// missing Authorization is the normal first leg of Digest, so it is no
// news at info. Credentials never reach the log: the line names the AOR,
// the Digest username, the token's sub and jti (or hash prefix), never a
// token, a response or an Authorization header.
func (s *Server) logAuth(req *sip.Request, aor registrar.AOR, id *auth.Identity, err error) {
	if s.authFails != nil {
		s.authFails.Add(err)
	}
	ce := s.log.Check(zap.DebugLevel, "authentication failed")
	if ce == nil {
		return
	}
	if aor == "" {
		switch to, from := req.To(), req.From(); {
		case req.Method == sip.REGISTER && to != nil:
			aor, _ = aorOf(&to.Address)
		case req.Method != sip.REGISTER && from != nil:
			aor, _ = aorOf(&from.Address)
		}
	}
	fields := []zap.Field{zap.String("method", string(req.Method)), callIDField(req),
		zap.String("reason", auth.Reason(err)), zap.Error(err)}
	if aor != "" {
		fields = append(fields, zap.String("aor", string(aor)))
	}
	if user := digestUser(req); user != "" {
		fields = append(fields, zap.String("user", user))
	}
	if id != nil {
		fields = append(fields, zap.String("sub", id.Subject), zap.String("token_id", id.TokenID))
	}
	ce.Write(fields...)
}

// digestUser is the username of the request's Digest credentials, if any:
// who tried, without anything that proves it.
func digestUser(req *sip.Request) string {
	for _, h := range req.GetHeaders("Authorization") {
		scheme, params, err := auth.ParseAuthorization(h.Value())
		if err != nil || scheme != "Digest" {
			continue
		}
		p := authparam.Scanner{S: params}
		for {
			param, ok, err := p.Next()
			if err != nil || !ok {
				break
			}
			if strings.EqualFold(param.Name, "username") {
				return param.Value
			}
		}
	}
	return ""
}
