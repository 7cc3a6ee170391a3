package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Tokens maps users to bearer tokens and adds them to requests as
// "Authorization: Bearer <token>" (RFC 8898 §2.3, RFC 6750 §2.1). Header
// lines are built once, so the hot path only copies them.
type Tokens struct {
	// list is used in turn by user number when byUser has no entry.
	list [][]byte
	// byUser maps a user name to its header line.
	byUser map[string][]byte
}

// Len returns the number of tokens held.
func (t *Tokens) Len() int { return len(t.list) + len(t.byUser) }

// header returns the Authorization line for user number n called name, or
// nil. A user listed by name gets its own token; else the list is used in
// turn.
func (t *Tokens) header(n int, name []byte) []byte {
	if t == nil {
		return nil
	}
	if h, ok := t.byUser[string(name)]; ok {
		return h
	}
	if len(t.list) == 0 {
		return nil
	}
	return t.list[n%len(t.list)]
}

func bearerLine(token string) []byte {
	return []byte("Authorization: Bearer " + token + "\r\n")
}

// LoadTokens reads a token file: one token per line (used in turn by user
// number) or "user<TAB>token" lines (used for that user). Blank lines and
// lines starting with # are skipped.
func LoadTokens(r io.Reader) (*Tokens, error) {
	t := &Tokens{byUser: map[string][]byte{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.Trim(sc.Text(), " \r") // a trailing tab marks a user without token
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		user, tok, found := strings.Cut(s, "\t")
		user, tok = strings.TrimSpace(user), strings.TrimSpace(tok)
		switch {
		case !found:
			t.list = append(t.list, bearerLine(s))
		case user == "" || tok == "" || strings.ContainsAny(tok, " \t"):
			return nil, fmt.Errorf("%w: line %d: want user<TAB>token", ErrToken, line)
		default:
			t.byUser[user] = bearerLine(tok)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrToken, err)
	}
	if t.Len() == 0 {
		return nil, fmt.Errorf("%w: no token in file", ErrToken)
	}
	return t, nil
}

// PasswordGrant fetches access tokens from an OAuth 2.0 token endpoint with
// the resource owner password credentials grant (RFC 6749 §4.3).
type PasswordGrant struct {
	// URL is the token endpoint.
	URL string
	// ClientID identifies a public client (RFC 6749 §2.3.1); "sipua".
	ClientID string
	// Client makes the requests; nil uses a client with a 10 s timeout.
	Client *http.Client
	// Parallel bounds concurrent requests; 0 means 8.
	Parallel int
}

// tokenResponse is the successful answer (RFC 6749 §5.1) or the error
// answer (§5.2); both are JSON.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// Fetch returns the access token of one user.
func (g *PasswordGrant) Fetch(ctx context.Context, user, password string) (string, error) {
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	if g.ClientID != "" {
		form.Set("client_id", g.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrToken, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrToken, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tr tokenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr); err != nil {
		return "", fmt.Errorf("%w: %s: status %d: %w", ErrToken, user, resp.StatusCode, err)
	}
	switch {
	case resp.StatusCode != http.StatusOK || tr.Error != "":
		return "", fmt.Errorf("%w: %s: status %d: %s %s", ErrToken, user, resp.StatusCode, tr.Error, tr.Description)
	case tr.AccessToken == "":
		return "", fmt.Errorf("%w: %s: no access_token", ErrToken, user)
	case tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer"):
		return "", fmt.Errorf("%w: %s: token_type %q is not Bearer", ErrToken, user, tr.TokenType)
	}
	return tr.AccessToken, nil
}

// FetchAll fetches a token for every user, all with the same password, and
// returns them keyed by user name.
func (g *PasswordGrant) FetchAll(ctx context.Context, users []string, password string) (*Tokens, error) {
	t := &Tokens{byUser: make(map[string][]byte, len(users))}
	var mu sync.Mutex
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(max(g.Parallel, 1))
	if g.Parallel == 0 {
		eg.SetLimit(8)
	}
	for _, u := range users {
		eg.Go(func() error {
			tok, err := g.Fetch(ctx, u, password)
			if err != nil {
				return err
			}
			mu.Lock()
			t.byUser[u] = bearerLine(tok)
			mu.Unlock()
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return t, nil
}
