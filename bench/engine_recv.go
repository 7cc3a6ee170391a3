package bench

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// onMessage handles one message from the server: a response, or a request
// (NOTIFY) that is answered at once.
func (e *engine) onMessage(msg []byte, ob *outbox) {
	if len(msg) >= 4 && string(msg[:4]) == "SIP/" {
		e.onResponse(msg, ob)
		return
	}
	e.onRequest(msg, ob)
}

// onResponse matches one response to its slot by the Via branch and moves
// the logical request on: next step, Digest answer, or its end.
func (e *engine) onResponse(msg []byte, ob *outbox) {
	var r Response
	if err := ParseResponse(msg, &r); err != nil {
		e.cur.Load().st.garbage.Add(1)
		return
	}
	idx, gen, ok := decodeBranch(r.Branch, e.env.run)
	if !ok || int(idx) >= len(e.slots) {
		e.cur.Load().st.unmatched.Add(1)
		return
	}
	s := &e.slots[idx]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateIdle || s.req.gen != gen {
		s.ph.st.late.Add(1) // e.g. the answer to a retransmission
		e.lateAnswer(s, &r, ob)
		return
	}
	if r.Status < 200 {
		s.state = stateProceeding
		return
	}
	if o, ok := s.ph.scen.(stateful); ok {
		o.observe(&s.req, &r)
	}
	now := e.now()
	if d, ok := s.ph.scen.(dialog); ok && d.invite(s.req.Step) && e.answerInvite(s, d, &r, ob, now) {
		return
	}
	switch {
	case (r.Status == 401 || r.Status == 407) && r.Challenge != nil &&
		e.cfg.DigestPassword != "" && s.challenges < maxChallenges:
		if e.answerChallenge(s, &r, ob, now) {
			return
		}
	case r.Status < 300 && s.req.Step+1 < s.ph.steps:
		e.nextStep(s, ob, now)
		return
	}
	e.finish(s, r.Status, now)
}

// answerChallenge resends the request of s with Digest credentials
// (RFC 3261 §22.2: same Call-ID, CSeq+1). It reports false when the
// challenge cannot be answered; the 401/407 then ends the request.
func (e *engine) answerChallenge(s *slot, r *Response, ob *outbox, now int64) bool {
	ch, err := ParseChallenge(r.Challenge)
	if err != nil {
		if ce := e.log.Check(zap.DebugLevel, "digest challenge"); ce != nil {
			ce.Write(zap.Error(err))
		}
		return false
	}
	// Rebuild the request to read its method and Request-URI.
	cur := s.ph.scen.AppendRequest(ob.buf(), &s.req)
	method, uri := requestLine(cur)
	user := s.req.AppendUser(nil, s.req.User)
	cred := Credentials{Username: string(user), Password: e.cfg.DigestPassword}
	h, err := ch.Authorization(cred, string(method), string(uri), newCnonce(), 1)
	if err != nil {
		return false
	}
	name := "Authorization: "
	if r.Proxy {
		name = "Proxy-Authorization: "
	}
	s.req.auth = []byte(name + h + "\r\n")
	s.challenges++
	s.ph.st.challenges.Add(1)
	e.resend(s, ob, now)
	return true
}

// onRequest answers a request from the server (a NOTIFY, RFC 6665 §4.1.3)
// with 200 OK statelessly, copying Via, From, To, Call-ID and CSeq, on the
// socket it came in on; then the scenario, if it watches requests, sees
// it. The 200 OK leaves with the reader's batch (onBatch flushes ob), so
// it may still be queued when the scenario has counted the request: Run
// lets the readers flush before it closes the sockets. Garbage is counted
// and not answered.
func (e *engine) onRequest(msg []byte, ob *outbox) {
	p := e.cur.Load()
	var r IncomingRequest
	if err := ParseRequest(msg, &r); err != nil {
		p.st.garbage.Add(1)
		return
	}
	if string(r.Method) == "ACK" {
		return // never answered (RFC 3261 §17.2.1)
	}
	b, _, err := AppendEchoResponse(ob.buf(), msg, 200, "")
	if err != nil {
		p.st.garbage.Add(1)
		return
	}
	p.st.requests.Add(1)
	if ob.add(b) {
		e.flush(ob)
	}
	if w, ok := e.cfg.Scenario.(requestWatcher); ok {
		w.onRequest(&r, e.now())
	}
}

// sweep runs the timers until ctx ends: retransmissions on UDP and
// timeouts, on every tick.
func (e *engine) sweep(ctx context.Context) {
	obs := make([]*outbox, len(e.locals))
	for i := range obs {
		obs[i] = newOutbox(i)
	}
	due := make([]timerEntry, 0, 256)
	t := time.NewTicker(sweepTick(e.cfg.T1))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := e.now()
		for lvl := range e.tm.levels {
			for due = e.tm.levels[lvl].popDue(now, due[:0]); len(due) > 0; due = e.tm.levels[lvl].popDue(now, due[:0]) {
				for _, d := range due {
					e.retransmit(d, lvl, obs, now)
				}
			}
		}
		for due = e.tm.hold.popDue(now, due[:0]); len(due) > 0; due = e.tm.hold.popDue(now, due[:0]) {
			for _, d := range due {
				e.unhold(d, obs, now)
			}
		}
		for due = e.tm.timeout.popDue(now, due[:0]); len(due) > 0; due = e.tm.timeout.popDue(now, due[:0]) {
			for _, d := range due {
				e.expire(d, now)
			}
		}
		for _, ob := range obs {
			e.flush(ob)
		}
	}
}

// retransmit resends a transaction still waiting for its final response
// (Timer E) and queues the next retransmission.
func (e *engine) retransmit(d timerEntry, level int, obs []*outbox, now int64) {
	s := &e.slots[d.slot]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateIdle || s.req.gen != d.gen || inviteProceeding(s) {
		return
	}
	ob := obs[s.sock]
	b := s.ph.scen.AppendRequest(ob.buf(), &s.req)
	s.ph.st.retrans.Add(1)
	if ob.add(b) {
		e.flush(ob)
	}
	e.tm.rearm(d, level, s.state == stateProceeding, now)
}

// expire ends a transaction that reached Timer F.
func (e *engine) expire(d timerEntry, now int64) {
	s := &e.slots[d.slot]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateIdle || s.req.gen != d.gen {
		return
	}
	e.finish(s, 0, now)
}
