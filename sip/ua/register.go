package ua

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// RegState is where a registration stands.
type RegState int

// Registration states, reported on RegEvents.
const (
	Registering RegState = iota
	Registered
	RegFailed
	Unregistered
)

func (s RegState) String() string {
	switch s {
	case Registering:
		return "registering"
	case Registered:
		return "registered"
	case RegFailed:
		return "failed"
	case Unregistered:
		return "unregistered"
	}
	return "RegState(" + strconv.Itoa(int(s)) + ")"
}

// RegEvent is one change of the registration's state.
type RegEvent struct {
	State   RegState
	Expires time.Duration // granted, when Registered
	Err     error         // why, when RegFailed, or the failure a Registering retries after
	At      time.Time
}

// RegisterOption configures Register.
type RegisterOption func(*registerConfig)

type registerConfig struct {
	cred    Credentials
	expires time.Duration
}

// WithBearer authenticates with a fixed bearer token.
func WithBearer(token string) RegisterOption {
	return func(c *registerConfig) { c.cred = Bearer(token) }
}

// WithTokenSource authenticates with tokens from src, refreshed as they
// expire.
func WithTokenSource(src TokenSource) RegisterOption {
	return func(c *registerConfig) { c.cred = Tokens(src) }
}

// WithDigest authenticates with Digest.
func WithDigest(user, password string) RegisterOption {
	return func(c *registerConfig) { c.cred = Digest(user, password) }
}

// WithExpires asks for this registration lifetime (default 3600 s).
func WithExpires(d time.Duration) RegisterOption {
	return func(c *registerConfig) { c.expires = d }
}

// Backoff after a failed attempt (RFC 5626 §4.5: a base time doubled per
// failure up to a cap, waiting a random 50–100% of it).
const (
	backoffBase = time.Second
	backoffCap  = 60 * time.Second
)

// eventBuffer is how many RegEvents wait for a slow reader.
const eventBuffer = 16

// ErrRegFailed reports a registration the registrar refused for good (403,
// 404, other 4xx, or credentials it does not accept).
var ErrRegFailed = errors.New("ua: registration refused")

// registrations is the peer's registration state.
type registrations struct {
	mu  sync.Mutex
	cur *registration // nil: not registered

	emitMu sync.Mutex
	events chan RegEvent
}

// registration is one REGISTER lifetime: one Call-ID, CSeq+1 per request
// (RFC 3261 §10.2.4).
type registration struct {
	registrar string
	callID    string
	tag       string
	expires   time.Duration // asked; raised by a 423

	// attempt runs one REGISTER (p.registerOnce); tests of the schedule
	// replace it.
	attempt func(p *Peer, ctx context.Context, r *registration) attemptResult

	mu      sync.Mutex
	cseq    uint32
	conn    string // the server's connection key (TCP keepalive)
	granted time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{} // re-REGISTER now (a keepalive failed)
	done   chan struct{} // closed when the loop has stopped
}

// attemptResult is the outcome of one REGISTER.
type attemptResult struct {
	granted time.Duration // > 0 on success
	err     error
	fatal   bool // stop retrying
}

func (p *Peer) initRegistrations() {
	p.regs.events = make(chan RegEvent, eventBuffer)
	p.onClose(func(ctx context.Context) {
		if err := p.Unregister(ctx); err != nil && !errors.Is(err, ErrNotRegistered) {
			p.log.Info("unregister on close", zap.Error(err))
		}
	})
}

// ErrNotRegistered is Unregister's answer when the peer has no
// registration (never registered, refused, or already unregistered).
var ErrNotRegistered = errors.New("ua: not registered")

// Register registers the peer at registrar (host:port) and keeps the
// registration alive until Unregister or Close. The registrar becomes the
// peer's server: later requests (PUBLISH, SUBSCRIBE, MESSAGE) go there,
// with the credentials of opts (or those of New's WithCredentials).
//
// It returns after the first final answer: nil on 200, an error wrapping
// ErrRegFailed when the registrar refuses for good (403, 404, credentials),
// another error for a failure that may pass (no answer, 5xx). After a
// passing failure the peer keeps retrying in the background, backing off
// from 1 s to 60 s, until Unregister or Close; RegEvents tells when it
// succeeds. A registration refreshes itself at 90% of the granted expiry,
// and a 423 is retried with the registrar's Min-Expires. Calling Register
// again replaces the earlier registration (which is unregistered first).
func (p *Peer) Register(ctx context.Context, registrar string, opts ...RegisterOption) error {
	c := registerConfig{expires: time.Hour}
	for _, o := range opts {
		o(&c)
	}
	if c.expires <= 0 {
		return fmt.Errorf("ua: register: expires %v must be positive", c.expires)
	}
	if err := p.Unregister(ctx); err != nil && !errors.Is(err, ErrNotRegistered) {
		p.log.Info("unregister before register", zap.Error(err))
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("ua: register: peer closed")
	}
	p.proxy = registrar
	if c.cred != nil {
		p.cred = c.cred
	}
	p.mu.Unlock()

	r := &registration{registrar: registrar, callID: sip.GenerateTagN(24), tag: sip.GenerateTagN(16),
		expires: c.expires, attempt: (*Peer).registerOnce, kick: make(chan struct{}, 1), done: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(p.ctx)
	p.regs.mu.Lock()
	p.regs.cur = r
	p.regs.mu.Unlock()

	p.emit(RegEvent{State: Registering})
	// The first attempt ends with ctx, or with an Unregister or Close.
	firstCtx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(r.ctx, cancel)
	first := r.attempt(p, firstCtx, r)
	stop()
	cancel()
	if first.fatal {
		r.cancel()
		close(r.done)
		p.regs.mu.Lock()
		if p.regs.cur == r {
			p.regs.cur = nil
		}
		p.regs.mu.Unlock()
		p.emit(RegEvent{State: RegFailed, Err: first.err})
		return first.err
	}
	next := p.afterAttempt(r, first, 0)
	if !p.goLoop(func() { p.regLoop(r, next, first.err != nil) }) {
		// The peer closed meanwhile: no loop will end r, so end it here
		// (an Unregister waits for r.done).
		r.cancel()
		close(r.done)
		return fmt.Errorf("ua: register: peer closed")
	}
	if p.conf.keepalive > 0 {
		p.goLoop(func() { p.keepalive(r) })
	}
	return first.err
}

// afterAttempt reports res and returns when the next REGISTER is due.
// failures is how many attempts in a row failed before this one.
func (p *Peer) afterAttempt(r *registration, res attemptResult, failures int) time.Duration {
	if res.err != nil {
		p.emit(RegEvent{State: Registering, Err: res.err})
		return backoff(failures)
	}
	p.emit(RegEvent{State: Registered, Expires: res.granted})
	return refreshAfter(res.granted)
}

// refreshAfter is when to refresh a registration granted for d: at 90%.
func refreshAfter(d time.Duration) time.Duration { return d * 9 / 10 }

// backoff is the wait after failures+1 attempts failed in a row: 1 s
// doubling up to 60 s, of which a random 50–100%.
func backoff(failures int) time.Duration {
	d := backoffCap
	if failures < 6 {
		d = min(backoffBase<<failures, backoffCap)
	}
	return d/2 + rand.N(d/2+1)
}

// regLoop refreshes r until it is cancelled or refused for good.
func (p *Peer) regLoop(r *registration, next time.Duration, failing bool) {
	defer close(r.done)
	failures := 0
	if failing {
		failures = 1
	}
	t := time.NewTimer(next)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
			t.Stop()
		}
		res := r.attempt(p, r.ctx, r)
		if r.ctx.Err() != nil {
			return
		}
		if res.fatal {
			p.regs.mu.Lock()
			if p.regs.cur == r {
				p.regs.cur = nil
			}
			p.regs.mu.Unlock()
			p.emit(RegEvent{State: RegFailed, Err: res.err})
			return
		}
		t.Reset(p.afterAttempt(r, res, failures))
		if res.err != nil {
			failures++
		} else {
			failures = 0
		}
	}
}

// registerOnce sends one REGISTER of r (and a second with Min-Expires
// after a 423) and classifies the outcome.
func (p *Peer) registerOnce(ctx context.Context, r *registration) attemptResult {
	for range 2 {
		r.mu.Lock()
		expires := r.expires
		r.mu.Unlock()
		req := p.registerRequest(r, expires)
		res, err := p.send(ctx, req)
		r.mu.Lock()
		r.cseq = req.CSeq().SeqNo
		r.mu.Unlock()
		log := p.log.With(zap.String("call_id", r.callID), zap.String("method", "REGISTER"))
		if err != nil {
			log.Info("register failed", zap.Error(err))
			return attemptResult{err: err, fatal: errors.Is(err, ErrAuth)}
		}
		switch c := res.StatusCode; {
		case c >= 200 && c < 300:
			granted := grantedExpiry(res, p.contact(), expires)
			if granted <= 0 { // our binding is not in the answer: retry later rather than loop
				log.Info("registrar granted no time", zap.Int("status", c))
				return attemptResult{err: fmt.Errorf("ua: register: %d without our binding", c)}
			}
			r.mu.Lock()
			r.granted, r.conn = granted, res.Source()
			r.mu.Unlock()
			log.Debug("registered", zap.Duration("expires", granted))
			return attemptResult{granted: granted}
		case c == 423:
			min := headerSeconds(res, "Min-Expires")
			if min <= expires {
				return attemptResult{err: fmt.Errorf("%w: %w", ErrRegFailed, statusError(req, res)), fatal: true}
			}
			log.Info("interval too brief", zap.Duration("min_expires", min))
			r.mu.Lock()
			r.expires = min
			r.mu.Unlock()
		case c == 401 || c == 407:
			log.Info("register not authorized", zap.Int("status", c))
			return attemptResult{err: fmt.Errorf("%w: %w", ErrAuth, statusError(req, res)), fatal: true}
		case c == 408 || c == 480 || c >= 500:
			log.Info("register failed", zap.Int("status", c))
			return attemptResult{err: statusError(req, res)}
		default:
			log.Info("register refused", zap.Int("status", c))
			return attemptResult{err: fmt.Errorf("%w: %w", ErrRegFailed, statusError(req, res)), fatal: true}
		}
	}
	return attemptResult{err: fmt.Errorf("%w: 423 twice", ErrRegFailed), fatal: true}
}

// registerRequest builds the next REGISTER of r: To and From the AOR, the
// Request-URI its domain (RFC 3261 §10.2), CSeq one more than the last.
func (p *Peer) registerRequest(r *registration, expires time.Duration) *sip.Request {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: p.aor.Host, Port: p.aor.Port})
	from := &sip.FromHeader{DisplayName: p.display, Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", r.tag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{DisplayName: p.display, Address: p.aor})
	callID := sip.CallIDHeader(r.callID)
	req.AppendHeader(&callID)
	r.mu.Lock()
	r.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER})
	r.mu.Unlock()
	secs := strconv.Itoa(int(expires.Round(time.Second) / time.Second))
	contact := p.contact()
	contact.Params = sip.NewParams()
	contact.Params.Add("expires", secs)
	req.AppendHeader(contact)
	req.AppendHeader(sip.NewHeader("Expires", secs))
	p.route(req)
	return req
}

// grantedExpiry is the expiry the registrar granted our contact: the
// expires param of the Contact of res that is ours, else the Expires
// header, else what we asked (RFC 3261 §10.2.4).
func grantedExpiry(res *sip.Response, ours *sip.ContactHeader, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		a := c.Address
		if a.User != ours.Address.User || a.Host != ours.Address.Host || a.Port != ours.Address.Port {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if d := headerSeconds(res, "Expires"); d > 0 {
		return d
	}
	return asked
}

// headerSeconds reads a header of delta-seconds; 0 when absent or bad.
func headerSeconds(res *sip.Response, name string) time.Duration {
	h := res.GetHeader(name)
	if h == nil {
		return 0
	}
	n, err := strconv.Atoi(h.Value())
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(min(n, maxSeconds)) * time.Second
}

// Unregister removes the peer's registration (REGISTER Expires: 0) and
// reports Unregistered. The server stays the peer's server for later
// requests. It returns ErrNotRegistered when there is nothing to remove.
func (p *Peer) Unregister(ctx context.Context) error {
	p.regs.mu.Lock()
	r := p.regs.cur
	p.regs.cur = nil
	p.regs.mu.Unlock()
	if r == nil {
		return ErrNotRegistered
	}
	r.cancel()
	<-r.done
	req := p.registerRequest(r, 0)
	res, err := p.send(ctx, req)
	p.emit(RegEvent{State: Unregistered})
	if err != nil {
		return fmt.Errorf("ua: unregister: %w", err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return statusError(req, res)
	}
	p.log.Debug("unregistered", zap.String("call_id", r.callID), zap.String("method", "REGISTER"))
	return nil
}

// RegEvents reports each registration state change. The channel is
// buffered (16 events) and never blocks the registration: when the reader
// falls behind, the oldest events are dropped, so the latest state is
// always there to read.
func (p *Peer) RegEvents() <-chan RegEvent { return p.regs.events }

// emit reports ev, dropping the oldest event when the buffer is full.
func (p *Peer) emit(ev RegEvent) {
	ev.At = time.Now()
	p.regs.emitMu.Lock()
	defer p.regs.emitMu.Unlock()
	for {
		select {
		case p.regs.events <- ev:
			return
		default:
		}
		select {
		case <-p.regs.events:
		default:
		}
	}
}

// registered returns the current registration, nil when none.
func (p *Peer) registered() *registration {
	p.regs.mu.Lock()
	defer p.regs.mu.Unlock()
	return p.regs.cur
}
