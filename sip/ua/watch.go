package ua

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/pidf"
)

// SubState is the state of a subscription (RFC 6665 Subscription-State).
type SubState int

// Subscription states.
const (
	SubPending SubState = iota
	SubActive
	SubTerminated
)

var subStateNames = [...]string{"pending", "active", "terminated"}

// String returns the state as Subscription-State spells it.
func (s SubState) String() string {
	if int(s) < len(subStateNames) && s >= 0 {
		return subStateNames[s]
	}
	return "SubState(" + strconv.Itoa(int(s)) + ")"
}

// Update is one presence state of a watched target.
type Update struct {
	Target string     // the watched AOR
	State  pidf.State // Status Offline when the target is offline or unreachable
	Sub    SubState
	Reason string // of a terminated subscription
	At     time.Time
}

// updatesBuffer is how many updates a Watcher keeps for a slow reader;
// past it the oldest is dropped, never the latest.
const updatesBuffer = 16

// Watcher is one watched target. Its Updates channel is buffered: a
// reader that falls more than 16 updates behind loses the oldest ones,
// never the latest. It is closed when the watch ends (Stop, Close, or a
// subscription the target refused for good).
type Watcher struct {
	p       *Peer
	target  string
	uri     sip.Uri
	direct  bool // peer to peer: heartbeat with OPTIONS
	expires time.Duration

	ctx    context.Context // ends at Stop or Close
	cancel context.CancelFunc
	done   chan struct{}
	term   chan subStatus     // terminated NOTIFYs for the loop, latest kept
	expiry chan time.Duration // the expires of active NOTIFYs, latest kept

	mu       sync.Mutex // guards the fields below
	updates  chan Update
	closed   bool
	dlg      *subDialog
	stopCtx  context.Context
	lastSent pidf.State
}

// subDialog is the watcher's current SUBSCRIBE dialog (RFC 6665 §4.1).
type subDialog struct {
	callID, localTag, remoteTag string
	to                          sip.Uri
	remoteTarget                sip.Uri
	routes                      []sip.Uri
	cseq, remoteCSeq            uint32
	targetSet                   bool // remote target and route set learnt
}

// subStatus is a parsed Subscription-State.
type subStatus struct {
	state      SubState
	reason     string
	expires    time.Duration
	retryAfter time.Duration
	hasRetry   bool
}

// Watch subscribes to target's presence ("bob", "sip:bob@example.com", or
// "sip:bob@127.0.0.1:5070" peer to peer): SUBSCRIBE with Event: presence
// through the server, or to the target itself when the peer has none. It
// returns once the target accepted the subscription (200 or 202); a
// refusal is a *StatusError. The watch then refreshes itself at 90% of
// the granted Expires, resubscribes after a NOTIFY terminated (after its
// retry-after, else with a backoff; never after reason rejected or
// noresource) and, peer to peer, checks the target with OPTIONS.
func (p *Peer) Watch(ctx context.Context, target string) (*Watcher, error) {
	uri, err := p.target(target)
	if err != nil {
		return nil, err
	}
	key := sip.Uri{Scheme: uri.Scheme, User: uri.User, Host: uri.Host, Port: uri.Port}
	w := &Watcher{p: p, target: key.String(), uri: uri, direct: p.server() == "", expires: time.Hour,
		done: make(chan struct{}), term: make(chan subStatus, 1), expiry: make(chan time.Duration, 1), updates: make(chan Update, updatesBuffer)}
	if p.conf.subscribeExpires > 0 {
		w.expires = p.conf.subscribeExpires
	}
	w.ctx, w.cancel = context.WithCancel(p.ctx)
	granted, err := w.subscribe(ctx)
	if err != nil {
		w.cancel()
		return nil, err
	}
	p.pres.mu.Lock()
	p.pres.watches[w] = struct{}{}
	p.pres.mu.Unlock()
	if !p.goLoop(func() { w.run(granted) }) {
		w.finish()
		return nil, ErrClosed
	}
	return w, nil
}

// Target is the watched AOR.
func (w *Watcher) Target() string { return w.target }

// Updates yields the target's presence states.
func (w *Watcher) Updates() <-chan Update { return w.updates }

// Stop ends the subscription (unSUBSCRIBE, bounded by ctx) and closes
// Updates. It is safe to call more than once.
func (w *Watcher) Stop(ctx context.Context) error {
	w.mu.Lock()
	if w.stopCtx == nil {
		w.stopCtx = ctx
	}
	w.mu.Unlock()
	w.cancel()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Watcher) log() *zap.Logger {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.p.log.With(zap.String("target", w.target))
	if w.dlg != nil {
		l = l.With(zap.String("call_id", w.dlg.callID))
	}
	return l
}

// run owns the subscription until Stop or Close.
func (w *Watcher) run(granted time.Duration) {
	defer w.finish()
	p := w.p
	refresh := time.NewTimer(refreshIn(granted))
	defer refresh.Stop()
	due := time.Now().Add(refreshIn(granted)) // when refresh fires
	schedule := func(g time.Duration) {
		refresh.Reset(refreshIn(g))
		due = time.Now().Add(refreshIn(g))
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var hb <-chan time.Time
	if w.direct && p.conf.heartbeat > 0 {
		t := time.NewTicker(p.conf.heartbeat)
		defer t.Stop()
		hb = t.C
	}
	subscribed, offline, lastOK := true, false, time.Now()
	backoff := time.Second
	for {
		select {
		case <-w.ctx.Done():
			if subscribed {
				w.unsubscribe()
			}
			return
		case <-refresh.C:
			if !subscribed {
				continue
			}
			g, err := w.refresh()
			if err != nil {
				w.log().Info("subscription refresh failed, subscribing anew", zap.String("method", "SUBSCRIBE"), zap.Error(err))
				w.dropDialog()
				subscribed = false
				retry.Reset(0)
				continue
			}
			schedule(g)
		case d := <-w.expiry:
			// A NOTIFY said the subscription ends sooner than granted
			// (RFC 6665 §4.1.2.2: the notifier may shorten it).
			if subscribed && time.Now().Add(refreshIn(d)).Before(due) {
				schedule(d)
			}
		case st := <-w.term:
			w.dropDialog()
			subscribed = false
			refresh.Stop()
			if st.reason == "rejected" || st.reason == "noresource" { // RFC 6665 §4.1.3: do not retry
				return
			}
			wait := backoff
			if st.hasRetry {
				wait = st.retryAfter
			}
			retry.Reset(wait)
		case <-retry.C:
			if offline || subscribed {
				continue // the heartbeat resubscribes once the target answers
			}
			g, err := w.resubscribe()
			var se *StatusError
			switch {
			case errors.As(err, &se) && (se.Code == 403 || se.Code == 404 || se.Code == 489 || se.Code == 603):
				w.emit(Update{State: pidf.State{Status: pidf.StatusOffline}, Sub: SubTerminated, Reason: "rejected"})
				return
			case err != nil:
				w.log().Debug("resubscribe failed", zap.Error(err))
				backoff = min(backoff*2, 5*time.Minute)
				retry.Reset(backoff)
			default:
				subscribed, backoff = true, time.Second
				schedule(g)
			}
		case <-hb:
			alive := w.ping()
			if w.ctx.Err() != nil {
				continue // stopping: the next round unsubscribes
			}
			if alive {
				lastOK = time.Now()
				if offline {
					offline = false
					w.log().Info("watched peer answers again, resubscribing")
					retry.Reset(0)
				}
				continue
			}
			if !offline && time.Since(lastOK) >= p.conf.offlineAfter {
				offline = true
				w.log().Info("watched peer does not answer: offline")
				w.emit(Update{State: pidf.State{Status: pidf.StatusOffline}, Sub: SubTerminated, Reason: "unreachable"})
				if subscribed {
					w.dropDialog()
					subscribed = false
					refresh.Stop()
				}
			}
		}
	}
}

// refreshIn is when to refresh a subscription or publication granted for
// d: at 90% of it (at least a second after).
func refreshIn(d time.Duration) time.Duration {
	return max(d*9/10, time.Second)
}

// finish closes Updates and forgets the watcher.
func (w *Watcher) finish() {
	w.dropDialog()
	w.mu.Lock()
	w.closed = true
	close(w.updates)
	w.mu.Unlock()
	w.p.pres.mu.Lock()
	delete(w.p.pres.watches, w)
	w.p.pres.mu.Unlock()
	close(w.done)
}

// emit offers u to Updates without blocking: when the buffer is full the
// oldest update is dropped.
func (w *Watcher) emit(u Update) {
	u.Target, u.At = w.target, time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.lastSent = u.State
	offerLatest(w.updates, u)
}

// offerLatest sends u on ch, dropping the oldest queued value while ch is
// full. The caller must be ch's only sender.
func offerLatest(ch chan Update, u Update) {
	for {
		select {
		case ch <- u:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// subscribe starts a new dialog: SUBSCRIBE out of dialog, registered in
// p.dialogs before it is sent (a NOTIFY may beat the 2xx, RFC 6665
// §4.1.2.4). It returns the granted expiry.
func (w *Watcher) subscribe(ctx context.Context) (time.Duration, error) {
	return w.subscribeOnce(ctx, false)
}

// subscribeOnce is subscribe; retried says a 423 was answered already.
func (w *Watcher) subscribeOnce(ctx context.Context, retried bool) (time.Duration, error) {
	p := w.p
	req := p.newRequest(sip.SUBSCRIBE, w.uri)
	req.AppendHeader(sip.NewHeader("Event", eventPresence))
	req.AppendHeader(sip.NewHeader("Accept", ctPIDF))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(w.expires/time.Second))))
	tag, _ := req.From().Params.Get("tag")
	d := &subDialog{callID: req.CallID().Value(), localTag: tag, to: w.uri, remoteTarget: w.uri, cseq: 1}
	w.mu.Lock()
	w.dlg = d
	w.mu.Unlock()
	p.dialogs.Store(d.callID, w.onRequest)
	log := p.log.With(zap.String("method", "SUBSCRIBE"), zap.String("call_id", d.callID), zap.String("target", w.target))
	res, err := p.send(ctx, req)
	if err == nil && res.StatusCode == 423 && !retried {
		if min := headerSeconds(res, "Min-Expires"); min > w.expires { // RFC 6665 §4.1.2.1: ask again for at least that
			log.Info("subscription too brief, asking for Min-Expires", zap.Duration("min_expires", min))
			w.dropDialog()
			w.expires = min
			return w.subscribeOnce(ctx, true)
		}
	}
	if err == nil && res.StatusCode >= 300 {
		err = statusError(req, res)
	}
	if err != nil {
		log.Info("subscribe failed", zap.Error(err))
		w.dropDialog()
		return 0, err
	}
	w.mu.Lock()
	d.cseq = req.CSeq().SeqNo // send may have raised it to answer a challenge
	if tag, ok := res.To().Params.Get("tag"); ok && d.remoteTag == "" {
		d.remoteTag = tag
	}
	if !d.targetSet {
		d.remoteTarget = contactOf(res, w.uri)
		var rr []sip.Uri
		for _, h := range res.GetHeaders("Record-Route") {
			rr = append(rr, routeURIs(h.Value())...)
		}
		slices.Reverse(rr) // RFC 3261 §12.1.2: the UAC reverses the Record-Route
		d.routes, d.targetSet = rr, true
	}
	w.mu.Unlock()
	log.Debug("subscribed", zap.Int("status", res.StatusCode))
	return grantedExpires(res, w.expires), nil
}

// resubscribe starts a new dialog from the loop; peer to peer it gives up
// when the target stays silent past offlineAfter.
func (w *Watcher) resubscribe() (time.Duration, error) {
	ctx := w.ctx
	if w.direct {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, max(w.p.conf.offlineAfter, time.Second))
		defer cancel()
	}
	return w.subscribe(ctx)
}

func grantedExpires(res *sip.Response, asked time.Duration) time.Duration {
	if n, err := strconv.Atoi(headerValue(res, "Expires")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return asked
}

// inDialog builds a request within the watcher's dialog, nil when there
// is none.
func (w *Watcher) inDialog(m sip.RequestMethod) *sip.Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.dlg
	if d == nil || d.remoteTag == "" {
		return nil
	}
	d.cseq++
	p := w.p
	req := sip.NewRequest(m, d.remoteTarget)
	from := &sip.FromHeader{DisplayName: p.display, Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", d.localTag)
	to := &sip.ToHeader{Address: d.to, Params: sip.NewParams()}
	to.Params.Add("tag", d.remoteTag)
	callID := sip.CallIDHeader(d.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: d.cseq, MethodName: m})
	req.AppendHeader(p.contact())
	for _, r := range d.routes {
		req.AppendHeader(&sip.RouteHeader{Address: r})
	}
	p.route(req)
	return req
}

// refresh renews the subscription in its dialog (RFC 6665 §4.1.2.2).
func (w *Watcher) refresh() (time.Duration, error) {
	req := w.inDialog(sip.SUBSCRIBE)
	if req == nil {
		return 0, errors.New("ua: no dialog to refresh")
	}
	req.AppendHeader(sip.NewHeader("Event", eventPresence))
	req.AppendHeader(sip.NewHeader("Accept", ctPIDF))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(w.expires/time.Second))))
	res, err := w.p.send(w.ctx, req)
	if err != nil {
		return 0, err
	}
	w.syncCSeq(req)
	if min := headerSeconds(res, "Min-Expires"); res.StatusCode == 423 && min > w.expires {
		w.expires = min // the server's minimum went up: refresh again with it
		return w.refresh()
	}
	if res.StatusCode >= 300 {
		return 0, statusError(req, res)
	}
	return grantedExpires(res, w.expires), nil
}

// unsubscribe sends SUBSCRIBE Expires: 0 in the dialog (RFC 6665
// §4.1.2.3), bounded by Stop's context.
func (w *Watcher) unsubscribe() {
	w.mu.Lock()
	ctx := w.stopCtx
	w.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
	}
	req := w.inDialog(sip.SUBSCRIBE)
	if req == nil {
		return
	}
	req.AppendHeader(sip.NewHeader("Event", eventPresence))
	req.AppendHeader(sip.NewHeader("Expires", "0"))
	res, err := w.p.send(ctx, req)
	if err != nil || res.StatusCode >= 300 {
		w.log().Debug("unsubscribe failed", zap.String("method", "SUBSCRIBE"), zap.Error(err))
	}
}

func (w *Watcher) syncCSeq(req *sip.Request) {
	w.mu.Lock()
	if w.dlg != nil && w.dlg.callID == req.CallID().Value() && req.CSeq().SeqNo > w.dlg.cseq {
		w.dlg.cseq = req.CSeq().SeqNo
	}
	w.mu.Unlock()
}

// dropDialog forgets the current dialog: later NOTIFYs in it get 481.
func (w *Watcher) dropDialog() {
	w.mu.Lock()
	d := w.dlg
	w.dlg = nil
	w.mu.Unlock()
	if d != nil {
		w.p.dialogs.Delete(d.callID)
	}
}

// ping sends OPTIONS to the target (peer-to-peer heartbeat); any answer
// means it is alive.
func (w *Watcher) ping() bool {
	ctx, cancel := context.WithTimeout(w.ctx, max(w.p.conf.heartbeat, 50*time.Millisecond))
	defer cancel()
	_, err := w.p.send(ctx, w.p.newRequest(sip.OPTIONS, w.uri))
	return err == nil
}

// onRequest serves a request in the watcher's dialog: a NOTIFY (RFC 6665
// §4.1.3), checked against the dialog's tags and CSeq order.
func (w *Watcher) onRequest(req *sip.Request, tx sip.ServerTransaction) {
	p := w.p
	if req.Method != sip.NOTIFY {
		p.respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allow))
		return
	}
	fromTag, _ := req.From().Params.Get("tag")
	w.mu.Lock()
	d := w.dlg
	switch {
	case d == nil || d.callID != req.CallID().Value() || (d.remoteTag != "" && d.remoteTag != fromTag):
		w.mu.Unlock()
		p.respond(tx, req, 481, "Subscription Does Not Exist")
		return
	case d.remoteCSeq != 0 && req.CSeq().SeqNo <= d.remoteCSeq: // RFC 3261 §12.2.2
		w.mu.Unlock()
		p.respond(tx, req, 500, "CSeq Out Of Order")
		return
	}
	d.remoteCSeq = req.CSeq().SeqNo
	if d.remoteTag == "" { // the NOTIFY came before the 2xx: it sets up the dialog
		d.remoteTag = fromTag
	}
	if !d.targetSet {
		d.remoteTarget = contactOf(req, d.remoteTarget)
		for _, h := range req.GetHeaders("Record-Route") {
			d.routes = append(d.routes, routeURIs(h.Value())...)
		}
		d.targetSet = true
	} else if c := req.GetHeader("Contact"); c != nil {
		d.remoteTarget = contactOf(req, d.remoteTarget) // RFC 6665 §4.1.3: a NOTIFY may update it
	}
	last := w.lastSent
	w.mu.Unlock()
	if eventName(req) != eventPresence {
		p.respond(tx, req, 489, "Bad Event", sip.NewHeader("Allow-Events", eventPresence))
		return
	}
	st := parseSubscriptionState(headerValue(req, "Subscription-State"))
	u := Update{Sub: st.state, Reason: st.reason, State: last}
	if body := req.Body(); len(body) > 0 {
		doc, err := pidf.Parse(body)
		if err != nil {
			p.respond(tx, req, 400, "Bad PIDF")
			return
		}
		u.State = pidf.FromDocument(doc)
	} else if st.state == SubTerminated {
		u.State = pidf.State{Status: pidf.StatusOffline}
	} else if st.state == SubPending {
		u.State = pidf.State{}
	}
	if st.state == SubTerminated {
		w.dropDialog() // gone now: a Stop racing the loop must not unSUBSCRIBE it
	}
	p.respond(tx, req, 200, "OK")
	w.log().Debug("notify", zap.String("method", "NOTIFY"), zap.String("sub", st.state.String()), zap.String("status", u.State.Status.String()))
	w.emit(u)
	if st.state != SubTerminated && st.expires > 0 {
		for { // keep the latest; never block the handler
			select {
			case w.expiry <- st.expires:
			default:
				select {
				case <-w.expiry:
				default:
				}
				continue
			}
			break
		}
	}
	if st.state == SubTerminated {
		for { // keep the latest; never block the handler (the loop may be gone)
			select {
			case w.term <- st:
				return
			default:
			}
			select {
			case <-w.term:
			default:
			}
		}
	}
}

// parseSubscriptionState reads a Subscription-State value (RFC 6665
// §8.2.3): "active;expires=600", "terminated;reason=rejected",
// "terminated;reason=probation;retry-after=30". An unknown state counts
// as active.
// maxSeconds bounds the seconds a header may ask for (a year): more
// would overflow a time.Duration and wrap to a negative wait.
const maxSeconds = 365 * 24 * 3600

func parseSubscriptionState(v string) subStatus {
	parts := strings.Split(v, ";")
	var s subStatus
	switch strings.ToLower(strings.TrimSpace(parts[0])) {
	case "pending":
		s.state = SubPending
	case "terminated":
		s.state = SubTerminated
	default:
		s.state = SubActive
	}
	for _, kv := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
		val = strings.TrimSpace(val)
		switch strings.ToLower(k) {
		case "reason":
			s.reason = strings.ToLower(val)
		case "expires":
			if n, err := strconv.Atoi(val); err == nil && n >= 0 {
				s.expires = time.Duration(min(n, maxSeconds)) * time.Second
			}
		case "retry-after":
			if n, err := strconv.Atoi(val); err == nil && n >= 0 {
				s.retryAfter, s.hasRetry = time.Duration(min(n, maxSeconds))*time.Second, true
			}
		}
	}
	return s
}
