package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/srtp/v3"
	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
)

// MediaSRTP says which side of every call speaks SDES-SRTP.
type MediaSRTP int

// The SRTP modes of the media scenario.
const (
	SRTPNone MediaSRTP = iota // both sides plain RTP
	SRTPA                     // the caller's side (peer A) SRTP, the callee's plain
	SRTPB                     // the callee's side (peer B) SRTP, the caller's plain
)

func (s MediaSRTP) String() string { return [...]string{"none", "a", "b"}[s] }

// ParseMediaSRTP reads "none", "a" or "b".
func ParseMediaSRTP(v string) (MediaSRTP, error) {
	for s := SRTPNone; s <= SRTPB; s++ {
		if s.String() == v {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: --srtp %q (none, a or b)", ErrBadConfig, v)
}

// MediaConfig is one run of the media scenario.
type MediaConfig struct {
	// Control sets the relay up: "direct" (no relay: the peers send to
	// each other), "ng" (rtpengine's ng protocol at Target) or "sip" (calls
	// through the B2BUA at Target, which relays the media).
	Control string
	// Target is the ng control address (ng) or the SIP server (sip).
	Target string
	// Calls is the number of concurrent calls: 2 streams each (A→B, B→A).
	Calls int
	// PPS is the packets per second of each stream (50: 20 ms PCMU).
	PPS int
	// Duration is the streaming time.
	Duration time.Duration
	// SRTP puts one side of every call on SDES-SRTP.
	SRTP MediaSRTP
	// Sockets is the number of sockets per side; call i's endpoint is
	// socket i mod Sockets of its side (0: min(Calls, 8)).
	Sockets int
	// Local is the IP the peers bind to (127.0.0.1).
	Local string
	// SocketBuffer is SO_RCVBUF/SO_SNDBUF of the peers' sockets (4 MB).
	SocketBuffer int
	// Drain is the longest wait for packets in flight after the last send.
	Drain time.Duration
	// Tick is the senders' pacing period (1 ms).
	Tick time.Duration
	// ServerPID, if not 0, is the relay process: its CPU over the
	// streaming window is reported.
	ServerPID int
	// Metrics, if set, is the relay's Prometheus URL:
	// go_memstats_mallocs_total over the streaming window per packet.
	Metrics string
	// SIP shapes the calls of the sip control.
	SIP MediaSIPOptions
	// Log receives diagnostics; nil for none.
	Log *zap.Logger
}

// DefaultMediaConfig returns the defaults of the media flags.
func DefaultMediaConfig() MediaConfig {
	return MediaConfig{Control: "direct", Calls: 100, PPS: 50, Duration: 10 * time.Second,
		Local: "127.0.0.1", SocketBuffer: 4 << 20, Drain: time.Second, Tick: time.Millisecond,
		SIP: DefaultMediaSIPOptions()}
}

func (c *MediaConfig) validate() error {
	switch {
	case c.Control != "direct" && c.Control != "ng" && c.Control != "sip":
		return fmt.Errorf("%w: --control %q (sip, ng or direct)", ErrBadConfig, c.Control)
	case c.Control != "direct" && c.Target == "":
		return fmt.Errorf("%w: --control %s needs the HOST:PORT argument", ErrBadConfig, c.Control)
	case c.Control == "direct" && c.SRTP != SRTPNone:
		return fmt.Errorf("%w: --srtp needs a relay (--control sip or ng)", ErrBadConfig)
	case c.Calls < 1 || c.Calls > 100000 || c.PPS < 1 || c.PPS > 1000 || c.Duration <= 0:
		return fmt.Errorf("%w: --calls (1-100000), --pps (1-1000) or --duration out of range", ErrBadConfig)
	case c.Sockets < 0 || c.Tick <= 0 || c.Drain < 0:
		return fmt.Errorf("%w: --sockets, tick or drain out of range", ErrBadConfig)
	}
	return nil
}

// mediaCall is one call: its two endpoints, where each sends (the relay's
// ports, or the other endpoint), and the SDES keys of its SRTP side.
type mediaCall struct {
	idx  int
	srtp MediaSRTP
	// a and b are the endpoints (peer A = caller, peer B = callee).
	a, b netip.AddrPort
	// keyA or keyB is the key our SRTP endpoint sends with (a=crypto of
	// our SDP); relayKey the key the relay sends to it with (a=crypto of
	// the SDP the relay gave that side).
	keyA, keyB, relayKey []byte
	tagB                 int
	// toA is where peer B sends (the relay's B-side port), toB where peer A
	// sends (the relay's A-side port).
	toRelayFromA, toRelayFromB netip.AddrPort
}

// offerSDP is peer A's offer.
func (mc *mediaCall) offerSDP() []byte {
	m := mediaSDP{Addr: mc.a, Key: mc.keyA, CryptoTag: 1}
	return appendSDP(nil, uint64(mc.idx)+1, m)
}

// readOfferAtB reads the offer the relay sends to peer B: where B sends,
// and with --srtp b the relay's key and the tag B answers with.
func (mc *mediaCall) readOfferAtB(sdp []byte) error {
	m, err := parseSDP(sdp)
	if err != nil {
		return err
	}
	mc.toRelayFromB = m.Addr
	if mc.srtp == SRTPB {
		if m.Key == nil {
			return errSDPNoCrypto
		}
		mc.relayKey, mc.tagB = m.Key, m.CryptoTag
	}
	return nil
}

// answerSDP is peer B's answer.
func (mc *mediaCall) answerSDP() []byte {
	m := mediaSDP{Addr: mc.b, Key: mc.keyB, CryptoTag: max(mc.tagB, 1)}
	return appendSDP(nil, uint64(mc.idx)+1, m)
}

// readAnswerAtA reads the answer the relay sends to peer A.
func (mc *mediaCall) readAnswerAtA(sdp []byte) error {
	m, err := parseSDP(sdp)
	if err != nil {
		return err
	}
	mc.toRelayFromA = m.Addr
	if mc.srtp == SRTPA {
		if m.Key == nil {
			return errSDPNoCrypto
		}
		mc.relayKey = m.Key
	}
	return nil
}

// mediaControl sets the relay up for the calls and tears it down.
type mediaControl interface {
	setup(ctx context.Context, calls []*mediaCall) error
	teardown(ctx context.Context, calls []*mediaCall) error
	Close() error
}

// directControl is no relay at all: the baseline for added latency.
type directControl struct{}

func (directControl) setup(_ context.Context, calls []*mediaCall) error {
	for _, mc := range calls {
		mc.toRelayFromA, mc.toRelayFromB = mc.b, mc.a
	}
	return nil
}
func (directControl) teardown(context.Context, []*mediaCall) error { return nil }
func (directControl) Close() error                                 { return nil }

// mediaRun is the state of one run.
type mediaRun struct {
	cfg   MediaConfig
	conns [2][]*net.UDPConn // [side][socket]
	calls []*mediaCall
}

// sideOf says where stream s starts and ends: even streams go A→B.
func streamFrom(s uint32) int { return int(s & 1) } // 0 = A, 1 = B
func streamTo(s uint32) int   { return 1 - int(s&1) }

// RunMedia runs the media scenario: it opens the peers' sockets, sets the
// calls up through the control, streams for Duration, drains, tears the
// calls down and returns what it measured.
func RunMedia(ctx context.Context, cfg MediaConfig) (*MediaResult, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	d := DefaultMediaConfig()
	setIfZero(&cfg.PPS, d.PPS)
	setIfZero(&cfg.Local, d.Local)
	setIfZero(&cfg.SocketBuffer, d.SocketBuffer)
	setIfZero(&cfg.Tick, d.Tick)
	setIfZero(&cfg.Drain, d.Drain)
	if cfg.Sockets == 0 {
		cfg.Sockets = 8
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Sockets = min(cfg.Sockets, cfg.Calls)
	r := &mediaRun{cfg: cfg}
	defer r.closeConns()
	if err := r.open(); err != nil {
		return nil, err
	}
	ctl, err := r.control()
	if err != nil {
		return nil, err
	}
	defer ctl.Close()
	res := &MediaResult{Control: cfg.Control, Target: cfg.Target, Calls: cfg.Calls, PPS: cfg.PPS,
		SRTP: cfg.SRTP.String(), Sockets: cfg.Sockets, Duration: cfg.Duration.Seconds()}
	t0 := time.Now()
	if err := ctl.setup(ctx, r.calls); err != nil {
		return nil, fmt.Errorf("media setup: %w", err)
	}
	res.SetupS = time.Since(t0).Seconds()
	runErr := r.stream(ctx, res)
	tdCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := ctl.teardown(tdCtx, r.calls); err != nil {
		res.TeardownError = err.Error()
	}
	return res, runErr
}

func (r *mediaRun) control() (mediaControl, error) {
	switch r.cfg.Control {
	case "ng":
		return newNGControl(r.cfg.Target, r.cfg.SRTP)
	case "sip":
		return newSIPControl(r.cfg)
	}
	return directControl{}, nil
}

// open binds the sockets of both sides and makes the calls' endpoints
// and keys.
func (r *mediaRun) open() error {
	for side := range 2 {
		for range r.cfg.Sockets {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(r.cfg.Local)})
			if err != nil {
				return fmt.Errorf("media: %w", err)
			}
			setBuffers(c, r.cfg.SocketBuffer, r.cfg.Log)
			r.conns[side] = append(r.conns[side], c)
		}
	}
	addr := func(c *net.UDPConn) netip.AddrPort {
		a := c.LocalAddr().(*net.UDPAddr).AddrPort()
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	for i := range r.cfg.Calls {
		mc := &mediaCall{idx: i, srtp: r.cfg.SRTP,
			a: addr(r.conns[0][i%r.cfg.Sockets]), b: addr(r.conns[1][i%r.cfg.Sockets])}
		switch r.cfg.SRTP {
		case SRTPA:
			mc.keyA = newSRTPKey()
		case SRTPB:
			mc.keyB = newSRTPKey()
		}
		r.calls = append(r.calls, mc)
	}
	return nil
}

func newSRTPKey() []byte {
	k := make([]byte, srtpMasterLen)
	_, _ = rand.Read(k)
	return k
}

func (r *mediaRun) closeConns() {
	for _, side := range r.conns {
		for _, c := range side {
			_ = c.Close()
		}
	}
}

// stream sends and receives for Duration, then drains.
func (r *mediaRun) stream(ctx context.Context, res *MediaResult) error {
	cfg := r.cfg
	nStreams := 2 * cfg.Calls
	sent := make([]uint32, nStreams)
	recv := make([]streamRecv, nStreams)
	enc, dec, err := r.srtpContexts()
	if err != nil {
		return err
	}
	period := time.Second / time.Duration(cfg.PPS)
	rounds := uint32(cfg.Duration.Seconds() * float64(cfg.PPS))
	var senders []*mediaSender
	var receivers []*mediaReceiver
	fresh := new(atomic.Uint64)
	for side := range 2 {
		s := &mediaSender{sent: sent}
		for j, c := range r.conns[side] {
			bc := ipv4.NewPacketConn(c)
			s.bcs = append(s.bcs, bc)
			receivers = append(receivers, &mediaReceiver{bc: bc, recv: recv, tally: newMediaTally(),
				fresh: fresh, dec: decFor(dec, side), owns: ownsFunc(side, j, cfg.Sockets)})
		}
		for i, mc := range r.calls { // in stream order, so by offset
			st := uint32(2*i + side)
			dst := mc.toRelayFromA
			if side == 1 {
				dst = mc.toRelayFromB
			}
			s.streams = append(s.streams, mediaTx{stream: st, sock: i % cfg.Sockets, dst: net.UDPAddrFromAddrPort(dst),
				offset: period * time.Duration(st) / time.Duration(nStreams), enc: enc[st]})
		}
		senders = append(senders, s)
	}
	procStart, procOK := readProcTicks(cfg.ServerPID)
	genStart, genOK := readProcTicks(-1)
	// The relay's allocations while idle (timers, the scrape itself) over a
	// second before the streams start, to tell them from the packets'.
	// A second's settle first: the set-up's transactions are still ending.
	if cfg.Metrics != "" {
		time.Sleep(time.Second)
	}
	idle0, mErrIdle := scrapeMallocs(ctx, cfg.Metrics)
	if cfg.Metrics != "" {
		time.Sleep(time.Second)
	}
	mallocs0, mErr := scrapeMallocs(ctx, cfg.Metrics)
	idleRate := (mallocs0 - idle0) // per second
	snmp0 := readUDPSNMP()
	start := time.Now()
	var rwg, swg sync.WaitGroup
	for _, rc := range receivers {
		rwg.Go(func() { rc.run(start) })
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, s := range senders {
		swg.Go(func() { s.run(sctx, start, period, cfg.Tick, rounds) })
	}
	swg.Wait()
	sendEnd := time.Since(start)
	var sentTotal uint64
	for _, n := range sent {
		sentTotal += uint64(n)
	}
	// Drain: until every packet sent came or none came for 100 ms, within Drain.
	for last, idle := fresh.Load(), time.Duration(0); fresh.Load() < sentTotal && idle < 100*time.Millisecond &&
		time.Since(start)-sendEnd < cfg.Drain; {
		time.Sleep(10 * time.Millisecond)
		if n := fresh.Load(); n == last {
			idle += 10 * time.Millisecond
		} else {
			last, idle = n, 0
		}
	}
	window := time.Since(start)
	procEnd, procOK1 := readProcTicks(cfg.ServerPID)
	genEnd, genOK1 := readProcTicks(-1)
	mallocs1, mErr1 := scrapeMallocs(ctx, cfg.Metrics)
	snmp1 := readUDPSNMP()
	r.closeConns()
	rwg.Wait()

	total := newMediaTally()
	for _, rc := range receivers {
		total.merge(rc.tally)
	}
	res.fill(sent, recv, total, senders, sendEnd, window)
	if procOK && procOK1 && procEnd >= procStart {
		res.RelayCPU = float64(procEnd-procStart) / clockTicks / window.Seconds() * 100
		if res.RecvRate > 0 {
			res.CPUPerKPPS = res.RelayCPU / (res.RecvRate / 1000)
		}
	}
	if genOK && genOK1 && genEnd >= genStart {
		res.GenCPU = float64(genEnd-genStart) / clockTicks / window.Seconds() * 100
	}
	if cfg.Metrics != "" {
		if err := errors.Join(mErrIdle, mErr, mErr1); err != nil {
			res.MetricsError = err.Error()
		} else if res.Received > 0 {
			res.AllocsPerPacket = (mallocs1 - mallocs0) / float64(res.Received)
			res.AllocsIdlePerS = idleRate
			res.AllocsPerPacketNet = max(0, mallocs1-mallocs0-idleRate*window.Seconds()) / float64(res.Received)
			res.AllocsMeasured = true
		}
	}
	res.RcvbufErrors = snmp1.rcvbufErrors - snmp0.rcvbufErrors
	res.SndbufErrors = snmp1.sndbufErrors - snmp0.sndbufErrors
	return ctx.Err()
}

// ownsFunc says which streams end at socket j of side.
func ownsFunc(side, j, sockets int) func(uint32) bool {
	return func(s uint32) bool { return streamTo(s) == side && int(s/2)%sockets == j }
}

// decFor returns dec for the SRTP side's receivers, nil for the other.
func decFor(dec [2][]*srtp.Context, side int) []*srtp.Context { return dec[side] }

// srtpContexts builds, per stream, the encrypt context of the SRTP side's
// sender (our key) and the decrypt context of its receiver (the relay's
// key). Each is owned by one goroutine: no locking.
func (r *mediaRun) srtpContexts() (enc []*srtp.Context, dec [2][]*srtp.Context, err error) {
	if r.cfg.SRTP == SRTPNone {
		return make([]*srtp.Context, 2*r.cfg.Calls), dec, nil
	}
	side := 0
	if r.cfg.SRTP == SRTPB {
		side = 1
	}
	enc = make([]*srtp.Context, 2*r.cfg.Calls)
	dec[side] = make([]*srtp.Context, 2*r.cfg.Calls)
	for _, mc := range r.calls {
		key := mc.keyA
		if side == 1 {
			key = mc.keyB
		}
		out, in := uint32(2*mc.idx+side), uint32(2*mc.idx+1-side)
		if enc[out], err = srtp.CreateContext(key[:srtpKeyLen], key[srtpKeyLen:], srtp.ProtectionProfileAes128CmHmacSha1_80); err != nil {
			return nil, dec, fmt.Errorf("media: srtp: %w", err)
		}
		rk := mc.relayKey
		if len(rk) != srtpMasterLen {
			return nil, dec, fmt.Errorf("media: call %d: %w", mc.idx, errSDPNoCrypto)
		}
		if dec[side][in], err = srtp.CreateContext(rk[:srtpKeyLen], rk[srtpKeyLen:], srtp.ProtectionProfileAes128CmHmacSha1_80,
			srtp.SRTPReplayProtection(64)); err != nil {
			return nil, dec, fmt.Errorf("media: srtp: %w", err)
		}
	}
	return enc, dec, nil
}
