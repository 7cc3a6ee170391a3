package ua

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/pidf"
)

// directWatcher is one peer-to-peer subscription to this peer (RFC 6665
// notifier side): the dialog, its expiry and its state.
type directWatcher struct {
	aor          string // the watcher, normalised
	callID       string
	localTag     string
	remoteTag    string
	remote       sip.Uri // the watcher's AOR (our To)
	remoteTarget sip.Uri // its Contact
	routes       []sip.Uri
	since        time.Time

	sendMu sync.Mutex // one NOTIFY at a time, in CSeq order
	cseq   uint32

	// guarded by presenceState.mu
	sub        SubState
	reason     string // of the terminated state
	expires    time.Time
	remoteCSeq uint32
	queued     bool // a NOTIFY is waiting to be sent: later changes ride on it
}

// defaultSubscribeExpires is the lifetime of a subscription without
// Expires (RFC 3856 §6.4 suggests 3600 s).
const defaultSubscribeExpires = 3600

// answerSubscribe serves an out-of-dialog SUBSCRIBE for the peer's own
// presence (peer to peer).
func (p *Peer) answerSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	if ev := eventName(req); ev != eventPresence { // RFC 6665 §4.2.1.1
		p.respond(tx, req, 489, "Bad Event", sip.NewHeader("Allow-Events", eventPresence))
		return
	}
	if !strings.EqualFold(req.Recipient.User, p.aor.User) {
		p.respond(tx, req, 404, "Not Found")
		return
	}
	expires, ok := expiresOf(req, defaultSubscribeExpires)
	if !ok {
		p.respond(tx, req, 400, "Bad Expires")
		return
	}
	watcher := normalizeAOR(req.From().Address.String())
	d := p.decide(watcher)
	if d == Block {
		p.respond(tx, req, 403, "Forbidden")
		return
	}
	fromTag, _ := req.From().Params.Get("tag")
	dw := &directWatcher{aor: watcher, callID: req.CallID().Value(), localTag: sip.GenerateTagN(16), remoteTag: fromTag,
		remote: req.From().Address, remoteTarget: contactOf(req, req.From().Address), since: time.Now(),
		remoteCSeq: req.CSeq().SeqNo, sub: SubActive}
	for _, h := range req.GetHeaders("Record-Route") { // RFC 3261 §12.1.1: the UAS keeps the order
		dw.routes = append(dw.routes, routeURIs(h.Value())...)
	}
	code, reason := 200, "OK"
	if d == Pending {
		dw.sub, code, reason = SubPending, 202, "Accepted"
	}
	if expires == 0 { // a fetch: one NOTIFY, then terminated (RFC 6665 §4.4.3)
		dw.sub = SubTerminated
	}
	dw.expires = time.Now().Add(time.Duration(expires) * time.Second)
	if dw.sub != SubTerminated {
		p.pres.mu.Lock()
		p.pres.direct[dw.callID] = dw
		p.pres.mu.Unlock()
		p.dialogs.Store(dw.callID, p.inDialogSubscribe)
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.To().Params.Add("tag", dw.localTag)
	res.AppendHeader(p.contact())
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	if err := tx.Respond(res); err != nil {
		p.log.Debug("respond", zap.String("call_id", dw.callID), zap.Error(err))
	}
	p.log.Info("direct watcher", zap.String("watcher", watcher), zap.String("call_id", dw.callID), zap.Int("status", code))
	p.notifyLater(dw, "timeout")
}

// decide applies the owner's earlier decision, else the configured
// authorization (nil allows everyone).
func (p *Peer) decide(watcher string) Decision {
	p.pres.mu.Lock()
	d, ok := p.pres.decision[watcher]
	p.pres.mu.Unlock()
	if ok {
		return d
	}
	if p.conf.authorize == nil {
		return Allow
	}
	return p.conf.authorize(watcher)
}

// inDialogSubscribe serves a refresh or an unSUBSCRIBE of a direct
// watcher (RFC 6665 §4.2.1.2), and answers anything else in the dialog.
func (p *Peer) inDialogSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	p.pres.mu.Lock()
	dw := p.pres.direct[req.CallID().Value()]
	p.pres.mu.Unlock()
	if dw == nil {
		p.respond(tx, req, 481, "Subscription Does Not Exist")
		return
	}
	if req.Method != sip.SUBSCRIBE {
		p.respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allow))
		return
	}
	expires, ok := expiresOf(req, defaultSubscribeExpires)
	if !ok {
		p.respond(tx, req, 400, "Bad Expires")
		return
	}
	p.pres.mu.Lock()
	if req.CSeq().SeqNo <= dw.remoteCSeq { // RFC 3261 §12.2.2
		p.pres.mu.Unlock()
		p.respond(tx, req, 500, "CSeq Out Of Order")
		return
	}
	dw.remoteCSeq = req.CSeq().SeqNo
	dw.expires = time.Now().Add(time.Duration(expires) * time.Second)
	if expires == 0 {
		p.removeDirectLocked(dw)
	}
	code, reason := 200, "OK"
	if dw.sub == SubPending {
		code, reason = 202, "Accepted"
	}
	if expires == 0 {
		dw.sub = SubTerminated
	}
	p.pres.mu.Unlock()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.AppendHeader(p.contact())
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	_ = tx.Respond(res)
	p.notifyLater(dw, "timeout")
}

func (p *Peer) removeDirectLocked(dw *directWatcher) {
	delete(p.pres.direct, dw.callID)
	p.dialogs.Delete(dw.callID)
}

// notifyLater sends dw its NOTIFY on a goroutine of the peer (a handler
// must not wait for it). reason is that of a terminated subscription. A
// NOTIFY already waiting carries this change too: changes that come
// faster than NOTIFYs are answered are merged, the latest always sent.
func (p *Peer) notifyLater(dw *directWatcher, reason string) {
	p.pres.mu.Lock()
	if reason != "" {
		dw.reason = reason
	}
	queued := dw.queued
	dw.queued = true
	p.pres.mu.Unlock()
	if queued {
		return
	}
	ok := p.goLoop(func() {
		ctx, cancel := context.WithTimeout(p.ctx, p.conf.timeout)
		defer cancel()
		p.notify(ctx, dw)
	})
	if !ok {
		p.pres.mu.Lock()
		dw.queued = false
		p.pres.mu.Unlock()
	}
}

// notify sends dw a NOTIFY with the peer's current state (RFC 6665
// §4.2.2): a pending subscription gets none, a terminated one its reason.
// The state is read under sendMu, so a later CSeq never carries an older
// state.
func (p *Peer) notify(ctx context.Context, dw *directWatcher) {
	dw.sendMu.Lock()
	defer dw.sendMu.Unlock()
	p.pres.mu.Lock()
	dw.queued = false
	sub, reason, left := dw.sub, dw.reason, time.Until(dw.expires)
	p.pres.mu.Unlock()
	if left < 0 {
		left = 0
	}
	dw.cseq++
	req := sip.NewRequest(sip.NOTIFY, dw.remoteTarget)
	from := &sip.FromHeader{DisplayName: p.display, Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", dw.localTag)
	to := &sip.ToHeader{Address: dw.remote, Params: sip.NewParams()}
	to.Params.Add("tag", dw.remoteTag)
	callID := sip.CallIDHeader(dw.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: dw.cseq, MethodName: sip.NOTIFY})
	req.AppendHeader(p.contact())
	for _, r := range dw.routes {
		req.AppendHeader(&sip.RouteHeader{Address: r})
	}
	req.AppendHeader(sip.NewHeader("Event", eventPresence))
	secs := strconv.Itoa(int((left + time.Second/2) / time.Second))
	var body []byte
	switch sub {
	case SubActive:
		req.AppendHeader(sip.NewHeader("Subscription-State", "active;expires="+secs))
		body = p.directState().Document(p.aor.String()).Marshal()
	case SubPending:
		req.AppendHeader(sip.NewHeader("Subscription-State", "pending;expires="+secs))
	default:
		req.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason="+reason))
		if reason != "rejected" {
			body = p.notifyBodyOnEnd(reason)
		}
	}
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", ctPIDF))
	}
	req.SetBody(body)
	p.route(req)
	res, err := p.send(ctx, req)
	log := p.log.With(zap.String("method", "NOTIFY"), zap.String("call_id", dw.callID))
	switch {
	case err != nil:
		log.Debug("notify failed", zap.Error(err))
	case res.StatusCode == 481 || res.StatusCode == 408: // RFC 6665 §4.2.2: the subscription is gone
		p.pres.mu.Lock()
		p.removeDirectLocked(dw)
		p.pres.mu.Unlock()
	case res.StatusCode >= 300:
		log.Debug("notify refused", zap.Int("status", res.StatusCode))
	}
}

// notifyBodyOnEnd is the state a final NOTIFY carries: Offline when the
// peer goes away, else its state.
func (p *Peer) notifyBodyOnEnd(reason string) []byte {
	st := p.directState()
	if reason == "deactivated" || reason == "noresource" {
		st.Status = pidf.StatusOffline
	}
	return st.Document(p.aor.String()).Marshal()
}

// directState is what direct watchers see: the peer's state, InCall
// while a call is up (through a server, the server says so instead).
func (p *Peer) directState() pidf.State {
	st := p.ownState()
	if p.InCall() && st.Status != pidf.StatusOffline {
		st.Status = pidf.StatusInCall
	}
	return st
}

// notifyDirect sends every active direct watcher the current state.
func (p *Peer) notifyDirect() {
	p.pres.mu.Lock()
	var dws []*directWatcher
	for _, dw := range p.pres.direct {
		if dw.sub == SubActive {
			dws = append(dws, dw)
		}
	}
	p.pres.mu.Unlock()
	for _, dw := range dws {
		p.notifyLater(dw, "")
	}
}

// terminateDirect ends every direct watcher's subscription with reason
// and waits for the NOTIFYs (bounded by ctx).
func (p *Peer) terminateDirect(ctx context.Context, reason string) {
	p.pres.mu.Lock()
	dws := make([]*directWatcher, 0, len(p.pres.direct))
	for _, dw := range p.pres.direct {
		dw.sub, dw.reason = SubTerminated, reason
		p.removeDirectLocked(dw)
		dws = append(dws, dw)
	}
	p.pres.mu.Unlock()
	var wg sync.WaitGroup
	for _, dw := range dws {
		wg.Add(1)
		go func() { defer wg.Done(); p.notify(ctx, dw) }()
	}
	wg.Wait()
}

// expireDirect ends the direct subscriptions whose time is up (RFC 6665
// §4.2.2: NOTIFY terminated;reason=timeout).
func (p *Peer) expireDirect(now time.Time) {
	p.pres.mu.Lock()
	var gone []*directWatcher
	for _, dw := range p.pres.direct {
		if now.After(dw.expires) {
			dw.sub = SubTerminated
			p.removeDirectLocked(dw)
			gone = append(gone, dw)
		}
	}
	p.pres.mu.Unlock()
	for _, dw := range gone {
		p.notifyLater(dw, "timeout")
	}
}

// decideDirect applies the owner's decision to the direct watchers of
// watcher and remembers it for later SUBSCRIBEs.
func (p *Peer) decideDirect(watcher string, d Decision) {
	watcher = normalizeAOR(watcher)
	p.pres.mu.Lock()
	p.pres.decision[watcher] = d
	var changed []*directWatcher
	for _, dw := range p.pres.direct {
		if dw.aor != watcher {
			continue
		}
		switch d {
		case Allow:
			if dw.sub == SubPending {
				dw.sub = SubActive
				changed = append(changed, dw)
			}
		case Block:
			dw.sub = SubTerminated
			p.removeDirectLocked(dw)
			changed = append(changed, dw)
		}
	}
	p.pres.mu.Unlock()
	reason := ""
	if d == Block {
		reason = "rejected"
	}
	for _, dw := range changed {
		p.notifyLater(dw, reason)
	}
}

// pendingDirect lists the direct watchers waiting for a decision.
func (p *Peer) pendingDirect() []PendingWatcher {
	p.pres.mu.Lock()
	defer p.pres.mu.Unlock()
	seen := map[string]bool{}
	var out []PendingWatcher
	for _, dw := range p.pres.direct {
		if dw.sub == SubPending && !seen[dw.aor] {
			seen[dw.aor] = true
			out = append(out, PendingWatcher{AOR: dw.aor, At: dw.since})
		}
	}
	return out
}

// eventName is the event package of req's Event header, without
// parameters ("" when it has none).
func eventName(req *sip.Request) string {
	v := headerValue(req, "Event")
	if v == "" {
		v = headerValue(req, "o") // compact form, RFC 6665 §8.2.1
	}
	name, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(name))
}

// expiresOf reads the Expires header (def when absent).
func expiresOf(m interface{ GetHeader(string) sip.Header }, def int) (int, bool) {
	v := headerValue(m, "Expires")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

// contactOf is the URI of m's Contact, or def.
func contactOf(m interface{ GetHeader(string) sip.Header }, def sip.Uri) sip.Uri {
	if h := m.GetHeader("Contact"); h != nil {
		if c, ok := h.(*sip.ContactHeader); ok {
			return c.Address
		}
		if us := routeURIs(h.Value()); len(us) > 0 {
			return us[0]
		}
	}
	return def
}

// routeURIs parses the URIs of a Record-Route/Route/Contact value
// ("<sip:a>;lr, <sip:b>").
func routeURIs(v string) []sip.Uri {
	var out []sip.Uri
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if i, j := strings.Index(part, "<"), strings.Index(part, ">"); i >= 0 && j > i {
			part = part[i+1 : j]
		}
		var u sip.Uri
		if err := sip.ParseUri(part, &u); err == nil && u.Host != "" {
			out = append(out, u)
		}
	}
	return out
}
