package ua

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/b2bua/b2bua/pidf"
)

var networks = []string{"udp", "tcp"}

// noLeaks checks, after every cleanup of t (the peers' Close), that no
// goroutine was left behind.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// callPeers starts alice and bob on network; Close runs at cleanup.
func callPeers(t *testing.T, network string) (a, b *Peer) {
	t.Helper()
	for _, id := range []string{"sip:alice@example.com", "sip:bob@example.com"} {
		p, err := New(id, network+":127.0.0.1:0", zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
			WithTransactionTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = p.Close(ctx)
		})
		if a == nil {
			a = p
		} else {
			b = p
		}
	}
	return a, b
}

// uri is the peer-to-peer target of p.
func uri(p *Peer) string {
	u := "sip:" + p.aor.User + "@" + p.Addr()
	if p.Network() == "tcp" {
		u += ";transport=tcp"
	}
	return u
}

// incoming waits for b's next incoming call.
func incoming(t *testing.T, ctx context.Context, b *Peer) *IncomingCall {
	t.Helper()
	select {
	case ic := <-b.IncomingCalls():
		return ic
	case <-ctx.Done():
		t.Fatal("no incoming call")
		return nil
	}
}

// connect has a call b, and b answer it.
func connect(t *testing.T, ctx context.Context, a, b *Peer) (ca, cb *Call) {
	t.Helper()
	type result struct {
		c   *Call
		err error
	}
	placed := make(chan result, 1)
	go func() {
		c, err := a.Call(ctx, uri(b))
		placed <- result{c, err}
	}()
	ic := incoming(t, ctx, b)
	if ic.From != "sip:alice@example.com" || ic.CallID == "" || !strings.Contains(string(ic.Offer), "m=audio 40000 RTP/AVP 0 8 101") {
		t.Fatalf("incoming call from %q, id %q, offer %q", ic.From, ic.CallID, ic.Offer)
	}
	cb, err := ic.Answer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := <-placed
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.c.CallID() != cb.CallID() || r.c.Remote() != "sip:bob@127.0.0.1" || cb.Remote() != "sip:alice@example.com" {
		t.Fatalf("call ids %q %q, remotes %q %q", r.c.CallID(), cb.CallID(), r.c.Remote(), cb.Remote())
	}
	return r.c, cb
}

func ended(t *testing.T, ctx context.Context, c *Call) {
	t.Helper()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("call did not end")
	}
}

func TestCallAnswerHangup(t *testing.T) {
	noLeaks(t)
	for _, network := range networks {
		for _, tc := range []struct {
			name   string
			callee bool // the callee hangs up
		}{{"caller hangs up", false}, {"callee hangs up", true}} {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				a, b := callPeers(t, network)
				ca, cb := connect(t, ctx, a, b)
				if !a.InCall() || !b.InCall() {
					t.Fatal("InCall false during the call")
				}
				hang, other := ca, cb
				if tc.callee {
					hang, other = cb, ca
				}
				if err := hang.Hangup(ctx); err != nil {
					t.Fatal(err)
				}
				ended(t, ctx, hang)
				ended(t, ctx, other)
				if a.InCall() || b.InCall() {
					t.Fatal("InCall true after the call")
				}
				if err := other.Hangup(ctx); err != nil { // already over: nothing sent
					t.Fatal(err)
				}
			})
		}
	}
}

func TestCallReject(t *testing.T) {
	noLeaks(t)
	for _, network := range networks {
		for _, code := range []int{486, 603} {
			t.Run(network, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				a, b := callPeers(t, network)
				errc := make(chan error, 1)
				go func() { _, err := a.Call(ctx, uri(b)); errc <- err }()
				if err := incoming(t, ctx, b).Reject(code); err != nil {
					t.Fatal(err)
				}
				var se *StatusError
				if err := <-errc; !errors.As(err, &se) || se.Code != code {
					t.Fatalf("err %v, want %d", err, code)
				}
				if a.InCall() || b.InCall() {
					t.Fatal("InCall after a rejected call")
				}
			})
		}
	}
}

func TestCallCancelWhileRinging(t *testing.T) {
	noLeaks(t)
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a, b := callPeers(t, network)
			cctx, hangUp := context.WithCancel(ctx)
			rang := make(chan struct{})
			errc := make(chan error, 1)
			go func() {
				_, err := a.Call(cctx, uri(b), WithProgress(func(code int, _ string) {
					if code == 180 {
						close(rang)
					}
				}))
				errc <- err
			}()
			ic := incoming(t, ctx, b)
			<-rang
			hangUp()
			err := <-errc
			var se *StatusError
			if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.Code != 487 {
				t.Fatalf("err %v, want context canceled and 487", err)
			}
			select {
			case <-ic.Cancelled():
			case <-ctx.Done():
				t.Fatal("callee never saw the CANCEL")
			}
			if _, err := ic.Answer(ctx); !errors.Is(err, ErrCallCancelled) && !errors.Is(err, ErrCallEnded) {
				t.Fatalf("Answer after CANCEL: %v", err)
			}
		})
	}
}

func TestCallHoldResume(t *testing.T) {
	noLeaks(t)
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a, b := callPeers(t, network)
			ca, cb := connect(t, ctx, a, b)
			steps := []struct {
				who          *Call
				hold         bool
				aHeld, bHeld bool
			}{
				{ca, true, false, true},
				{ca, false, false, false},
				{cb, true, true, false},
				{ca, true, true, true}, // both hold: a's offer sendonly is answered inactive
				{cb, false, false, true},
				{ca, false, false, false},
			}
			for i, s := range steps {
				var err error
				if s.hold {
					err = s.who.Hold(ctx)
				} else {
					err = s.who.Resume(ctx)
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if ca.Held() != s.aHeld || cb.Held() != s.bHeld {
					t.Fatalf("step %d: alice held %v, bob held %v; want %v, %v", i, ca.Held(), cb.Held(), s.aHeld, s.bHeld)
				}
			}
			if err := ca.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			ended(t, ctx, cb)
		})
	}
}

func TestCallDTMF(t *testing.T) {
	noLeaks(t)
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a, b := callPeers(t, network)
			ca, cb := connect(t, ctx, a, b)
			for _, dir := range []struct {
				from, to *Call
				digits   string
			}{{ca, cb, "123#"}, {cb, ca, "*0a9"}} {
				if err := dir.from.SendDTMF(ctx, dir.digits); err != nil {
					t.Fatal(err)
				}
				var got []rune
				for range dir.digits {
					select {
					case r := <-dir.to.DTMF():
						got = append(got, r)
					case <-ctx.Done():
						t.Fatalf("got %q of %q", string(got), dir.digits)
					}
				}
				if string(got) != strings.ToUpper(dir.digits) {
					t.Fatalf("got %q, want %q", string(got), dir.digits)
				}
			}
			if err := ca.SendDTMF(ctx, "1x"); !errors.Is(err, ErrBadDigit) {
				t.Fatalf("bad digit: %v", err)
			}
			_ = ca.Hangup(ctx)
			ended(t, ctx, cb)
		})
	}
}

// TestCallGlare: a re-INVITE that arrives while our own is pending is
// answered 491 (RFC 3261 §14.2).
func TestCallGlare(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b := callPeers(t, "udp")
	ca, cb := connect(t, ctx, a, b)
	cb.mu.Lock()
	cb.reinviting = true // as if bob's own re-INVITE were on its way
	cb.mu.Unlock()
	var se *StatusError
	if err := ca.reinviteOnce(ctx, true); !errors.As(err, &se) || se.Code != 491 {
		t.Fatalf("err %v, want 491", err)
	}
	if ca.Held() || cb.Held() {
		t.Fatal("a refused hold took effect")
	}
	cb.mu.Lock()
	cb.reinviting = false
	cb.mu.Unlock()
	if err := ca.Hold(ctx); err != nil || !cb.Held() {
		t.Fatalf("hold after glare: %v, held %v", err, cb.Held())
	}
	_ = ca.Hangup(ctx)
}

// TestInDialogUnknown: BYE, re-INVITE and INFO for a dialog the peer does
// not know are answered 481.
func TestInDialogUnknown(t *testing.T) {
	noLeaks(t)
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a, b := callPeers(t, network)
			target, err := a.target(uri(b))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []sip.RequestMethod{sip.BYE, sip.INVITE, sip.INFO, sip.UPDATE} {
				d := &dialog{callID: "no-such-call", localTag: "a", local: a.aor, remote: b.aor, remoteTag: "b", remoteTarget: target}
				req := a.request(d, m, 0)
				res, err := a.send(ctx, req)
				if err != nil || res.StatusCode != 481 {
					t.Fatalf("%s: %v %v, want 481", m, res, err)
				}
			}
			cctx, cancelCall := context.WithCancel(ctx)
			defer cancelCall()
			// And a known Call-ID with the wrong tags.
			go func() { _, _ = a.Call(cctx, uri(b)) }()
			ic := incoming(t, ctx, b)
			cb, err := ic.Answer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			d := &dialog{callID: cb.CallID(), localTag: "wrong", local: a.aor, remote: b.aor, remoteTag: "tags", remoteTarget: target}
			if res, err := a.send(ctx, a.request(d, sip.BYE, 0)); err != nil || res.StatusCode != 481 {
				t.Fatalf("BYE with wrong tags: %v %v", res, err)
			}
			if !b.InCall() {
				t.Fatal("a foreign BYE ended the call")
			}
		})
	}
}

// TestReliableProvisional: a 180 with Require: 100rel and RSeq is
// acknowledged by PRACK with RAck "RSeq CSeq INVITE" (RFC 3262 §7.2), in
// the early dialog, before the call is answered. The 200's Record-Route
// becomes the Route of the BYE, sent to the Contact as Request-URI.
func TestReliableProvisional(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	uas, addr, stop := startUAS(t)
	defer stop()
	a, _ := callPeers(t, "udp")
	c, err := a.Call(ctx, "sip:carol@"+addr)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case rack := <-uas.rack:
		if rack != "7 1 INVITE" {
			t.Fatalf("RAck %q, want \"7 1 INVITE\"", rack)
		}
	default:
		t.Fatal("the call was answered without a PRACK")
	}
	if got := <-uas.prackCSeq; got != 2 {
		t.Fatalf("PRACK CSeq %d, want 2", got)
	}
	select {
	case <-uas.acked:
	case <-ctx.Done():
		t.Fatal("no ACK")
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-uas.byeCSeq; got != 3 {
		t.Fatalf("BYE CSeq %d, want 3", got)
	}
}

// uas is a sipgo UAS that rings reliably.
type uas struct {
	rack      chan string
	prackCSeq chan uint32
	byeCSeq   chan uint32
	acked     chan struct{}
}

func startUAS(t *testing.T) (*uas, string, func()) {
	t.Helper()
	u := &uas{rack: make(chan string, 1), prackCSeq: make(chan uint32, 1), byeCSeq: make(chan uint32, 1), acked: make(chan struct{}, 1)}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("uas"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	contact := sip.NewHeader("Contact", "<sip:carol@"+addr+">")
	pracked := make(chan struct{})
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		if s := req.GetHeader("Supported"); s == nil || !hasToken(s.Value(), "100rel") {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 421, "Extension Required", nil))
			return
		}
		ring := sip.NewResponseFromRequest(req, 180, "Ringing", nil)
		ring.To().Params.Add("tag", "carol")
		ring.AppendHeader(contact)
		ring.AppendHeader(sip.NewHeader("Require", "100rel"))
		ring.AppendHeader(sip.NewHeader("RSeq", "7"))
		_ = tx.Respond(ring)
		select {
		case <-pracked:
		case <-time.After(5 * time.Second):
			_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "No PRACK", nil))
			return
		}
		ok := sip.NewResponseFromRequest(req, 200, "OK", buildSDP("127.0.0.1", 40002, 1, 1, dirSendRecv))
		ok.AppendHeader(contact)
		// As if a proxy at our own address had record-routed the call: the
		// caller's in-dialog requests must carry it as Route.
		ok.AppendHeader(sip.NewHeader("Record-Route", "<sip:"+addr+";lr>"))
		ok.AppendHeader(sip.NewHeader("Content-Type", ctSDP))
		_ = tx.Respond(ok)
	})
	srv.OnPrack(func(req *sip.Request, tx sip.ServerTransaction) {
		if r := req.GetHeader("RAck"); r != nil {
			u.rack <- r.Value()
		}
		u.prackCSeq <- req.CSeq().SeqNo
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		close(pracked)
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) { u.acked <- struct{}{} })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if r := req.GetHeader("Route"); r == nil || !strings.Contains(r.Value(), addr+";lr") || req.Recipient.User != "carol" {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Route Or Target Lost", nil))
			return
		}
		u.byeCSeq <- req.CSeq().SeqNo
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ServeUDP(pc) }()
	return u, addr, func() {
		_ = pc.Close()
		<-done
		_ = srv.Close()
		_ = ua.Close()
	}
}

// TestCallInCallPresence: peer to peer, a direct watcher of bob sees him
// InCall while his call is up, and Available after; Close hangs the call
// up (the other side's call ends).
func TestCallInCallPresence(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b := callPeers(t, "udp")
	carol := newTestPeer(t, "sip:carol@example.com", "udp:127.0.0.1:0")
	w, err := carol.Watch(ctx, "sip:bob@"+b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	waitUpdate(t, w.Updates(), "available", isStatus(pidf.StatusAvailable, SubActive))
	ca, _ := connect(t, ctx, a, b)
	waitUpdate(t, w.Updates(), "in call", isStatus(pidf.StatusInCall, SubActive))
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ended(t, ctx, ca)
	if a.InCall() {
		t.Fatal("alice still in a call after bob closed")
	}
}

func TestSDPDirection(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       string
	}{
		{"ours sendonly", string(buildSDP("127.0.0.1", 40000, 1, 1, dirSendOnly)), dirSendOnly},
		{"ours sendrecv", string(buildSDP("::1", 40000, 1, 1, dirSendRecv)), dirSendRecv},
		{"no attribute", "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", dirSendRecv},
		{"session attribute", "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n", dirInactive},
		{"media wins", "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n", dirRecvOnly},
		{"c=0.0.0.0 hold (RFC 2543)", "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", dirInactive},
		{"port 0", "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n", dirInactive},
		{"video first", "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", dirSendOnly},
		{"no audio", "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n", ""},
		{"garbage", "hello", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sdpDirection([]byte(tc.body))
			if got != tc.want || (err != nil) != (tc.want == "") {
				t.Fatalf("%q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestAnswerDirection(t *testing.T) {
	for _, tc := range []struct {
		offer   string
		holding bool
		want    string
	}{
		{dirSendRecv, false, dirSendRecv}, {dirSendRecv, true, dirSendOnly},
		{dirSendOnly, false, dirRecvOnly}, {dirSendOnly, true, dirInactive},
		{dirRecvOnly, false, dirSendOnly}, {dirRecvOnly, true, dirSendOnly},
		{dirInactive, false, dirInactive}, {dirInactive, true, dirInactive},
	} {
		if got := answerDirection(tc.offer, tc.holding); got != tc.want {
			t.Errorf("answer to %s (holding %v): %s, want %s", tc.offer, tc.holding, got, tc.want)
		}
	}
}

func TestParseDTMFRelay(t *testing.T) {
	for _, tc := range []struct {
		body  string
		digit rune
		ms    int
		ok    bool
	}{
		{"Signal=5\r\nDuration=160\r\n", '5', 160, true},
		{"signal = #\nduration=250", '#', 250, true},
		{"Signal=10\r\n", '*', 0, true},
		{"Signal=11\r\n", '#', 0, true},
		{"Signal=b\r\nDuration=x\r\n", 'B', 0, true},
		{"Signal=E\r\n", 0, 0, false},
		{"Signal=12\r\n", 0, 0, false},
		{"Duration=160\r\n", 0, 0, false},
		{"", 0, 0, false},
	} {
		d, ms, ok := parseDTMFRelay([]byte(tc.body))
		if d != tc.digit || ms != tc.ms || ok != tc.ok {
			t.Errorf("%q: %q %d %v; want %q %d %v", tc.body, d, ms, ok, tc.digit, tc.ms, tc.ok)
		}
	}
}

// TestCloseCancelsRingingCall: Close while a call rings cancels it; Call
// returns ErrClosed and the callee sees the CANCEL.
func TestCloseCancelsRingingCall(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b := callPeers(t, "tcp")
	rang := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		_, err := a.Call(ctx, uri(b), WithProgress(func(code int, _ string) {
			if code == 180 {
				close(rang)
			}
		}))
		errc <- err
	}()
	ic := incoming(t, ctx, b)
	<-rang
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Call: %v, want ErrClosed", err)
	}
	select {
	case <-ic.Cancelled():
	case <-ctx.Done():
		t.Fatal("callee never saw the CANCEL")
	}
	if _, err := a.Call(ctx, uri(b)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call after Close: %v", err)
	}
}

// TestAnswerRetransmits200UntilACK: on UDP a callee whose 200 OK is not
// acknowledged sends it again (RFC 3261 §13.3.1.4), and Answer returns
// once the ACK comes.
func TestAnswerRetransmits200UntilACK(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, b := callPeers(t, "udp")
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("uac"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: b.local.Port})
	inv.AppendHeader(sip.NewHeader("Contact", "<sip:uac@127.0.0.1>"))
	inv.AppendHeader(sip.NewHeader("Content-Type", ctSDP))
	inv.SetBody(buildSDP("127.0.0.1", 40004, 1, 1, dirSendRecv))
	inv.SetTransport("UDP")
	tx, err := client.TransactionRequest(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	again := make(chan *sip.Response, 4)
	tx.OnRetransmission(func(r *sip.Response) {
		if r.StatusCode == 200 {
			again <- r
		}
	})
	answered := make(chan error, 1)
	var call *Call
	go func() {
		ic := incoming(t, ctx, b)
		c, err := ic.Answer(ctx)
		call = c
		answered <- err
	}()
	var ok *sip.Response
	for ok == nil {
		select {
		case r := <-tx.Responses():
			if r.StatusCode == 200 {
				ok = r
			}
		case <-ctx.Done():
			t.Fatal("no 200 OK")
		}
	}
	select {
	case <-again:
	case <-time.After(3 * time.Second):
		t.Fatal("the 200 OK was not sent again without an ACK")
	}
	select {
	case err := <-answered:
		t.Fatalf("Answer returned before the ACK: %v", err)
	default:
	}
	ack := sip.NewRequest(sip.ACK, contactOf(ok, inv.Recipient))
	for _, h := range []sip.Header{inv.From(), ok.To(), inv.CallID()} {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.ACK})
	ack.SetTransport("UDP")
	if err := client.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	if err := <-answered; err != nil {
		t.Fatalf("Answer: %v", err)
	}
	// The UAC has no listener for bob's BYE: it hangs up itself.
	bye := sip.NewRequest(sip.BYE, ack.Recipient)
	for _, h := range []sip.Header{inv.From(), ok.To(), inv.CallID()} {
		bye.AppendHeader(sip.HeaderClone(h))
	}
	bye.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo + 1, MethodName: sip.BYE})
	bye.SetTransport("UDP")
	if res, err := client.Do(ctx, bye); err != nil || res.StatusCode != 200 {
		t.Fatalf("BYE: %v %v", res, err)
	}
	ended(t, ctx, call)
}

// TestCallGlareResolves: both sides hold at once; the re-INVITEs that
// cross are refused 491 and sent again after the RFC 3261 §14.1 waits,
// so both holds take effect.
func TestCallGlareResolves(t *testing.T) {
	if testing.Short() {
		t.Skip("waits up to 4 s")
	}
	noLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b := callPeers(t, "udp")
	ca, cb := connect(t, ctx, a, b)
	errs := make(chan error, 2)
	for _, c := range []*Call{ca, cb} {
		go func() { errs <- c.Hold(ctx) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !ca.Held() || !cb.Held() {
		t.Fatalf("held: alice %v, bob %v", ca.Held(), cb.Held())
	}
	_ = ca.Hangup(ctx)
}
