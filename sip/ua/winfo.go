package ua

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goio "io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/pidf"
)

// ErrNoAPI reports an owner's decision asked through a server without
// WithAPI: the server takes decisions over its HTTP API only.
var ErrNoAPI = errors.New("ua: no HTTP API configured (WithAPI)")

// WithAPI sets the base URL of the server's HTTP API (e.g.
// http://127.0.0.1:8080), where Approve, Block and PendingWatchers go
// with the peer's bearer token.
func WithAPI(baseURL string) Option {
	return func(c *config) { c.api = strings.TrimRight(baseURL, "/") }
}

// PendingWatcher is someone who asked to watch the peer.
type PendingWatcher struct {
	AOR string
	At  time.Time // when known: peer to peer, or from watcherinfo
}

// PendingWatchers lists who waits for the owner's decision. Peer to peer
// it is the local list. Through a server it asks the HTTP API when
// WithAPI is set, else it fetches the watcher information (SUBSCRIBE
// Event: presence.winfo with Expires: 0, RFC 3857) and reads the NOTIFY.
func (p *Peer) PendingWatchers(ctx context.Context) ([]PendingWatcher, error) {
	if p.server() == "" {
		return p.pendingDirect(), nil
	}
	if p.conf.api != "" {
		return p.pendingFromAPI(ctx)
	}
	return p.pendingFromWinfo(ctx)
}

// Approve lets watcher see the peer's presence.
func (p *Peer) Approve(ctx context.Context, watcher string) error {
	return p.decideWatcher(ctx, watcher, Allow)
}

// Block refuses watcher.
func (p *Peer) Block(ctx context.Context, watcher string) error {
	return p.decideWatcher(ctx, watcher, Block)
}

func (p *Peer) decideWatcher(ctx context.Context, watcher string, d Decision) error {
	u, err := p.target(watcher)
	if err != nil {
		return err
	}
	aor := normalizeAOR(u.String())
	if p.server() == "" {
		p.decideDirect(aor, d)
		return nil
	}
	decision := "allow"
	if d == Block {
		decision = "block"
	}
	body, _ := json.Marshal(map[string]string{"decision": decision})
	_, err = p.api(ctx, http.MethodPut, "/watchers/"+url.PathEscape(strings.TrimPrefix(aor, "sip:")), body)
	return err
}

func (p *Peer) pendingFromAPI(ctx context.Context) ([]PendingWatcher, error) {
	raw, err := p.api(ctx, http.MethodGet, "/watchers", nil)
	if err != nil {
		return nil, err
	}
	var res struct {
		Watchers []struct {
			Watcher string `json:"watcher"`
			State   string `json:"state"`
		} `json:"watchers"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("ua: watchers: %w", err)
	}
	var out []PendingWatcher
	seen := map[string]bool{}
	for _, w := range res.Watchers {
		if w.State == "pending" && !seen[w.Watcher] {
			seen[w.Watcher] = true
			out = append(out, PendingWatcher{AOR: w.Watcher})
		}
	}
	return out, nil
}

// api calls the presence API of the peer's own AOR with its bearer token.
func (p *Peer) api(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	if p.conf.api == "" {
		return nil, ErrNoAPI
	}
	tok, ok := p.credentials().(*tokens)
	if !ok {
		return nil, fmt.Errorf("%w: the HTTP API needs a bearer token", ErrAuth)
	}
	bearer, err := tok.current(ctx)
	if err != nil {
		return nil, err
	}
	u := p.conf.api + "/api/v1/presence/" + url.PathEscape(p.aor.User+"@"+p.aor.Host) + path
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ua: %s %s: %w", method, u, err)
	}
	defer res.Body.Close()
	raw, _ := goio.ReadAll(goio.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		err := &StatusError{Method: method, Code: res.StatusCode, Reason: strings.TrimSpace(string(raw))}
		if res.StatusCode == 401 || res.StatusCode == 403 {
			return nil, fmt.Errorf("%w: %w", ErrAuth, err)
		}
		return nil, err
	}
	return raw, nil
}

// pendingFromWinfo fetches the watcher information of the peer's own AOR
// (RFC 3857 §3.2, a fetch is Expires: 0) and lists the pending watchers
// of its NOTIFY (RFC 3858).
func (p *Peer) pendingFromWinfo(ctx context.Context) ([]PendingWatcher, error) {
	req := p.newRequest(sip.SUBSCRIBE, p.aor)
	req.AppendHeader(sip.NewHeader("Event", eventWinfo))
	req.AppendHeader(sip.NewHeader("Accept", ctWinfo))
	req.AppendHeader(sip.NewHeader("Expires", "0"))
	callID := req.CallID().Value()
	bodies := make(chan []byte, 1)
	p.dialogs.Store(callID, func(n *sip.Request, tx sip.ServerTransaction) {
		p.respond(tx, n, 200, "OK")
		if n.Method == sip.NOTIFY && len(n.Body()) > 0 {
			select {
			case bodies <- n.Body():
			default:
			}
		}
	})
	defer p.dialogs.Delete(callID)
	res, err := p.send(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 300 {
		return nil, statusError(req, res)
	}
	var body []byte
	select {
	case body = <-bodies:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(p.conf.timeout):
		return nil, fmt.Errorf("ua: no watcherinfo NOTIFY")
	}
	wi, err := pidf.ParseWatcherInfo(body)
	if err != nil {
		return nil, fmt.Errorf("ua: watcherinfo: %w", err)
	}
	var out []PendingWatcher
	seen := map[string]bool{}
	for _, l := range wi.Lists {
		for _, w := range l.Watchers {
			if (w.Status == pidf.WatcherPending || w.Status == pidf.WatcherWaiting) && !seen[w.URI] {
				seen[w.URI] = true
				pw := PendingWatcher{AOR: normalizeAOR(w.URI)}
				if w.DurationSubscribed > 0 {
					pw.At = time.Now().Add(-time.Duration(w.DurationSubscribed) * time.Second)
				}
				out = append(out, pw)
			}
		}
	}
	return out, nil
}
