package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// CallOptions shapes the call scenario.
type CallOptions struct {
	// Callees is N: caller<n> calls <CalleePrefix><n mod N>.
	Callees int
	// CalleePrefix names the callees: callee0 … calleeN-1.
	CalleePrefix string
	// UAS is the host:port the callees' Contact points at, a user agent
	// answering INVITE and BYE (SIPp with testdata/sipp/call_echo_uas.xml);
	// empty: the generator starts its own UAS (ListenUAS) on loopback.
	UAS string
	// UASSockets is the number of sockets of the generator's own UAS;
	// callee i's Contact is socket i mod UASSockets.
	UASSockets int
	// Hold is the pause between the ACK and the BYE: with a rate R, about
	// R×Hold calls are up at once.
	Hold time.Duration
	// RegisterRate is the rate of the setup's REGISTERs per second.
	RegisterRate float64
}

// DefaultCallOptions returns the defaults of the call flags.
func DefaultCallOptions() CallOptions {
	return CallOptions{Callees: 100, CalleePrefix: "callee", UASSockets: 1, RegisterRate: 2000}
}

// callerSDP is the offer of every INVITE (RFC 4566, RFC 3264 §5): one
// audio stream, PCMU only. No RTP is sent.
const callerSDP = "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"

// callDialogBytes is the room each slot has for its dialog's remote tag,
// target and route set (more spills to the heap).
const callDialogBytes = 384

// callScenario is one call per logical request (RFC 3261 §13-15): INVITE
// with an SDP offer from caller<n> to callee<n mod N> (registered at a UAS
// by the setup), ACK to the 2xx, a pause of Hold, BYE. The engine runs the
// INVITE and the BYE as the two steps of the logical request (same Call-ID
// and From tag, CSeq+1) and the dialog hooks send the ACK and hold the call.
type callScenario struct {
	o CallOptions
	// base is the sequence number of the first call (N: the setup's
	// REGISTERs come first).
	base uint64
	now  func() int64
	// contacts are the UAS addresses the callees register, in turn.
	contacts []string
	uas      *UAS
	// dlg holds each slot's dialog, touched only with the slot locked;
	// arena backs their buffers.
	dlg   []callDialog
	arena []byte
	st    *callStats
}

// callDialog is the state of the call in one slot: what the INVITE's 2xx
// said (RFC 3261 §12.1.2) and when its BYE went out.
type callDialog struct {
	// buf holds the remote tag, buf[tagEnd:targetEnd] the remote target,
	// buf[targetEnd:] the Route header line (empty without a route set).
	buf               []byte
	tagEnd, targetEnd int
	// inviteCSeq and ackGen rebuild the ACK for a retransmitted 2xx.
	inviteCSeq, ackGen uint32
	byeStart           int64
	// up is true from the INVITE's 2xx to the end of the call.
	up bool
}

func newCall(so ScenarioOptions) Scenario {
	o, d := so.Call, DefaultCallOptions()
	setIfZero(&o.Callees, d.Callees)
	setIfZero(&o.CalleePrefix, d.CalleePrefix)
	setIfZero(&o.UASSockets, d.UASSockets)
	setIfZero(&o.RegisterRate, d.RegisterRate)
	return &callScenario{o: o, st: newCallStats()}
}

func (*callScenario) Name() string { return "call" }
func (*callScenario) Steps() int   { return 2 }

func (c *callScenario) invite(step int) bool { return step == 0 }
func (c *callScenario) hold() time.Duration  { return c.o.Hold }

// validate reports options that cannot work.
func (c *callScenario) validate() error {
	if c.o.Callees < 1 || c.o.RegisterRate <= 0 || c.o.UASSockets < 1 || c.o.UASSockets > 64 || c.o.Hold < 0 {
		return fmt.Errorf("call: callees, register-rate, uas-sockets (1-64) or hold out of range")
	}
	if c.o.UAS != "" {
		if _, _, err := net.SplitHostPort(c.o.UAS); err != nil {
			return fmt.Errorf("call: uas %q: %v", c.o.UAS, err)
		}
	}
	return nil
}

// phases returns the setup (REGISTER the callees) and the calls.
func (c *callScenario) phases(e *engine) (setup, main *phase) {
	c.base, c.now, c.st = uint64(c.o.Callees), e.now, newCallStats()
	c.allocDialogs(e.cfg.Concurrency)
	main = e.newPhase(c, e.cfg.Rate, e.cfg.Duration, e.cfg.Total, c.base)
	main.ramp, main.hold = e.cfg.Ramp, c.o.Hold
	return e.newPhase(callRegister{c}, c.o.RegisterRate, 0, c.base, 0), main
}

// allocDialogs makes room for the dialogs of n slots. Pages of the arena
// the run never reaches are never touched.
func (c *callScenario) allocDialogs(n int) {
	c.dlg, c.arena = make([]callDialog, n), make([]byte, n*callDialogBytes)
}

// callee returns the callee of caller u.
func (c *callScenario) callee(u int) aor { return aor{c.o.CalleePrefix, u % c.o.Callees} }

// AppendRequest appends the INVITE (step 0) or the BYE (step 1) of call r.
func (c *callScenario) AppendRequest(dst []byte, r *Request) []byte {
	caller, callee := aor{r.Env.UserPrefix, r.User}, c.callee(r.User)
	if r.Step == 0 {
		dst = r.appendStart(dst, "INVITE", callee, caller, callee)
		dst = r.AppendContact(dst)
		return AppendBody(dst, "application/sdp", callerSDP)
	}
	d := c.dialog(r)
	return c.appendInDialog(dst, "BYE", r, d)
}

// appendInDialog appends a request within the dialog d (RFC 3261
// §12.2.1.1): to the remote target, with the remote tag and the route set.
func (c *callScenario) appendInDialog(dst []byte, method string, r *Request, d *callDialog) []byte {
	caller, callee := aor{r.Env.UserPrefix, r.User}, c.callee(r.User)
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, d.buf[d.tagEnd:d.targetEnd]...)
	dst = r.appendHeaders(dst, method, caller, callee, d.buf[:d.tagEnd])
	dst = append(dst, d.buf[d.targetEnd:]...)
	return AppendBody(dst, "", "")
}

// dialog returns the dialog of r's slot, its buffer carved from the arena
// on first use.
func (c *callScenario) dialog(r *Request) *callDialog {
	if int(r.slot) >= len(c.dlg) { // only outside a run (phases sizes them)
		c.allocDialogs(int(r.slot) + 1)
	}
	d := &c.dlg[r.slot]
	if d.buf == nil {
		i := int(r.slot) * callDialogBytes
		d.buf = c.arena[i : i : i+callDialogBytes]
	}
	return d
}

// prepare notes when the BYE is first built.
func (c *callScenario) prepare(r *Request) {
	if r.Step == 1 {
		c.dialog(r).byeStart = c.now()
	}
}

// observe keeps the dialog a 2xx to the INVITE establishes: the remote
// tag, the remote target (its Contact) and the route set (its
// Record-Route, reversed: RFC 3261 §12.1.2).
func (c *callScenario) observe(r *Request, resp *Response) {
	if r.Step != 0 || resp.Status >= 300 {
		return
	}
	d := c.dialog(r)
	d.buf = append(d.buf[:0], resp.ToTag...)
	d.tagEnd = len(d.buf)
	if len(resp.Contact) > 0 {
		d.buf = append(d.buf, resp.Contact...)
	} else { // a broken 2xx: send the BYE where the INVITE went
		d.buf = r.appendAOR(d.buf, c.callee(r.User))
	}
	d.targetEnd = len(d.buf)
	d.buf = appendRouteSet(d.buf, resp.RecordRoute[:resp.RecordRoutes])
}

// answered counts a call set up (2xx) and appends the ACK to the final
// response of its INVITE.
func (c *callScenario) answered(dst []byte, r *Request, resp *Response, now int64) []byte {
	if resp.Status >= 300 {
		// RFC 3261 §17.1.1.3: to the INVITE's Request-URI, on its
		// branch, with the response's To tag.
		callee := c.callee(r.User)
		dst = append(dst, "ACK "...)
		dst = r.appendAOR(dst, callee)
		dst = r.appendHeaders(dst, "ACK", aor{r.Env.UserPrefix, r.User}, callee, resp.ToTag)
		return AppendBody(dst, "", "")
	}
	d := c.dialog(r)
	d.inviteCSeq, d.ackGen, d.up = r.CSeq, r.gen, true
	c.st.established(time.Duration(now-r.Start), now)
	return c.appendACK(dst, r, d)
}

// appendACK appends the ACK of the 2xx that established d.
func (c *callScenario) appendACK(dst []byte, r *Request, d *callDialog) []byte {
	ack := *r
	ack.CSeq, ack.gen = d.inviteCSeq, d.ackGen
	return c.appendInDialog(dst, "ACK", &ack, d)
}

// reACK appends the ACK again for a retransmitted 2xx of this call's
// INVITE.
func (c *callScenario) reACK(dst []byte, r *Request, resp *Response) []byte {
	d := c.dialog(r)
	if !d.up || resp.CSeq != d.inviteCSeq || string(resp.CSeqMethod) != "INVITE" {
		return dst
	}
	var id [64]byte
	if !bytes.Equal(resp.CallID, r.appendCallID(id[:0])) {
		return dst
	}
	c.st.reACKs.Add(1)
	return c.appendACK(dst, r, d)
}

// ended counts how the call ended: at its INVITE (failed or timed out) or
// at its BYE.
func (c *callScenario) ended(r *Request, status int, now int64) {
	d := c.dialog(r)
	if d.up {
		d.up = false
		c.st.up.Add(-1)
	}
	if r.Step == 0 {
		c.st.inviteEnded(status)
		return
	}
	c.st.byeEnded(status, time.Duration(now-d.byeStart))
}

// runPhases starts the generator's own UAS (unless o.UAS names one),
// registers the callees, places the calls while sampling the target's
// memory against the calls up, and returns the calls' Result.
func (c *callScenario) runPhases(ctx context.Context, e *engine, setup, main *phase) (*Result, error) {
	cr := &CallResult{Callees: c.o.Callees, UAS: c.o.UAS, Hold: c.o.Hold}
	if c.o.UAS == "" {
		host, _, _ := net.SplitHostPort(e.locals[0])
		uas, err := ListenUAS(net.JoinHostPort(host, "0"), UASConfig{Sockets: c.o.UASSockets, SocketBuffer: e.cfg.SocketBuffer, Log: e.log})
		if err != nil {
			return nil, err
		}
		defer func() { _ = uas.Close() }()
		c.uas, c.contacts = uas, uas.Addrs()
	} else {
		c.contacts = []string{c.o.UAS}
	}
	var setupErr error
	sr := e.runPhase(ctx, setup)
	cr.RegisterOK, cr.RegisterFailed = sr.Total.OK, sr.Total.Unsuccessful()
	cr.RegisterRetrans, cr.RegisterFailures = sr.Total.Retransmissions, sr.FailuresByStatus
	cr.RegisterRate, cr.SetupTime = sr.CompletionRate, sr.Elapsed
	if sr.FailureRatio > e.cfg.MaxFailures {
		setupErr = fmt.Errorf("%w: setup: %d of %d callees failed to register", ErrTooManyFailures,
			cr.RegisterFailed, sr.Total.Started+sr.Total.Throttled)
	}
	pid := e.cfg.TargetPID
	cr.MemBefore = memOf(pid)
	mem := newPeakSampler(pid, &c.st.up)
	stopMem := mem.start()
	res := e.runPhase(ctx, main)
	stopMem()
	c.st.fill(cr, main, mem)
	cr.RequestsAnswered = main.st.requests.Load()
	res.Total.Requests = cr.RequestsAnswered
	if c.uas != nil {
		cr.UASCounts = c.uas.Counts()
	}
	res.Call = cr
	return res, setupErr
}

// callRegister is the setup phase: callee n registers (RFC 3261 §10.2)
// with a Contact at the UAS (socket n mod UASSockets of the generator's
// own).
type callRegister struct{ c *callScenario }

func (callRegister) Name() string { return "call-register" }
func (callRegister) Steps() int   { return 1 }

func (s callRegister) AppendRequest(dst []byte, r *Request) []byte {
	o := &s.c.o
	callee := aor{o.CalleePrefix, int(r.Seq)}
	dst = r.appendStart(dst, "REGISTER", aor{n: -1}, callee, callee)
	dst = append(dst, "Contact: <sip:"...)
	dst = append(dst, o.CalleePrefix...)
	dst = strconv.AppendInt(dst, int64(callee.n), 10)
	dst = append(dst, '@')
	dst = append(dst, s.c.contacts[callee.n%len(s.c.contacts)]...)
	dst = append(dst, ">\r\nExpires: "...)
	dst = appendInt(dst, r.Env.Expires)
	dst = append(dst, "\r\n"...)
	return AppendBody(dst, "", "")
}

// peakSampler reads the target's memory twice a second during the calls
// and keeps the sample taken with the most calls up: memory per concurrent
// call is its growth over the memory before the calls, divided by them.
type peakSampler struct {
	pid int
	up  *atomic.Int64

	mu       sync.Mutex
	calls    int64
	mem      uint64
	maxCalls int64
}

func newPeakSampler(pid int, up *atomic.Int64) *peakSampler { return &peakSampler{pid: pid, up: up} }

// start samples until the returned function is called, which waits for
// the sampler to stop.
func (p *peakSampler) start() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.sample()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (p *peakSampler) sample() {
	calls := p.up.Load()
	var mem uint64
	if p.pid != 0 && calls > 0 {
		mem = memOf(p.pid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.maxCalls = max(p.maxCalls, calls)
	if calls > p.calls && (mem > 0 || p.pid == 0) {
		p.calls, p.mem = calls, mem
	}
}

// peak returns the calls up and the memory of the sample with the most.
func (p *peakSampler) peak() (calls int64, mem uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, p.mem
}

// appendRouteSet appends "Route: " and the entries of the Record-Route
// values rr in reverse order, then CRLF (the UAC's route set, RFC 3261
// §12.1.2); nothing when rr has no entry. Up to 16 entries are kept.
func appendRouteSet(dst []byte, rr [][]byte) []byte {
	var entries [16][]byte
	n := 0
	for _, v := range rr {
		for len(v) > 0 && n < len(entries) {
			var e []byte
			e, v = nextRouteEntry(v)
			if len(e) > 0 {
				entries[n] = e
				n++
			}
		}
	}
	if n == 0 {
		return dst
	}
	dst = append(dst, "Route: "...)
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, entries[i]...)
		if i > 0 {
			dst = append(dst, ", "...)
		}
	}
	return append(dst, "\r\n"...)
}

// nextRouteEntry splits the first entry off a comma-separated
// Record-Route value; commas inside <...> or quotes do not split.
func nextRouteEntry(v []byte) (entry, rest []byte) {
	inAngle, inQuote := false, false
	for i, ch := range v {
		switch {
		case inQuote:
			inQuote = ch != '"'
		case ch == '"':
			inQuote = true
		case ch == '<':
			inAngle = true
		case ch == '>':
			inAngle = false
		case ch == ',' && !inAngle:
			return trimSpace(v[:i]), v[i+1:]
		}
	}
	return trimSpace(v), nil
}
