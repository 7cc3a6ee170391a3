package ua

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/pidf"
)

// PresenceOption adds a detail to SetPresence.
type PresenceOption func(*pidf.State)

// WithNote sets the note ("in a meeting").
func WithNote(s string) PresenceOption { return func(st *pidf.State) { st.Note = s } }

// WithDevice sets the device ID (a urn:uuid:… URI).
func WithDevice(id string) PresenceOption { return func(st *pidf.State) { st.Device = id } }

// WithLocation sets the place (free text).
func WithLocation(s string) PresenceOption { return func(st *pidf.State) { st.Location = s } }

// WithCaps sets the capabilities.
func WithCaps(c pidf.Caps) PresenceOption { return func(st *pidf.State) { st.Caps = c } }

// WithCustom sets the text of a pidf.StatusCustom status.
func WithCustom(text string) PresenceOption { return func(st *pidf.State) { st.Custom = text } }

// WithPublishExpires sets the lifetime SetPresence asks for its
// publication (default 3600 s); the server may grant less, or answer 423
// with its minimum, which the peer then uses.
func WithPublishExpires(d time.Duration) Option {
	return func(c *config) { c.publishExpires = d }
}

// WithSubscribeExpires sets the lifetime Watch asks for its
// subscriptions (default 3600 s); they are refreshed at 90% of what the
// notifier grants.
func WithSubscribeExpires(d time.Duration) Option {
	return func(c *config) { c.subscribeExpires = d }
}

// Presence body and event names.
const (
	eventPresence = "presence"
	eventWinfo    = "presence.winfo"
	ctPIDF        = "application/pidf+xml"
	ctWinfo       = "application/watcherinfo+xml"
)

// ErrClosed reports a call on a closed peer or a stopped watcher.
var ErrClosed = errors.New("ua: closed")

// presenceState is the presence half of a Peer: its own state, its
// publication at the server, its watches and its direct watchers.
type presenceState struct {
	mu       sync.Mutex // guards the fields below
	state    pidf.State
	set      bool // SetPresence was called: direct watchers see state, else Available
	watches  map[*Watcher]struct{}
	direct   map[string]*directWatcher // peer to peer, by Call-ID
	decision map[string]Decision       // the owner's decisions by watcher AOR (peer to peer)

	pubMu   sync.Mutex // one PUBLISH at a time; guards the publication
	etag    string
	expires time.Duration // asked
	refresh *time.Timer   // fires at 90% of the granted lifetime
}

func (p *Peer) initPresence() {
	p.pres.watches = map[*Watcher]struct{}{}
	p.pres.direct = map[string]*directWatcher{}
	p.pres.decision = map[string]Decision{}
	p.pres.expires = time.Hour
	if p.conf.publishExpires > 0 {
		p.pres.expires = p.conf.publishExpires
	}
	p.pres.refresh = time.NewTimer(time.Hour)
	p.pres.refresh.Stop()
	p.handle(sip.SUBSCRIBE, p.answerSubscribe)
	p.goLoop(p.presenceLoop)
	p.onClose(p.closePresence)
}

// presenceLoop refreshes the publication and expires direct watchers.
func (p *Peer) presenceLoop() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.pres.refresh.C:
			if err := p.publish(p.ctx, false); err != nil {
				p.log.Warn("publication refresh failed", zap.String("method", "PUBLISH"), zap.Error(err))
			}
		case now := <-tick.C:
			p.expireDirect(now)
		}
	}
}

// closePresence runs at Close: stop every watch (unSUBSCRIBE), end the
// direct watchers' subscriptions, remove the publication.
func (p *Peer) closePresence(ctx context.Context) {
	p.pres.mu.Lock()
	ws := make([]*Watcher, 0, len(p.pres.watches))
	for w := range p.pres.watches {
		ws = append(ws, w)
	}
	p.pres.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Stop(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); p.terminateDirect(ctx, "deactivated") }()
	wg.Wait()
	p.unpublish(ctx)
}

// SetPresence publishes the peer's presence and keeps it published.
//
// Through a server it sends a PUBLISH (RFC 3903) with Event: presence and
// an application/pidf+xml body, remembers the SIP-ETag and refreshes the
// publication (SIP-If-Match, no body) at 90% of the granted Expires; a
// later SetPresence modifies it (SIP-If-Match with a body). A 412 starts
// a fresh publication, a 423 asks again with the Min-Expires. Close
// removes it (Expires: 0). Peer to peer it sets the local state and
// NOTIFYs every active direct watcher.
func (p *Peer) SetPresence(ctx context.Context, status pidf.Status, opts ...PresenceOption) error {
	st := pidf.State{Status: status}
	for _, o := range opts {
		o(&st)
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	p.pres.mu.Lock()
	p.pres.state, p.pres.set = st, true
	p.pres.mu.Unlock()
	p.notifyDirect() // no-op without direct watchers
	if p.server() == "" {
		return nil
	}
	return p.publish(ctx, true)
}

// ownState is what the peer says of itself: Available until SetPresence.
func (p *Peer) ownState() pidf.State {
	p.pres.mu.Lock()
	defer p.pres.mu.Unlock()
	if !p.pres.set {
		return pidf.State{Status: pidf.StatusAvailable}
	}
	return p.pres.state
}

// publish sends the publication: with the body (initial or modify) or
// without (refresh), answering one 412 and one 423.
func (p *Peer) publish(ctx context.Context, withBody bool) error {
	p.pres.pubMu.Lock()
	defer p.pres.pubMu.Unlock()
	expires := p.pres.expires
	for attempt := 0; attempt < 3; attempt++ {
		body := []byte(nil)
		if withBody || p.pres.etag == "" {
			body = p.ownState().Document(p.aor.String()).Marshal()
		}
		res, err := p.sendPublish(ctx, p.pres.etag, body, expires)
		if err != nil {
			return err
		}
		switch res.StatusCode {
		case 200:
			p.pres.etag = headerValue(res, "SIP-ETag")
			granted := expires
			if n, err := strconv.Atoi(headerValue(res, "Expires")); err == nil && n > 0 {
				granted = time.Duration(n) * time.Second
			}
			p.pres.refresh.Reset(granted * 9 / 10)
			return nil
		case 412: // RFC 3903 §4.4: the publication is gone, start a new one
			p.log.Info("publication unknown to the server, publishing anew", zap.String("method", "PUBLISH"))
			p.pres.etag = ""
		case 423: // RFC 3903 §4.1: too brief
			n, err := strconv.Atoi(headerValue(res, "Min-Expires"))
			if err != nil || n <= 0 {
				return &StatusError{Method: "PUBLISH", Code: res.StatusCode, Reason: res.Reason}
			}
			expires = time.Duration(n) * time.Second
			p.pres.expires = expires
		default:
			return &StatusError{Method: "PUBLISH", Code: res.StatusCode, Reason: res.Reason}
		}
	}
	return &StatusError{Method: "PUBLISH", Code: 412, Reason: "Conditional Request Failed"}
}

// unpublish removes the publication (Expires: 0 with SIP-If-Match).
func (p *Peer) unpublish(ctx context.Context) {
	p.pres.pubMu.Lock()
	defer p.pres.pubMu.Unlock()
	p.pres.refresh.Stop()
	if p.pres.etag == "" || p.server() == "" {
		return
	}
	res, err := p.sendPublish(ctx, p.pres.etag, nil, 0)
	p.pres.etag = ""
	if err != nil || res.StatusCode != 200 {
		p.log.Info("publication removal failed", zap.String("method", "PUBLISH"), zap.Error(err))
	}
}

func (p *Peer) sendPublish(ctx context.Context, etag string, body []byte, expires time.Duration) (*sip.Response, error) {
	req := p.newRequest(sip.PUBLISH, p.aor)
	req.AppendHeader(sip.NewHeader("Event", eventPresence))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	if etag != "" {
		req.AppendHeader(sip.NewHeader("SIP-If-Match", etag))
	}
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", ctPIDF))
	}
	req.SetBody(body)
	return p.send(ctx, req)
}

// headerValue is the trimmed value of m's first header name, or "".
func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return strings.TrimSpace(h.Value())
	}
	return ""
}
