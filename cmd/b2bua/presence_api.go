package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/presence"
	"github.com/b2bua/b2bua/auth"
)

// presenceAPI serves /api/v1/presence/{aor}/...: a presentity owner (or an
// administrator) lists the watchers and decides about them, and reads or
// replaces the watch policy. Authorisation: "Authorization: Bearer" with
// the server's admin token, a token with the b2bua:admin scope, or the
// owner's own token (its identity is the AOR).
//
//	GET /api/v1/presence/{aor}/watchers           → {"watchers": [...], "policy": {...}}
//	PUT /api/v1/presence/{aor}/watchers/{watcher} {"decision": "allow|block|none", "visibility": "full|basic"}
//	GET /api/v1/presence/{aor}/policy             → the policy
//	PUT /api/v1/presence/{aor}/policy             a policy: {"mode": "approve", "allow": [...], ...}
//
// {aor} and {watcher} are "alice@example.com" or "sip:alice@example.com",
// URL-escaped as needed; "@example.com" names a whole domain as a watcher.
type presenceAPI struct {
	router     *presence.Router
	verify     func(ctx context.Context, token string) (*auth.Identity, error) // nil: only the admin token
	adminToken string
	domain     string
	log        *zap.Logger
}

func (a *presenceAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/presence/{aor}/watchers", a.authorized(func(w http.ResponseWriter, r *http.Request, aor string) {
		res := a.watchers(r.Context(), aor)
		if res.Err != nil {
			a.fail(w, res.Err)
			return
		}
		if res.Watchers == nil {
			res.Watchers = []presence.WatcherInfo{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"aor": aor, "watchers": res.Watchers, "policy": res.Policy})
	}))
	mux.HandleFunc("PUT /api/v1/presence/{aor}/watchers/{watcher}", a.authorized(func(w http.ResponseWriter, r *http.Request, aor string) {
		var req struct {
			Decision   string `json:"decision"`
			Visibility string `json:"visibility"`
		}
		if !decode(w, r, &req) {
			return
		}
		d, ok := presence.ParseDecision(req.Decision)
		if !ok || (req.Visibility != "" && req.Visibility != presence.LevelFull && req.Visibility != presence.LevelBasic) {
			writeJSON(w, http.StatusBadRequest, adminError{"decision must be allow, block or none; visibility full or basic"})
			return
		}
		watcher := r.PathValue("watcher")
		if !strings.HasPrefix(watcher, "@") {
			watcher = normalAOR(watcher, a.domain)
		}
		a.reply(w, func(reply func(error)) {
			a.router.Decide(&presence.Decide{AOR: aor, Watcher: watcher, Decision: d, Visibility: req.Visibility, Reply: reply})
		})
	}))
	mux.HandleFunc("GET /api/v1/presence/{aor}/policy", a.authorized(func(w http.ResponseWriter, r *http.Request, aor string) {
		res := a.watchers(r.Context(), aor)
		if res.Err != nil {
			a.fail(w, res.Err)
			return
		}
		writeJSON(w, http.StatusOK, res.Policy)
	}))
	mux.HandleFunc("PUT /api/v1/presence/{aor}/policy", a.authorized(func(w http.ResponseWriter, r *http.Request, aor string) {
		var pol presence.Policy
		if !decode(w, r, &pol) {
			return
		}
		if err := pol.Validate(); err != nil {
			writeJSON(w, http.StatusBadRequest, adminError{"mode must be open, same-domain or approve; levels full or basic"})
			return
		}
		a.reply(w, func(reply func(error)) { a.router.SetPolicy(&presence.SetPolicy{AOR: aor, Policy: pol, Reply: reply}) })
	}))
	return mux
}

// authorized checks the bearer token against the AOR of the path.
func (a *presenceAPI) authorized(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		aor := normalAOR(r.PathValue("aor"), a.domain)
		if aor == "" {
			writeJSON(w, http.StatusBadRequest, adminError{"bad address-of-record"})
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+a.domain+`"`)
			writeJSON(w, http.StatusUnauthorized, adminError{"unauthorized"})
			return
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(a.adminToken)) == 1 {
			next(w, r, aor)
			return
		}
		if a.verify == nil {
			writeJSON(w, http.StatusUnauthorized, adminError{"unauthorized: bearer tokens are off, use the admin token"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		id, err := a.verify(ctx, tok)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+a.domain+`", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, adminError{"invalid token"})
			return
		}
		if !id.HasScope(auth.ScopeAdmin) && auth.MatchIdentity(id, aor) != nil {
			writeJSON(w, http.StatusForbidden, adminError{"forbidden: neither the owner nor an administrator"})
			return
		}
		next(w, r, aor)
	}
}

func (a *presenceAPI) watchers(ctx context.Context, aor string) *presence.WatchersResult {
	ch := make(chan *presence.WatchersResult, 1)
	a.router.Watchers(&presence.Watchers{AOR: aor, Reply: func(r *presence.WatchersResult) { ch <- r }})
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return &presence.WatchersResult{Err: ctx.Err()}
	case <-time.After(5 * time.Second):
		return &presence.WatchersResult{Err: errors.New("presence: no answer")}
	}
}

// reply sends a command and writes its answer: 204, or the error.
func (a *presenceAPI) reply(w http.ResponseWriter, send func(func(error))) {
	ch := make(chan error, 1)
	send(func(err error) { ch <- err })
	select {
	case err := <-ch:
		if err != nil {
			a.fail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case <-time.After(5 * time.Second):
		a.fail(w, errors.New("presence: no answer"))
	}
}

func (a *presenceAPI) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, presence.ErrBadPolicy) {
		writeJSON(w, http.StatusBadRequest, adminError{err.Error()})
		return
	}
	a.log.Error("presence API request failed", zap.Error(err))
	writeJSON(w, http.StatusServiceUnavailable, adminError{err.Error()})
}

// normalAOR turns "alice@example.com", "sip:alice@Example.com" or
// "alice" (the server's domain) into the AOR the server keys presence by;
// "" when it is not one.
func normalAOR(s, domain string) string {
	if u, err := url.PathUnescape(s); err == nil {
		s = u
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "sip:"), "sips:")
	user, host, ok := strings.Cut(s, "@")
	if !ok {
		user, host = s, domain
	}
	if user == "" || host == "" || strings.ContainsAny(s, " ;<>?/") {
		return ""
	}
	return "sip:" + user + "@" + strings.ToLower(host)
}
