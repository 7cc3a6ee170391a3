package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// MediaSIPOptions shapes the calls of the media scenario's sip control.
type MediaSIPOptions struct {
	// Domain is the domain of callers and callees.
	Domain string
	// CalleePrefix names the callees registered at the control's UAS:
	// call i goes to <CalleePrefix><i>.
	CalleePrefix string
	// CallerPrefix names the callers.
	CallerPrefix string
	// Parallel bounds the transactions of the setup in flight.
	Parallel int
}

// DefaultMediaSIPOptions returns the defaults.
func DefaultMediaSIPOptions() MediaSIPOptions {
	return MediaSIPOptions{Domain: "localhost", CalleePrefix: "mcallee", CallerPrefix: "mcaller", Parallel: 64}
}

// errSIPControl reports a call the server did not set up.
var errSIPControl = errors.New("bench: media sip")

// sipControl places the calls through the B2BUA: it REGISTERs callee i at
// its own UAS, then sends INVITE with peer A's SDP from a UAC socket. The
// UAS answers the INVITE the server sends it (the relay's B-side address
// in its SDP) with peer B's SDP; the 200 the UAC gets carries the relay's
// A-side address. ACK follows, and at the end BYE and an unREGISTER.
// Transactions are retransmitted with T1 = 500 ms doubling (RFC 3261
// §17.1.1.2, §17.1.2.2) and time out after 8 s.
type sipControl struct {
	cfg      MediaConfig
	server   *net.UDPAddr
	uac, uas *net.UDPConn
	run      string
	calls    []*mediaCall
	// mu guards waiting and the calls' SDP fields the UAS writes.
	mu      sync.Mutex
	waiting map[string]chan []byte
	dialogs []sipDialog
	wg      sync.WaitGroup
}

// sipDialog is what the UAC keeps of call i's dialog (RFC 3261 §12.1.2).
type sipDialog struct {
	toTag, target, route []byte
	up                   bool
}

func newSIPControl(cfg MediaConfig) (mediaControl, error) {
	server, err := net.ResolveUDPAddr("udp", cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSIPControl, err)
	}
	d := DefaultMediaSIPOptions()
	setIfZero(&cfg.SIP.Domain, d.Domain)
	setIfZero(&cfg.SIP.CalleePrefix, d.CalleePrefix)
	setIfZero(&cfg.SIP.CallerPrefix, d.CallerPrefix)
	setIfZero(&cfg.SIP.Parallel, d.Parallel)
	var id [6]byte
	_, _ = rand.Read(id[:])
	s := &sipControl{cfg: cfg, server: server, run: hex.EncodeToString(id[:]), waiting: map[string]chan []byte{}}
	for _, c := range []**net.UDPConn{&s.uac, &s.uas} {
		if *c, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(cfg.Local)}); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("%w: %v", errSIPControl, err)
		}
		setBuffers(*c, 4<<20, cfg.Log)
	}
	s.wg.Go(s.readUAC)
	s.wg.Go(s.serveUAS)
	return s, nil
}

func (s *sipControl) Close() error {
	var errs []error
	for _, c := range []*net.UDPConn{s.uac, s.uas} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

func (s *sipControl) callID(kind string, i int) string {
	return kind + "-" + s.run + "-" + strconv.Itoa(i)
}

// setup registers every callee, then places every call, Parallel at a time.
func (s *sipControl) setup(ctx context.Context, calls []*mediaCall) error {
	s.mu.Lock()
	s.calls, s.dialogs = calls, make([]sipDialog, len(calls))
	s.mu.Unlock()
	if err := s.each(ctx, calls, func(mc *mediaCall) error { return s.register(ctx, mc.idx, 3600, 1) }); err != nil {
		return err
	}
	return s.each(ctx, calls, func(mc *mediaCall) error { return s.invite(ctx, mc) })
}

// teardown hangs up and unregisters every call; it reports the first error.
func (s *sipControl) teardown(ctx context.Context, calls []*mediaCall) error {
	byeErr := s.each(ctx, calls, func(mc *mediaCall) error { return s.bye(ctx, mc.idx) })
	regErr := s.each(ctx, calls, func(mc *mediaCall) error { return s.register(ctx, mc.idx, 0, 2) })
	return errors.Join(byeErr, regErr)
}

func (s *sipControl) each(ctx context.Context, calls []*mediaCall, f func(*mediaCall) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.SIP.Parallel)
	for _, mc := range calls {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { return f(mc) })
	}
	return g.Wait()
}

func (s *sipControl) aor(prefix string, i int) string {
	return "sip:" + prefix + strconv.Itoa(i) + "@" + s.cfg.SIP.Domain
}

// appendHead appends the request line and the headers every request has.
func (s *sipControl) appendHead(b []byte, method, ruri, from, fromTag, to, toTag, callID string, cseq int) []byte {
	var br [8]byte
	_, _ = rand.Read(br[:])
	b = fmt.Appendf(b, "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%x;rport\r\nMax-Forwards: 70\r\n",
		method, ruri, s.uac.LocalAddr(), br)
	b = fmt.Appendf(b, "From: <%s>;tag=%s\r\nTo: <%s>", from, fromTag, to)
	if toTag != "" {
		b = fmt.Appendf(b, ";tag=%s", toTag)
	}
	return fmt.Appendf(b, "\r\nCall-ID: %s\r\nCSeq: %d %s\r\n", callID, cseq, method)
}

// register binds callee i to the UAS (RFC 3261 §10.2), or removes the
// binding with expires 0.
func (s *sipControl) register(ctx context.Context, i, expires, cseq int) error {
	callee := s.aor(s.cfg.SIP.CalleePrefix, i)
	b := s.appendHead(nil, "REGISTER", "sip:"+s.cfg.SIP.Domain, callee, "r"+s.run, callee, "", s.callID("reg", i), cseq)
	b = fmt.Appendf(b, "Contact: <sip:%s%d@%s>\r\nExpires: %d\r\nContent-Length: 0\r\n\r\n",
		s.cfg.SIP.CalleePrefix, i, s.uas.LocalAddr(), expires)
	resp, err := s.transact(ctx, b, s.callID("reg", i), cseq, "REGISTER", false)
	if err != nil {
		return err
	}
	return statusErr("REGISTER", i, resp)
}

// invite places call i and sends the ACK of its 2xx (RFC 3261 §13.2.2.4).
func (s *sipControl) invite(ctx context.Context, mc *mediaCall) error {
	i, callID := mc.idx, s.callID("call", mc.idx)
	caller, callee := s.aor(s.cfg.SIP.CallerPrefix, i), s.aor(s.cfg.SIP.CalleePrefix, i)
	sdp := mc.offerSDP()
	b := s.appendHead(nil, "INVITE", callee, caller, "c"+s.run, callee, "", callID, 1)
	b = fmt.Appendf(b, "Contact: <sip:%s%d@%s>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		s.cfg.SIP.CallerPrefix, i, s.uac.LocalAddr(), len(sdp), sdp)
	raw, err := s.transact(ctx, b, callID, 1, "INVITE", true)
	if err != nil {
		return err
	}
	var resp Response
	if err := ParseResponse(raw, &resp); err != nil {
		return fmt.Errorf("%w: call %d: %v", errSIPControl, i, err)
	}
	d := sipDialog{toTag: bytes.Clone(resp.ToTag), target: bytes.Clone(resp.Contact),
		route: appendRouteSet(nil, resp.RecordRoute[:resp.RecordRoutes])}
	if resp.Status >= 300 {
		s.sendAck(i, callee, raw) // the ACK of a failure: on the INVITE's branch (§17.1.1.3)
		return statusErr("INVITE", i, raw)
	}
	if len(d.target) == 0 {
		d.target = []byte(callee)
	}
	d.up = true
	s.mu.Lock()
	s.dialogs[i] = d
	s.mu.Unlock()
	s.sendInDialog(i, "ACK", 1)
	body := raw[min(resp.HeaderLen, len(raw)):]
	if resp.ContentLength >= 0 && resp.ContentLength <= len(body) {
		body = body[:resp.ContentLength]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := mc.readAnswerAtA(body); err != nil {
		return fmt.Errorf("%w: call %d: 200's SDP: %v", errSIPControl, i, err)
	}
	if !mc.toRelayFromB.IsValid() {
		return fmt.Errorf("%w: call %d: the UAS got no INVITE for it", errSIPControl, i)
	}
	return nil
}

// sendAck acknowledges a failure response to the INVITE of call i.
func (s *sipControl) sendAck(i int, callee string, resp []byte) {
	var r Response
	if ParseResponse(resp, &r) != nil {
		return
	}
	b := fmt.Appendf(nil, "ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nMax-Forwards: 70\r\n",
		callee, s.uac.LocalAddr(), r.Branch)
	b = fmt.Appendf(b, "From: <%s>;tag=c%s\r\nTo: <%s>;tag=%s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		s.aor(s.cfg.SIP.CallerPrefix, i), s.run, callee, r.ToTag, s.callID("call", i))
	_, _ = s.uac.WriteToUDP(b, s.server)
}

// inDialog builds a request within call i's dialog (RFC 3261 §12.2.1.1).
func (s *sipControl) inDialog(i int, method string, cseq int) ([]byte, bool) {
	s.mu.Lock()
	d := s.dialogs[i]
	s.mu.Unlock()
	if !d.up {
		return nil, false
	}
	caller, callee := s.aor(s.cfg.SIP.CallerPrefix, i), s.aor(s.cfg.SIP.CalleePrefix, i)
	b := s.appendHead(nil, method, string(d.target), caller, "c"+s.run, callee, string(d.toTag), s.callID("call", i), cseq)
	b = append(b, d.route...)
	return append(b, "Content-Length: 0\r\n\r\n"...), true
}

func (s *sipControl) sendInDialog(i int, method string, cseq int) {
	if b, ok := s.inDialog(i, method, cseq); ok {
		_, _ = s.uac.WriteToUDP(b, s.server)
	}
}

func (s *sipControl) bye(ctx context.Context, i int) error {
	b, ok := s.inDialog(i, "BYE", 2)
	if !ok {
		return nil
	}
	raw, err := s.transact(ctx, b, s.callID("call", i), 2, "BYE", false)
	if err != nil {
		return err
	}
	return statusErr("BYE", i, raw)
}

func statusErr(method string, i int, raw []byte) error {
	var r Response
	if err := ParseResponse(raw, &r); err != nil {
		return fmt.Errorf("%w: %s %d: %v", errSIPControl, method, i, err)
	}
	if r.Status >= 300 {
		return fmt.Errorf("%w: %s %d: %d", errSIPControl, method, i, r.Status)
	}
	return nil
}

// transact sends req to the server until its final response comes (for an
// INVITE, until any response: a provisional stops the retransmissions) and
// returns the final response; 8 s without one is a timeout.
func (s *sipControl) transact(ctx context.Context, req []byte, callID string, cseq int, method string, invite bool) ([]byte, error) {
	key := callID + " " + strconv.Itoa(cseq) + " " + method
	ch := make(chan []byte, 8)
	s.mu.Lock()
	s.waiting[key] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, key)
		s.mu.Unlock()
	}()
	deadline := time.NewTimer(8 * time.Second)
	defer deadline.Stop()
	retrans, interval := true, 500*time.Millisecond
	for {
		if retrans {
			if _, err := s.uac.WriteToUDP(req, s.server); err != nil {
				return nil, fmt.Errorf("%w: %v", errSIPControl, err)
			}
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-deadline.C:
			t.Stop()
			return nil, fmt.Errorf("%w: %s: no final response in 8s", errSIPControl, key)
		case raw := <-ch:
			t.Stop()
			var r Response
			if ParseResponse(raw, &r) != nil {
				continue
			}
			if r.Status >= 200 {
				return raw, nil
			}
			retrans = retrans && !invite // RFC 3261 §17.1.1.2: Timer A stops
			continue
		case <-t.C:
		}
		interval = min(2*interval, 4*time.Second)
	}
}

// readUAC hands each response to the transaction waiting for it.
func (s *sipControl) readUAC() {
	buf := make([]byte, 65536)
	for {
		n, err := s.uac.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var r Response
		if ParseResponse(buf[:n], &r) != nil {
			s.answerRequest(s.uac, buf[:n]) // a request from the server (BYE, OPTIONS): 200
			continue
		}
		key := string(r.CallID) + " " + strconv.FormatUint(uint64(r.CSeq), 10) + " " + string(r.CSeqMethod)
		s.mu.Lock()
		ch := s.waiting[key]
		s.mu.Unlock()
		if ch != nil {
			select {
			case ch <- bytes.Clone(buf[:n]):
			default:
			}
		}
	}
}

// serveUAS answers what the server sends the callees: an INVITE with 200
// and peer B's SDP, after reading the relay's B-side address from its SDP;
// ACK nothing; anything else 200.
func (s *sipControl) serveUAS() {
	buf := make([]byte, 65536)
	for {
		n, from, err := s.uas.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var r IncomingRequest
		if ParseRequest(buf[:n], &r) != nil || string(r.Method) == "ACK" {
			continue
		}
		if string(r.Method) != "INVITE" {
			s.reply(s.uas, from, buf[:n], 200, uasAnswers{})
			continue
		}
		mc := s.callOf(buf[:n])
		if mc == nil {
			s.reply(s.uas, from, buf[:n], 404, uasAnswers{})
			continue
		}
		// The first INVITE of a call sets it up; a retransmission (or a
		// re-INVITE) gets the same answer and changes nothing: the peers
		// read the call while they stream.
		s.mu.Lock()
		if !mc.toRelayFromB.IsValid() {
			err = mc.readOfferAtB(r.Body)
		}
		answer := mc.answerSDP()
		s.mu.Unlock()
		if err != nil {
			s.cfg.Log.Warn("media sip: INVITE's SDP", zap.Int("call", mc.idx), zap.Error(err))
			s.reply(s.uas, from, buf[:n], 488, uasAnswers{})
			continue
		}
		s.reply(s.uas, from, buf[:n], 200, uasAnswers{
			contact: "Contact: <sip:uas@" + s.uas.LocalAddr().String() + ">\r\n",
			sdp:     "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(answer)) + "\r\n\r\n" + string(answer),
		})
	}
}

// callOf finds the call of an INVITE by its Request-URI's user part,
// <CalleePrefix><i>.
func (s *sipControl) callOf(req []byte) *mediaCall {
	sp := bytes.IndexByte(req, ' ')
	if sp < 0 {
		return nil
	}
	uri := req[sp+1:]
	uri = uri[:max(bytes.IndexAny(uri, "@ "), 0)]
	_, user, ok := bytes.Cut(uri, []byte(":"))
	if !ok || !bytes.HasPrefix(user, []byte(s.cfg.SIP.CalleePrefix)) {
		return nil
	}
	i, err := strconv.Atoi(string(user[len(s.cfg.SIP.CalleePrefix):]))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || i < 0 || i >= len(s.calls) {
		return nil
	}
	return s.calls[i]
}

func (s *sipControl) answerRequest(c *net.UDPConn, req []byte) {
	var r IncomingRequest
	if ParseRequest(req, &r) != nil || string(r.Method) == "ACK" {
		return
	}
	s.reply(c, s.server, req, 200, uasAnswers{})
}

func (s *sipControl) reply(c *net.UDPConn, to *net.UDPAddr, req []byte, status int, a uasAnswers) {
	if b, err := AppendUASResponse(nil, req, status, a); err == nil {
		_, _ = c.WriteToUDP(b, to)
	}
}
