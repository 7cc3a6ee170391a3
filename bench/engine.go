package bench

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Slot states.
const (
	stateIdle uint8 = iota
	stateCalling
	stateProceeding
)

// maxChallenges bounds Digest answers per logical request, so that a server
// that rejects every answer cannot loop us.
const maxChallenges = 2

// slot is one outstanding logical request. mu guards every field; the
// sender, the readers and the sweeper all take it.
type slot struct {
	mu         sync.Mutex
	state      uint8
	challenges uint8
	sock       int
	// start is when the first transaction of the logical request was built.
	start int64
	req   Request
	// ph is the phase the logical request belongs to: its scenario and
	// counters, also for answers that arrive after the phase ended.
	ph *phase
}

// engine is one run: sockets, slot table, timers and counters.
type engine struct {
	cfg    Config
	log    *zap.Logger
	env    Env
	tr     transport
	locals []string
	base   time.Time

	slots []slot
	// free holds the numbers of idle slots; its capacity is len(slots), so
	// giving a slot back never blocks.
	free   chan uint32
	active atomic.Int64

	// cur is the phase being sent; counters of messages that belong to no
	// slot (garbage, stray answers, send errors) go to its stats.
	cur atomic.Pointer[phase]
	tm  *timers
}

func newEngine(cfg Config) (*engine, error) {
	var tr transport
	var err error
	if cfg.Transport == "tcp" {
		tr, err = dialTCP(cfg)
	} else {
		tr, err = dialUDP(cfg)
	}
	if err != nil {
		return nil, err
	}
	e := &engine{
		cfg: cfg, log: cfg.Log, tr: tr, locals: tr.locals(),
		env: Env{Domain: cfg.Domain, UserPrefix: cfg.UserPrefix, Transport: "UDP",
			Expires: cfg.Expires, Body: cfg.Body, run: runID()},
		slots: make([]slot, cfg.Concurrency),
		free:  make(chan uint32, cfg.Concurrency),
		tm:    newTimers(cfg.T1, cfg.T2, cfg.Timeout, tr.reliable()),
	}
	if tr.reliable() {
		e.env.Transport = "TCP"
	}
	for i := range e.slots {
		e.free <- uint32(i)
	}
	return e, nil
}

// runID returns 8 random hex digits that mark this run's branches and
// Call-IDs.
func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// now is the time since the run's start in ns, from the monotonic clock.
func (e *engine) now() int64 { return int64(time.Since(e.base)) }

// userOf picks the user of logical request seq.
func (e *engine) userOf(seq uint64) int {
	if e.cfg.Users == 0 {
		return int(seq)
	}
	return int(seq % uint64(e.cfg.Users))
}

// peerOf picks the other party of user u (MESSAGE's recipient).
func (e *engine) peerOf(u int) int {
	if e.cfg.Users == 0 {
		return u + 1
	}
	return (u + 1) % e.cfg.Users
}

// bearer returns the Authorization: Bearer line of user u, or nil.
func (e *engine) bearer(u int, scratch []byte) []byte {
	if e.cfg.Tokens == nil {
		return nil
	}
	r := Request{Env: &e.env}
	return e.cfg.Tokens.header(u, r.AppendUser(scratch[:0], u))
}

// start begins logical request seq on ob's socket. It reports false when
// no slot is free (the request is throttled).
func (e *engine) start(p *phase, seq uint64, ob *outbox, scratch []byte) bool {
	var idx uint32
	select {
	case idx = <-e.free:
	default:
		p.st.throttled.Add(1)
		return false
	}
	// Users count from 0 in every phase: the measured phase of a scenario
	// with a setup starts at user0 too.
	user := e.userOf(seq - p.seqBase)
	s := &e.slots[idx]
	s.mu.Lock()
	now := e.now()
	s.req = Request{Seq: seq, CSeq: 1, User: user, Peer: e.peerOf(user), Env: &e.env,
		Local: e.locals[ob.sock], Start: now, slot: idx, gen: s.req.gen + 1, auth: e.bearer(user, scratch)}
	s.state, s.challenges, s.sock, s.ph = stateCalling, 0, ob.sock, p
	s.start = now
	if o, ok := p.scen.(stateful); ok {
		o.prepare(&s.req)
	}
	b := p.scen.AppendRequest(ob.buf(), &s.req)
	gen := s.req.gen
	s.mu.Unlock()
	e.tm.arm(idx, gen, now)
	e.active.Add(1)
	p.st.started.Add(1)
	p.st.transactions.Add(1)
	if ob.add(b) {
		e.flush(ob)
	}
	return true
}

// flush sends what ob holds and counts refused writes.
func (e *engine) flush(ob *outbox) {
	if ob.n == 0 {
		return
	}
	if refused := e.tr.flush(ob); refused > 0 {
		e.cur.Load().st.sendErrors.Add(uint64(refused))
	}
}

// finish ends the logical request in s (locked by the caller) with status,
// 0 meaning a timeout, and gives the slot back.
func (e *engine) finish(s *slot, status int, now int64) {
	st := s.ph.st
	ok := status < 300
	if sc, isStrict := s.ph.scen.(strict); isStrict && status != 0 {
		ok = sc.success(status)
	}
	if d, isDialog := s.ph.scen.(dialog); isDialog {
		d.ended(&s.req, status, now)
	}
	switch {
	case status == 0:
		st.timeouts.Add(1)
	case ok:
		st.ok.Add(1)
		st.record(time.Duration(now - s.start))
	default:
		st.fail(status)
	}
	s.state = stateIdle
	s.req.gen++ // stales its timers and any late response
	s.ph.lastDone.Store(now)
	e.active.Add(-1)
	e.free <- s.req.slot
}

// resend sends the next transaction of the logical request in s (locked by
// the caller): a new branch, CSeq+1, same Call-ID (RFC 3261 §8.1.3.5).
func (e *engine) resend(s *slot, ob *outbox, now int64) {
	s.req.CSeq++
	s.req.gen++
	s.state = stateCalling
	if o, ok := s.ph.scen.(stateful); ok {
		o.prepare(&s.req)
	}
	b := s.ph.scen.AppendRequest(ob.buf(), &s.req)
	e.tm.arm(s.req.slot, s.req.gen, now)
	s.ph.st.transactions.Add(1)
	if ob.add(b) {
		e.flush(ob)
	}
}
