package bench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// PresenceOptions shapes the presence scenario: P presentities with W
// watchers each.
type PresenceOptions struct {
	// Presentities is P, the number of presentities (pres0 … presP-1);
	// PUBLISH k goes to presentity k mod P. At least 1.
	Presentities int
	// Watchers is W, the watchers per presentity; the setup subscribes
	// P×W watchers (watcher0 …), watcher n to presentity n mod P. 0 skips
	// the setup (a PUBLISH-only run).
	Watchers int
	// SubscribeRate is the rate of the setup's SUBSCRIBEs per second.
	SubscribeRate float64
	// PresentityPrefix and WatcherPrefix name the AORs: pres17, watcher42.
	PresentityPrefix, WatcherPrefix string
	// NotifyWait ends the wait for NOTIFYs after a phase once none came
	// for this long (or all expected ones did); the wait never exceeds
	// Timer F.
	NotifyWait time.Duration
	// Settle is a pause between the setup (its initial NOTIFYs all in)
	// and the first PUBLISH: a server that rate-limits NOTIFYs per
	// subscription (RFC 6446; ours sends at most one per 100 ms) would
	// otherwise hold back the first PUBLISH's NOTIFY to the watchers that
	// subscribed last, and the figure would measure the setup's tail.
	Settle time.Duration
}

// DefaultPresenceOptions returns the defaults of the presence flags.
func DefaultPresenceOptions() PresenceOptions {
	return PresenceOptions{Presentities: 1, Watchers: 1000, SubscribeRate: 5000,
		PresentityPrefix: "pres", WatcherPrefix: "watcher", NotifyWait: 2 * time.Second, Settle: time.Second}
}

// presenceScenario is the presence scenario (RFC 3856, RFC 3903, RFC
// 6665): a setup phase in which P×W watchers SUBSCRIBE, then the measured
// phase of PUBLISHes, whose NOTIFYs every watcher answers and matches to
// their PUBLISH through a marker in the PIDF body.
//
// The first PUBLISH of a presentity is initial; later ones modify that
// publication with SIP-If-Match and the last SIP-ETag received, as real
// clients do (RFC 3903 §4.4), so the server keeps one publication per
// presentity and a NOTIFY carries one document, not a growing aggregate.
// A server issues a new entity-tag per modification, so PUBLISHes to one
// presentity faster than its round trip carry a stale tag and fail with
// 412; raise Presentities for high rates. A 412 drops the tag, and the
// next PUBLISH of that presentity starts a new publication.
type presenceScenario struct {
	o    PresenceOptions
	subs uint64
	run  string
	// etags holds the newest entity-tag per presentity.
	etags []atomic.Pointer[etagRef]
	// subscribed counts the accepted SUBSCRIBEs per presentity, and
	// expectedSubscribed sums them over the successful PUBLISHes: the
	// NOTIFYs the server owes to the subscriptions it took.
	subscribed         []atomic.Uint32
	expectedSubscribed atomic.Uint64
	track              *notifyTracker
}

// etagRef is an entity-tag and the PUBLISH whose answer carried it.
type etagRef struct {
	seq  uint64
	etag []byte
}

func newPresence(so ScenarioOptions) Scenario {
	o, d := so.Presence, DefaultPresenceOptions()
	if o == (PresenceOptions{}) {
		o = d
	}
	o.Presentities = max(o.Presentities, 1)
	o.Watchers = max(o.Watchers, 0)
	setIfZero(&o.SubscribeRate, d.SubscribeRate)
	setIfZero(&o.PresentityPrefix, d.PresentityPrefix)
	setIfZero(&o.WatcherPrefix, d.WatcherPrefix)
	setIfZero(&o.NotifyWait, d.NotifyWait)
	return &presenceScenario{o: o, subs: uint64(o.Presentities) * uint64(o.Watchers)}
}

func (*presenceScenario) Name() string { return "presence" }
func (*presenceScenario) Steps() int   { return 1 }

// phases resets the run's state and returns the setup phase (nil without
// watchers) and the measured phase of e's run.
func (p *presenceScenario) phases(e *engine) (setup, main *phase) {
	p.run = e.env.run
	p.etags = make([]atomic.Pointer[etagRef], p.o.Presentities)
	p.subscribed = make([]atomic.Uint32, p.o.Presentities)
	p.expectedSubscribed.Store(0)
	p.track = newNotifyTracker(p.run, p.subs)
	main = e.newPhase(p, e.cfg.Rate, e.cfg.Duration, e.cfg.Total, p.subs)
	main.ramp = e.cfg.Ramp
	if p.subs == 0 {
		return nil, main
	}
	return e.newPhase(presenceSubscribe{p}, p.o.SubscribeRate, 0, p.subs, 0), main
}

// presentity returns the presentity of PUBLISH r.
func (p *presenceScenario) presentity(r *Request) int {
	return int((r.Seq - p.subs) % uint64(p.o.Presentities))
}

// AppendRequest appends PUBLISH number r.Seq-P×W (RFC 3903 §4).
func (p *presenceScenario) AppendRequest(dst []byte, r *Request) []byte {
	pres := aor{p.o.PresentityPrefix, p.presentity(r)}
	dst = r.appendStart(dst, "PUBLISH", pres, pres, pres)
	dst = append(dst, "Event: presence\r\nExpires: "...)
	dst = appendInt(dst, r.Env.Expires)
	dst = append(dst, "\r\n"...)
	if r.ETag != nil {
		dst = append(dst, "SIP-If-Match: "...)
		dst = append(dst, r.ETag...)
		dst = append(dst, "\r\n"...)
	}
	var scratch [512]byte
	body := p.appendPIDF(scratch[:0], r, pres)
	dst = append(dst, "Content-Type: application/pidf+xml\r\nContent-Length: "...)
	dst = appendInt(dst, len(body))
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// appendPIDF appends a PIDF document (RFC 3863) of about 330 bytes: one
// open tuple whose note is the marker of r.
func (p *presenceScenario) appendPIDF(dst []byte, r *Request, pres aor) []byte {
	dst = append(dst, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"+
		"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\""...)
	dst = r.appendAOR(dst, pres)
	dst = append(dst, "\">\n<tuple id=\"b2bua-bench\">\n<status><basic>open</basic></status>\n"+
		"<contact priority=\"0.8\">"...)
	dst = r.appendAOR(dst, pres)
	dst = append(dst, "</contact>\n<note>"...)
	dst = appendMarker(dst, p.run, Marker{Seq: r.Seq - p.subs, Start: r.Start})
	return append(dst, "</note>\n</tuple>\n<note>b2bua bench presence</note>\n</presence>\n"...)
}

// prepare fixes the entity-tag of a PUBLISH transaction before it is
// first built.
func (p *presenceScenario) prepare(r *Request) {
	r.ETag = nil
	if ref := p.etags[p.presentity(r)].Load(); ref != nil {
		r.ETag = ref.etag
	}
}

// observe keeps the newest SIP-ETag of each presentity, and drops it on a
// 412 Conditional Request Failed (RFC 3903 §6 step 4).
func (p *presenceScenario) observe(r *Request, resp *Response) {
	slot := &p.etags[p.presentity(r)]
	if resp.Status < 300 {
		p.expectedSubscribed.Add(uint64(p.subscribed[p.presentity(r)].Load()))
	}
	switch {
	case resp.Status < 300 && len(resp.ETag) > 0 && len(resp.ETag) <= 256:
		ref := &etagRef{seq: r.Seq, etag: bytes.Clone(resp.ETag)}
		for {
			// Keep the tag of a later PUBLISH whose answer came first.
			cur := slot.Load()
			if cur != nil && cur.seq > r.Seq || slot.CompareAndSwap(cur, ref) {
				return
			}
		}
	case resp.Status == 412 && r.ETag != nil:
		if cur := slot.Load(); cur != nil && bytes.Equal(cur.etag, r.ETag) {
			slot.CompareAndSwap(cur, nil)
		}
	}
}

// onRequest counts a NOTIFY (the engine has answered it already).
func (p *presenceScenario) onRequest(r *IncomingRequest, now int64) {
	p.track.onRequest(r, now)
}

// runPhases sends the setup phase, waits for the initial NOTIFYs, sends the
// PUBLISH phase, waits for its NOTIFYs, and samples the target's memory
// before, between and after. The error reports a setup above the failure
// bar.
func (p *presenceScenario) runPhases(ctx context.Context, e *engine, setup, main *phase) (*Result, error) {
	pid := e.cfg.TargetPID
	pr := &PresenceResult{Presentities: p.o.Presentities, Watchers: p.o.Watchers, Subscriptions: p.subs,
		MemBefore: memOf(pid)}
	var setupErr error
	if setup != nil {
		sr := e.runPhase(ctx, setup)
		pr.SubscribeOK, pr.SubscribeFailed = sr.Total.OK, sr.Total.Unsuccessful()
		pr.SubscribeRate, pr.SubscribeLatency, pr.SetupTime = sr.CompletionRate, sr.Latency, sr.Elapsed
		pr.SubscribeRetrans, pr.SubscribeFailures = sr.Total.Retransmissions, sr.FailuresByStatus
		if sr.FailureRatio > e.cfg.MaxFailures {
			setupErr = fmt.Errorf("%w: setup: %d of %d SUBSCRIBEs failed", ErrTooManyFailures,
				pr.SubscribeFailed, sr.Total.Started+sr.Total.Throttled)
		}
		// The initial NOTIFY of every subscription (RFC 6665 §4.2.1).
		p.track.wait(ctx, e, p.o.NotifyWait, sr.Total.OK, p.track.fresh.Load)
		select {
		case <-ctx.Done():
		case <-time.After(p.o.Settle):
		}
	}
	pr.MemSetup = memOf(pid)
	res := e.runPhase(ctx, main)
	pr.NotifyExpected = res.Total.OK * uint64(p.o.Watchers)
	pr.NotifyExpectedSubscribed = p.expectedSubscribed.Load()
	// Wait for what the accepted subscriptions are owed, not for NOTIFYs
	// to watchers whose SUBSCRIBE failed.
	p.track.wait(ctx, e, p.o.NotifyWait, pr.NotifyExpectedSubscribed, p.track.marked.Load)
	pr.MemAfter = memOf(pid)
	p.track.fill(pr, main.t0)
	// NOTIFYs go on after the last PUBLISH was answered.
	res.Total.Requests = main.st.requests.Load()
	pr.RequestsAnswered = res.Total.Requests
	pr.perUnit(res.Total.OK)
	res.Presence = pr
	return res, setupErr
}

// presenceSubscribe is the setup phase: watcher n subscribes to
// presentity n mod P (RFC 6665 §4.1.2, RFC 3856 §6).
type presenceSubscribe struct{ p *presenceScenario }

func (presenceSubscribe) Name() string { return "presence-subscribe" }
func (presenceSubscribe) Steps() int   { return 1 }

func (presenceSubscribe) prepare(*Request) {}

// observe counts an accepted subscription of its presentity.
func (s presenceSubscribe) observe(r *Request, resp *Response) {
	if resp.Status < 300 {
		s.p.subscribed[int(r.Seq)%s.p.o.Presentities].Add(1)
	}
}

func (s presenceSubscribe) AppendRequest(dst []byte, r *Request) []byte {
	o := &s.p.o
	n := int(r.Seq)
	pres, watcher := aor{o.PresentityPrefix, n % o.Presentities}, aor{o.WatcherPrefix, n}
	dst = r.appendStart(dst, "SUBSCRIBE", pres, watcher, pres)
	dst = append(dst, "Contact: <sip:"...)
	dst = append(dst, o.WatcherPrefix...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, '@')
	dst = append(dst, r.Local...)
	if r.Env.Transport == "TCP" {
		dst = append(dst, ";transport=tcp"...)
	}
	dst = append(dst, ">\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: "...)
	dst = appendInt(dst, r.Env.Expires)
	dst = append(dst, "\r\n"...)
	return AppendBody(dst, "", "")
}

// memOf returns the memory (PSS) of pid and its descendants, 0 without pid.
func memOf(pid int) uint64 {
	if pid == 0 {
		return 0
	}
	_, mem, err := readTree(pid)
	if err != nil {
		return 0
	}
	return mem
}
