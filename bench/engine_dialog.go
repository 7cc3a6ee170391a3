package bench

import "time"

// stateHolding is a call between its INVITE's 2xx (acknowledged) and its
// BYE: no transaction is open, a hold timer is armed.
const stateHolding uint8 = stateProceeding + 1

// dialog is implemented by scenarios whose logical request is a dialog
// (call, RFC 3261 §13): the INVITE step's final response is acknowledged
// outside the engine's transactions, a provisional response stops the
// INVITE's retransmissions, and the step after its 2xx may wait (the
// call's hold time).
type dialog interface {
	// invite reports whether step is an INVITE.
	invite(step int) bool
	// hold is the pause between the INVITE step's 2xx and the next step.
	hold() time.Duration
	// answered sees the final response to the INVITE step (slot locked,
	// after observe) and appends the ACK to send. For a 2xx the engine
	// has already moved r to the ACK's generation (a new branch: the ACK
	// of a 2xx is a transaction of its own, RFC 3261 §13.2.2.4); for any
	// other status r is the INVITE's, whose branch the ACK repeats (RFC
	// 3261 §17.1.1.3).
	answered(dst []byte, r *Request, resp *Response, now int64) []byte
	// reACK appends the ACK again for a 2xx to r's INVITE that arrived
	// after the call moved on (a retransmission because the ACK was lost,
	// RFC 3261 §13.3.1.4), or returns dst unchanged when resp is not of
	// r's call.
	reACK(dst []byte, r *Request, resp *Response) []byte
	// ended sees the end of the logical request r (slot locked): status is
	// the final status of its last transaction, 0 for a timeout.
	ended(r *Request, status int, now int64)
}

// answerInvite handles the final response to a dialog's INVITE step: it
// sends the ACK and, after a 2xx, holds the call or sends the next step.
// It reports true when it took the logical request on; false leaves the
// response to the usual handling (challenge, failure, last step).
func (e *engine) answerInvite(s *slot, d dialog, r *Response, ob *outbox, now int64) bool {
	ok := r.Status < 300
	if ok {
		s.req.gen++ // also stales the INVITE's retransmission timers
	}
	if b := d.answered(ob.buf(), &s.req, r, now); len(b) > 0 && ob.add(b) {
		e.flush(ob)
	}
	if !ok || s.req.Step+1 >= s.ph.steps {
		return false
	}
	if h := d.hold(); h > 0 {
		s.state = stateHolding
		e.tm.hold.push(timerEntry{at: now + int64(h), slot: s.req.slot, gen: s.req.gen})
		return true
	}
	e.nextStep(s, ob, now)
	return true
}

// lateAnswer sees a response whose transaction is over; a dialog
// acknowledges a retransmitted 2xx of its INVITE again.
func (e *engine) lateAnswer(s *slot, r *Response, ob *outbox) {
	d, ok := s.ph.scen.(dialog)
	if !ok || s.state == stateIdle || r.Status < 200 || r.Status >= 300 {
		return
	}
	dst := ob.buf()
	if b := d.reACK(dst, &s.req, r); len(b) > 0 && ob.add(b) {
		e.flush(ob)
	}
}

// unhold sends the step after a held call's hold timer fired.
func (e *engine) unhold(d timerEntry, obs []*outbox, now int64) {
	s := &e.slots[d.slot]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateHolding || s.req.gen != d.gen {
		return
	}
	e.nextStep(s, obs[s.sock], now)
}

// nextStep sends the next step of the logical request in s (locked by
// the caller).
func (e *engine) nextStep(s *slot, ob *outbox, now int64) {
	s.req.Step++
	s.req.auth = e.bearer(s.req.User, ob.buf())
	e.resend(s, ob, now)
}

// inviteProceeding reports whether the transaction of s (locked) is an
// INVITE that got a provisional response: its retransmissions stop (RFC
// 3261 §17.1.1.2, Timer A), while Timer F still bounds it.
func inviteProceeding(s *slot) bool {
	if s.state != stateProceeding {
		return false
	}
	d, ok := s.ph.scen.(dialog)
	return ok && d.invite(s.req.Step)
}
