package call

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/sip/status"
)

// Session timers (RFC 4028), one per leg: each dialog negotiates its own
// interval and refresher. When we refresh, the leg sends a re-INVITE
// (UPDATE when the peer allows it) with the last SDP it sent at half the
// interval; when the peer refreshes and no refresh came by the interval
// minus min(32 s, interval/3) (§10), the leg sends BYE and ends, and so
// does the call.

// ErrSessionExpired ends a leg whose peer did not refresh the session in
// time (RFC 4028 §10).
var ErrSessionExpired = errors.New("call: session expired, no refresh")

// sessionTooSmall answers a request whose Session-Expires is below our
// Min-SE (RFC 4028 §6): 422 with Min-SE.
func (c *Config) sessionTooSmall() *respond {
	return &respond{code: status.SessionTooSmall, reason: "Session Interval Too Small",
		headers: []sip.Header{sip.NewHeader("Min-SE", secs(c.MinSE))}}
}

// sessionTimer is one leg's session timer; interval 0 means none.
type sessionTimer struct {
	interval  time.Duration
	refresher bool // we refresh this leg
	update    bool // the peer allows UPDATE: refresh with it
	peerTimer bool // the peer supports timer (Require: timer in our answers)
	minSE     time.Duration
	timer     *time.Timer
	gen       uint64
	refreshID uint64 // port id of our refresh in flight
	refreshed sip.RequestMethod
	tries     int
}

// sessionTick is the leg's session timer firing (generation gen).
type sessionTick struct{ gen uint64 }

func secs(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// sessionExpires reads a Session-Expires header (RFC 4028 §4): the
// interval and the refresher parameter ("uac", "uas" or "").
func sessionExpires(m sip.Message) (time.Duration, string, bool) {
	h := headerNamed(m, "Session-Expires")
	if h == nil {
		h = headerNamed(m, "x") // compact form
	}
	if h == nil {
		return 0, "", false
	}
	parts := strings.Split(h.Value(), ";")
	n, err := strconv.ParseUint(strings.TrimSpace(parts[0]), 10, 32)
	if err != nil {
		return 0, "", false
	}
	ref := ""
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "refresher") {
			ref = strings.ToLower(strings.TrimSpace(v))
		}
	}
	return time.Duration(n) * time.Second, ref, true
}

// minSE reads a Min-SE header; 0 when there is none.
func minSE(m sip.Message) time.Duration {
	h := headerNamed(m, "Min-SE")
	if h == nil {
		return 0
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(n) * time.Second
}

// allows reports whether m's Allow lists method.
func allows(m sip.Message, method sip.RequestMethod) bool { return has(m, "Allow", string(method)) }

// tooSmall reports whether a request asks for a session interval below
// Config.MinSE.
func (c *Config) tooSmall(req *sip.Request) bool {
	se, _, ok := sessionExpires(req)
	return ok && se < c.MinSE
}

// uasTimer is leg A's session timer from the caller's INVITE (RFC 4028
// §9): the caller's interval and refresher when it asked; ours (with the
// caller refreshing if it supports timers, else us) when it did not.
func uasTimer(c *Config, req *sip.Request) sessionTimer {
	st := sessionTimer{peerTimer: has(req, "Supported", "timer") || has(req, "Require", "timer"),
		update: allows(req, sip.UPDATE), minSE: max(c.MinSE, minSE(req))}
	se, ref, ok := sessionExpires(req)
	switch {
	case ok:
		st.interval = se
		st.refresher = ref == "uas" || !st.peerTimer
	case c.SessionExpires > 0:
		st.interval = max(c.SessionExpires, st.minSE)
		st.refresher = !st.peerTimer
	}
	return st
}

// uacTimer is leg B's session timer from the callee's 2xx (RFC 4028 §7.2):
// its Session-Expires says who refreshes; without one the callee does not
// do session timers, and we refresh at the interval we asked for.
func uacTimer(c *Config, sent *sip.Request, res *sip.Response) sessionTimer {
	st := sessionTimer{update: allows(res, sip.UPDATE), peerTimer: has(res, "Require", "timer") || has(res, "Supported", "timer"),
		minSE: max(c.MinSE, minSE(sent))}
	if se, ref, ok := sessionExpires(res); ok {
		st.interval, st.refresher = se, ref != "uas"
		return st
	}
	if se, _, ok := sessionExpires(sent); ok {
		st.interval, st.refresher = se, true
	}
	return st
}

// answerHeaders are the session timer headers of our 2xx to the peer's
// INVITE or UPDATE (RFC 4028 §9).
func (st *sessionTimer) answerHeaders() []sip.Header {
	if st.interval == 0 {
		return nil
	}
	ref := "uac"
	if st.refresher {
		ref = "uas"
	}
	hs := []sip.Header{sip.NewHeader("Session-Expires", secs(st.interval)+";refresher="+ref)}
	if st.peerTimer {
		hs = append(hs, sip.NewHeader("Require", "timer"))
	}
	return hs
}

// requestHeaders are the session timer headers of a re-INVITE or UPDATE we
// send on the leg (RFC 4028 §7.4): we are its UAC.
func (st *sessionTimer) requestHeaders() []sip.Header {
	if st.interval == 0 {
		return nil
	}
	ref := "uas"
	if st.refresher {
		ref = "uac"
	}
	return []sip.Header{sip.NewHeader("Session-Expires", secs(st.interval)+";refresher="+ref),
		sip.NewHeader("Min-SE", secs(st.minSE)), sip.NewHeader("Supported", "timer")}
}

// arm (re)starts the session timer: the refresh at half the interval, or
// the expiry at the interval minus min(32 s, interval/3).
func (l *leg) armSession(ctx actor.Context) {
	st := &l.st
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	if st.interval <= 0 || l.state != confirmed {
		return
	}
	d := st.interval / 2
	if !st.refresher {
		d = st.interval - min(32*time.Second, st.interval/3)
	}
	st.gen++
	root, self, gen := ctx.ActorSystem().Root, l.self, st.gen
	st.timer = time.AfterFunc(d, func() { root.Send(self, &sessionTick{gen: gen}) })
}

func (l *leg) stopSession() {
	if l.st.timer != nil {
		l.st.timer.Stop()
		l.st.timer = nil
	}
	l.st.gen++
}

// sessionTicked: refresh, or the session expired.
func (l *leg) sessionTicked(ctx actor.Context, m *sessionTick) {
	st := &l.st
	if m.gen != st.gen || l.state != confirmed {
		return
	}
	st.timer = nil
	if !st.refresher {
		l.log.Info("session expired, ending the call", zap.String("call_id", l.d.id.CallID), zap.Duration("interval", st.interval))
		l.bye(ctx)
		l.end(ctx, ErrSessionExpired)
		return
	}
	l.refreshSession(ctx)
}

// refreshSession sends our refresh: UPDATE without a body when the peer
// allows it, else a re-INVITE with the last SDP we sent (unchanged, so
// its version too: RFC 3264 §8). A re-INVITE in progress is a refresh
// already: we try again shortly.
func (l *leg) refreshSession(ctx actor.Context) {
	st := &l.st
	method := sip.INVITE
	if st.update && st.refreshed != sip.INVITE {
		method = sip.UPDATE
	}
	if st.refreshID != 0 || method == sip.INVITE && (l.inviting || len(l.sdpOut) == 0) || l.offerOut {
		l.retrySession(ctx, 2*time.Second)
		return
	}
	req := l.d.request(method)
	for _, h := range st.requestHeaders() {
		req.AppendHeader(h)
	}
	if method == sip.INVITE {
		l.inviting = true
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(l.sdpOut)
	}
	st.refreshed = method
	st.refreshID = l.sendReq(ctx, req)
	if ce := l.log.Check(zap.DebugLevel, "session refresh sent"); ce != nil {
		ce.Write(zap.String("call_id", l.d.id.CallID), zap.String("method", string(method)))
	}
}

// retrySession arms the timer to try the refresh again after d.
func (l *leg) retrySession(ctx actor.Context, d time.Duration) {
	st := &l.st
	if st.timer != nil {
		st.timer.Stop()
	}
	st.gen++
	root, self, gen := ctx.ActorSystem().Root, l.self, st.gen
	st.timer = time.AfterFunc(d, func() { root.Send(self, &sessionTick{gen: gen}) })
}

// refreshed is the outcome of our refresh: a 2xx restarts the timer (with
// the interval the peer's answer names); 422 retries with the peer's
// Min-SE; 405/501 to an UPDATE falls back to re-INVITE; 481 or 408 (or
// no answer) ends the leg (RFC 5057 §5.1); anything else keeps the
// session until it expires.
func (l *leg) refreshResult(ctx actor.Context, res *sip.Response, err error) {
	st := &l.st
	st.refreshID = 0
	method := st.refreshed
	if method == sip.INVITE {
		l.inviting = false
	}
	code := 0
	if res != nil {
		code = res.StatusCode
	}
	switch {
	case code >= 200 && code < 300:
		if method == sip.INVITE {
			l.ackFor(ctx, res.CSeq().SeqNo, nil)
		}
		l.d.refresh(res, l.path)
		if se, ref, ok := sessionExpires(res); ok && se > 0 {
			st.interval, st.refresher = se, ref != "uas"
		}
		st.tries = 0
		l.armSession(ctx)
	case code == status.SessionTooSmall && st.tries < 2:
		st.tries++
		st.minSE = max(st.minSE, minSE(res))
		st.interval = max(st.interval, st.minSE)
		l.refreshSession(ctx)
	case (code == status.MethodNotAllowed || code == status.NotImplemented) && method == sip.UPDATE:
		st.update = false
		l.refreshSession(ctx)
	case code == status.NoSuchDialog || code == status.RequestTimeout || err != nil:
		l.log.Info("session refresh failed, ending the call", zap.String("call_id", l.d.id.CallID), zap.Int("status", code), zap.Error(err))
		if code != status.NoSuchDialog { // a 481 says the peer has no dialog left to BYE
			l.bye(ctx)
		}
		l.end(ctx, ErrSessionExpired)
	case code == status.RequestPending:
		l.retrySession(ctx, 2*time.Second)
	default:
		l.armSession(ctx)
	}
}

// peerRefresh handles a re-INVITE or UPDATE from the peer as a session
// refresh: its Session-Expires below our Min-SE is 422; otherwise its
// interval and refresher are taken. It reports whether the request was
// answered (422, or answered here because it refreshes and nothing else).
func (l *leg) peerRefresh(ctx actor.Context, m *dialog.Request) bool {
	req := m.Request
	st := &l.st
	if se, _, ok := sessionExpires(req); ok && se < l.conf.MinSE {
		r := l.conf.sessionTooSmall()
		m.Reply(&dialog.Reply{Code: r.code, Reason: r.reason, Headers: r.headers})
		return true
	}
	if !l.pureRefresh(req) {
		return false
	}
	l.takeRefresh(req)
	var body []byte
	var hs []sip.Header
	if req.Method == sip.INVITE || len(req.Body()) > 0 {
		body = l.sdpOut
		hs = append(hs, sip.NewHeader("Content-Type", "application/sdp"))
	}
	hs = append(hs, st.answerHeaders()...)
	hs = append(hs, sip.NewHeader("Contact", "<"+l.d.contact+">"))
	l.d.refresh(req, l.path)
	m.Reply(&dialog.Reply{Code: status.OK, Headers: hs, Body: body})
	l.armSession(ctx)
	return true
}

// takeRefresh takes the interval and refresher of a refresh the peer sent
// (it is the refresh's UAC).
func (l *leg) takeRefresh(req *sip.Request) {
	st := &l.st
	if se, ref, ok := sessionExpires(req); ok {
		st.interval = se
		st.refresher = ref == "uas"
		st.peerTimer = st.peerTimer || has(req, "Supported", "timer")
	}
}

// pureRefresh reports whether a re-INVITE or UPDATE changes nothing but
// the session's expiry: an UPDATE without a body, or an offer with the
// version of the last SDP the peer sent (RFC 3264 §8: an unchanged
// session keeps its version). Such a request is answered by the leg and
// not relayed.
func (l *leg) pureRefresh(req *sip.Request) bool {
	if len(req.Body()) == 0 {
		return req.Method == sip.UPDATE
	}
	if !isSDP(req) || len(l.sdpIn) == 0 || len(l.sdpOut) == 0 {
		return false
	}
	v := sdpVersion(req.Body())
	return v != "" && v == sdpVersion(l.sdpIn)
}
