package call

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/media/relay"
	"github.com/b2bua/b2bua/sip/status"
)

// The media relay (Config.Media "relay", media.Engine): every leg has a
// media.Session, made by the call when it makes the leg and watched by a
// media-leg actor, a child of the call. The dialog leg rewrites the SDP it
// sends (sdpSend) and reads the SDP its endpoint sends (sdpRecv) through
// its session; the call bridges the sessions of leg A and of the fork
// whose media A should hear (an early-media 18x, the 2xx, a transfer's
// new leg). Packets never pass through an actor: see media/relay.

// mediaLeg is the actor of one leg's media: it starts the session's relay
// loops, reports its counters (Prometheus, and the call when the call
// ends), watches for silence (Engine.Config().Timeout) and for a reader's
// panic, and closes the session (its ports go into quarantine) when it
// stops. A reader's panic becomes this actor's, which escalates to the
// call: the call restarts empty, every leg sends BYE or CANCEL and every
// media leg stops (media/README.md, Failure).
type mediaLeg struct {
	*env
	s          *media.Session
	side       string
	call, self *actor.PID
	timer      *time.Timer
	reported   relay.Stats // what went to Prometheus so far
	idle       bool
}

type mediaTick struct{}

// mediaFailed is a relay reader's panic, reported by the reader's
// goroutine.
type mediaFailed struct{ reason any }

// mediaIdle tells the call that a leg's endpoint went silent (idle) or
// spoke again.
type mediaIdle struct {
	s    *media.Session
	idle bool
}

// mediaMiddleware wraps every media leg's Receive: for tests that inject
// faults, never in production wiring.
var mediaMiddleware []actor.ReceiverMiddleware

// mediaTickEvery is how often a media leg reads its counters.
const mediaTickEvery = time.Second

func (m *mediaLeg) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.call, m.self = ctx.Parent(), actor.NewPID(ctx.Self().Address, ctx.Self().Id)
		root, self := ctx.ActorSystem().Root, m.self
		m.s.Start(func(r any) { root.Send(self, &mediaFailed{reason: r}) })
		m.arm(ctx)
	case *mediaTick:
		m.tick(ctx)
		m.arm(ctx)
	case *mediaFailed:
		panic(fmt.Sprintf("call: media relay of %s failed: %v", m.s, msg.reason))
	case *actor.Stopping:
		if m.timer != nil {
			m.timer.Stop()
		}
		{
			m.s.Close()
			m.report()
			st := m.s.Stats()
			m.log.Debug("media leg ended", zap.String("call_id", m.s.CallID()), zap.String("leg", m.side),
				zap.Uint64("rx_packets", st.RxPackets), zap.Uint64("tx_packets", st.TxPackets),
				zap.Uint64("dropped", st.Dropped), zap.Uint64("hijack", st.Hijack), zap.Uint64("auth_failed", st.AuthFailed),
				zap.Float64("loss", st.Loss), zap.Uint32("jitter", st.Jitter))
		}
	}
}

// arm sets the next tick: one timer and one message for the leg's life,
// so that a thousand idle calls do not allocate thousands of times a
// second.
func (m *mediaLeg) arm(ctx actor.Context) {
	if m.timer != nil {
		m.timer.Reset(mediaTickEvery)
		return
	}
	root, self, tick := ctx.ActorSystem().Root, m.self, &mediaTick{}
	m.timer = time.AfterFunc(mediaTickEvery, func() { root.Send(self, tick) })
}

// tick reports the counters and tells the call when the endpoint went
// silent (or spoke again) while not on hold.
func (m *mediaLeg) tick(ctx actor.Context) {
	m.report()
	timeout := m.media.Config().Timeout
	if timeout <= 0 {
		return
	}
	last := m.s.LastRx()
	idle := !last.IsZero() && !m.s.Held() && time.Since(last) > timeout
	if idle != m.idle {
		m.idle = idle
		ctx.Send(m.call, &mediaIdle{s: m.s, idle: idle})
	}
}

// report adds what the counters moved since the last report to the
// engine's Prometheus metrics.
func (m *mediaLeg) report() {
	st := m.s.Stats()
	m.media.Observe(st, m.reported)
	m.reported = st
}

// ---- the call's side ----

// newMedia makes a leg's session and its media leg; nil when media passes
// through.
func (c *Call) newMedia(sc *shard.Context, role media.Role, side string) (*media.Session, *actor.PID) {
	if c.media == nil {
		return nil, nil
	}
	s := c.media.NewSession(role, c.callID, side)
	// The session goes in the producer, not in a first message: a Stop
	// (a system message) overtakes messages, and a media leg stopped
	// before it knew its session would leak its ports.
	pid := sc.Spawn(actor.PropsFromProducer(func() actor.Actor { return &mediaLeg{env: c.env, s: s, side: side} },
		actor.WithReceiverMiddleware(mediaMiddleware...)))
	return s, pid
}

// bridge links the media of leg A's peer: what a hears comes from b.
func (c *Call) bridge(a, b *legRef) {
	if a == nil || b == nil || a.media == nil || b.media == nil {
		return
	}
	media.Bridge(a.media, b.media)
}

// mediaIdle ends an answered call when both its legs' endpoints are
// silent (RFC 3550 endpoints send RTP or, on hold, nothing: holds do not
// count).
func (c *Call) mediaIdle(sc *shard.Context, m *mediaIdle) {
	var l *legRef
	for _, x := range c.legs {
		if x.media == m.s {
			l = x
		}
	}
	if l == nil {
		return
	}
	l.idle = m.idle
	if !c.answered || c.over || !m.idle {
		return
	}
	p := c.peerOf(l)
	if p == nil || p.idle || p.media == nil {
		c.log.Info("no media: call ended", zap.String("call_id", c.callID), zap.Duration("timeout", c.media.Config().Timeout))
		c.end(sc)
	}
}

// stopMedia stops a leg's media leg (its ports go into quarantine), and
// logs what its media did.
func (c *Call) stopMedia(sc *shard.Context, l *legRef) {
	if ce := c.log.Check(zap.DebugLevel, "media"); ce != nil && l.media != nil && c.answered {
		st := l.media.Stats()
		ce.Write(zap.String("call_id", c.callID), zap.String("leg", l.media.Side()),
			zap.Uint64("rx_packets", st.RxPackets), zap.Uint64("tx_packets", st.TxPackets),
			zap.Uint64("rx_bytes", st.RxBytes), zap.Uint64("tx_bytes", st.TxBytes),
			zap.Uint64("dropped", st.Dropped), zap.Uint64("hijack", st.Hijack), zap.Uint64("auth_failed", st.AuthFailed),
			zap.Float64("loss", st.Loss), zap.Int64("lost", st.Lost), zap.Uint32("jitter", st.Jitter))
	}
	if l.mpid != nil {
		sc.Stop(l.mpid)
		l.mpid = nil
	}
}

// mediaRespond is the answer to an INVITE whose media could not be set
// up: 503 with Retry-After when the relay has no ports, else 488 or 500.
func mediaRespond(err error) *respond {
	code, reason := status.Of(err)
	r := &respond{code: code, reason: reason}
	if errors.Is(err, media.ErrExhausted) {
		r.headers = []sip.Header{sip.NewHeader("Retry-After", "5")}
	}
	return r
}

// ---- the dialog leg's side ----

// sdpSend is body as it goes to this leg's endpoint: rewritten by the
// leg's session when media is relayed (offer: an offer, else the answer
// to the endpoint's). It remembers what was sent (sdpOut).
func (l *leg) sdpSend(body []byte, offer bool) ([]byte, error) {
	if len(body) == 0 {
		return body, nil
	}
	if l.media != nil {
		out, err := l.media.Sent(body, offer)
		if err != nil {
			l.log.Info("SDP not relayed", zap.String("call_id", l.d.id.CallID), zap.Error(err))
			return nil, err
		}
		body = out
	}
	l.sdpOut = body
	return body, nil
}

// sdpRecv takes an SDP this leg's endpoint sent: the session learns where
// the endpoint wants media and its keys. It remembers it (sdpIn).
func (l *leg) sdpRecv(body []byte, offer bool) error {
	if len(body) == 0 {
		return nil
	}
	l.sdpIn = body
	if l.media == nil {
		return nil
	}
	if err := l.media.Received(body, offer); err != nil {
		l.log.Info("SDP not usable for the relay", zap.String("call_id", l.d.id.CallID), zap.Error(err))
		return err
	}
	return nil
}

// bodyIsSDP reports whether body, described by headers, is SDP: its
// Content-Type says so, or it has none.
func bodyIsSDP(headers []sip.Header, body []byte) bool {
	if len(body) == 0 {
		return false
	}
	for _, h := range headers {
		if strings.EqualFold(h.Name(), "Content-Type") {
			return isSDPType(h.Value())
		}
	}
	return true
}

// toCaller is a response to A's INVITE with its SDP rewritten for the
// caller: the answer to its offer (or our offer, its INVITE had none). A
// provisional whose SDP cannot be relayed goes without it; a 2xx becomes
// the error (503, 488), and the call hangs up the callee.
func (l *leg) toCaller(m *respond) *respond {
	if !bodyIsSDP(m.headers, m.body) {
		return m
	}
	body, err := l.sdpSend(m.body, len(l.invite.Body()) == 0)
	if err == nil {
		r := *m
		r.body = body
		return &r
	}
	if m.code < 200 {
		r := *m
		r.body, r.headers = nil, withoutContent(m.headers)
		return &r
	}
	return mediaRespond(err)
}

// answerOut is body (the answer to this endpoint's offer, in an ACK or a
// PRACK) rewritten for the endpoint; nil when it cannot be relayed.
func (l *leg) answerOut(body []byte) []byte {
	out, err := l.sdpSend(body, false)
	if err != nil {
		return nil
	}
	return out
}

// withoutContent is headers without those describing a body.
func withoutContent(headers []sip.Header) []sip.Header {
	out := make([]sip.Header, 0, len(headers))
	for _, h := range headers {
		if !strings.HasPrefix(strings.ToLower(h.Name()), "content-") {
			out = append(out, h)
		}
	}
	return out
}
