package ua

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/b2bua/b2bua/auth/digest"
)

// newPeer starts a peer (keepalive off unless opts turn it on) that the
// test closes.
func newPeer(t *testing.T, network, identity string, opts ...Option) *Peer {
	t.Helper()
	p, err := New(identity, network+":127.0.0.1:0", zaptest.NewLogger(t), append([]Option{WithKeepalive(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// awaitState reads p's events until one in state, within d, and returns
// it with the states seen on the way.
func awaitState(t *testing.T, p *Peer, state RegState, d time.Duration) (RegEvent, []RegState) {
	t.Helper()
	var seen []RegState
	deadline := time.After(d)
	for {
		select {
		case ev := <-p.RegEvents():
			seen = append(seen, ev.State)
			if ev.State == state {
				return ev, seen
			}
		case <-deadline:
			t.Fatalf("no %v within %v; saw %v", state, d, seen)
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRegisterRefreshAndUnregister: the first REGISTER, a refresh at 90%
// of a 2 s expiry on the same Call-ID with CSeq+1, then Unregister's
// Expires: 0, on UDP and TCP, with the RegEvents in order.
func TestRegisterRefreshAndUnregister(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ctx := testCtx(t)
			reg := newRegistrar(t, network, nil)
			p := newPeer(t, network, "sip:alice@example.com")
			start := time.Now()
			if err := p.Register(ctx, reg.addr, WithExpires(2*time.Second)); err != nil {
				t.Fatal(err)
			}
			first := reg.next(t, time.Second)
			if first.Recipient.String() != "sip:example.com" || first.From().Address.String() != "sip:alice@example.com" ||
				first.To().Address.String() != "sip:alice@example.com" || contactExpires(first) != 2 {
				t.Fatalf("first REGISTER:\n%s", first)
			}
			ev, seen := awaitState(t, p, Registered, time.Second)
			if ev.Expires != 2*time.Second || len(seen) != 2 || seen[0] != Registering {
				t.Fatalf("events %v, expires %v", seen, ev.Expires)
			}
			refresh := reg.next(t, 3*time.Second)
			if at := time.Since(start); at < 1700*time.Millisecond || at > 2500*time.Millisecond {
				t.Errorf("refresh after %v, want about 1.8 s", at)
			}
			if refresh.CallID().Value() != first.CallID().Value() || refresh.CSeq().SeqNo != first.CSeq().SeqNo+1 {
				t.Errorf("refresh Call-ID %s CSeq %d; first %s %d", refresh.CallID().Value(), refresh.CSeq().SeqNo,
					first.CallID().Value(), first.CSeq().SeqNo)
			}
			awaitState(t, p, Registered, time.Second)
			if err := p.Unregister(ctx); err != nil {
				t.Fatal(err)
			}
			un := reg.next(t, time.Second)
			if contactExpires(un) != 0 || un.GetHeader("Expires").Value() != "0" || un.CallID().Value() != first.CallID().Value() {
				t.Fatalf("unregister:\n%s", un)
			}
			awaitState(t, p, Unregistered, time.Second)
			if err := p.Unregister(ctx); !errors.Is(err, ErrNotRegistered) {
				t.Errorf("second Unregister: %v", err)
			}
		})
	}
}

// TestRegisterAnswers: how the first answers of the registrar end
// Register, and what the registrar saw.
func TestRegisterAnswers(t *testing.T) {
	digestAnswer := func(n int, req *sip.Request) *sip.Response {
		if h := req.GetHeader("Authorization"); h != nil && checkDigest(req, h.Value(), "s3cret") {
			return accept(req)
		}
		res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		res.AppendHeader(sip.NewHeader("WWW-Authenticate",
			`Digest realm="example.com", nonce="n`+string(rune('a'+n))+`", qop="auth", algorithm=MD5`))
		return res
	}
	for _, tc := range []struct {
		name    string
		answer  func(n int, req *sip.Request) *sip.Response
		opts    []RegisterOption
		wantErr error // nil: success
		regs    int   // REGISTERs the registrar got
		check   func(t *testing.T, regs []*sip.Request, ev RegEvent)
	}{
		{
			name: "423 then Min-Expires",
			answer: func(_ int, req *sip.Request) *sip.Response {
				if contactExpires(req) < 120 {
					res := sip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
					res.AppendHeader(sip.NewHeader("Min-Expires", "120"))
					return res
				}
				return accept(req)
			},
			opts: []RegisterOption{WithExpires(30 * time.Second)},
			regs: 2,
			check: func(t *testing.T, regs []*sip.Request, ev RegEvent) {
				if contactExpires(regs[1]) != 120 || ev.Expires != 120*time.Second {
					t.Errorf("second REGISTER expires %d, granted %v", contactExpires(regs[1]), ev.Expires)
				}
			},
		},
		{
			name:   "digest",
			answer: digestAnswer,
			opts:   []RegisterOption{WithDigest("alice", "s3cret")},
			regs:   2,
			check: func(t *testing.T, regs []*sip.Request, _ RegEvent) {
				if regs[1].CSeq().SeqNo != regs[0].CSeq().SeqNo+1 {
					t.Errorf("CSeq %d after %d", regs[1].CSeq().SeqNo, regs[0].CSeq().SeqNo)
				}
			},
		},
		{
			name:    "digest wrong password",
			answer:  digestAnswer,
			opts:    []RegisterOption{WithDigest("alice", "wrong")},
			wantErr: ErrAuth,
			regs:    3, // the first, one answer per fresh nonce, then the same nonce again is given up
		},
		{
			name: "bearer",
			answer: func(_ int, req *sip.Request) *sip.Response {
				if h := req.GetHeader("Authorization"); h == nil || h.Value() != "Bearer tok-1" {
					return sip.NewResponseFromRequest(req, 403, "Forbidden", nil)
				}
				return accept(req)
			},
			opts: []RegisterOption{WithBearer("tok-1")},
			regs: 1,
		},
		{
			name: "403",
			answer: func(_ int, req *sip.Request) *sip.Response {
				return sip.NewResponseFromRequest(req, 403, "Forbidden", nil)
			},
			wantErr: ErrRegFailed,
			regs:    1,
		},
		{
			name: "404",
			answer: func(_ int, req *sip.Request) *sip.Response {
				return sip.NewResponseFromRequest(req, 404, "Not Found", nil)
			},
			wantErr: ErrRegFailed,
			regs:    1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			reg := newRegistrar(t, "udp", tc.answer)
			p := newPeer(t, "udp", "sip:alice@example.com")
			err := p.Register(ctx, reg.addr, tc.opts...)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Register: %v, want %v", err, tc.wantErr)
			}
			want := Registered
			if tc.wantErr != nil {
				want = RegFailed
			}
			ev, _ := awaitState(t, p, want, time.Second)
			time.Sleep(100 * time.Millisecond) // nothing more may come
			reg.mu.Lock()
			regs := append([]*sip.Request(nil), reg.regs...)
			reg.mu.Unlock()
			if len(regs) != tc.regs {
				t.Fatalf("registrar got %d REGISTERs, want %d", len(regs), tc.regs)
			}
			if tc.check != nil {
				tc.check(t, regs, ev)
			}
		})
	}
}

// checkDigest verifies an RFC 2617 MD5 qop=auth answer, with the
// server's own parser.
func checkDigest(req *sip.Request, header, password string) bool {
	v, ok := strings.CutPrefix(header, "Digest ")
	if !ok {
		return false
	}
	c, err := digest.ParseCredentials(v)
	if err != nil {
		return false
	}
	h := func(s string) string { s2 := md5.Sum([]byte(s)); return hex.EncodeToString(s2[:]) }
	ha1 := h(c.Username + ":" + c.Realm + ":" + password)
	ha2 := h("REGISTER:" + c.URI)
	return c.Response == h(ha1+":"+c.Nonce+":"+c.NC+":"+c.CNonce+":"+c.QOP+":"+ha2)
}

// TestTokenSourceAskedAgainOn401: a refused token makes the source give
// another, which registers; refresh REGISTERs reuse it.
func TestTokenSourceAskedAgainOn401(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistrar(t, "udp", func(_ int, req *sip.Request) *sip.Response {
		if h := req.GetHeader("Authorization"); h != nil && h.Value() == "Bearer good" {
			return accept(req)
		}
		res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", `Bearer realm="example.com", error="invalid_token"`))
		return res
	})
	var mu sync.Mutex
	var asked []string
	src := func(_ context.Context, rejected string) (Token, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, rejected)
		if rejected == "" {
			return Token{AccessToken: "old"}, nil
		}
		return Token{AccessToken: "good"}, nil
	}
	p := newPeer(t, "udp", "sip:alice@example.com")
	if err := p.Register(ctx, reg.addr, WithTokenSource(src)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || asked[0] != "" || asked[1] != "old" {
		t.Fatalf("source asked with %q", asked)
	}
	if reg.count() != 2 {
		t.Fatalf("%d REGISTERs", reg.count())
	}
}

// TestRegisterBacksOffWithoutAnswer: the registrar is silent at first;
// Register reports the timeout, keeps trying, and registers later.
func TestRegisterBacksOffWithoutAnswer(t *testing.T) {
	ctx := testCtx(t)
	var silent atomic.Bool
	silent.Store(true)
	reg := newRegistrar(t, "udp", func(_ int, req *sip.Request) *sip.Response {
		if silent.Load() {
			return nil
		}
		return accept(req)
	})
	p := newPeer(t, "udp", "sip:alice@example.com", WithTransactionTimeout(300*time.Millisecond))
	err := p.Register(ctx, reg.addr)
	if err == nil || errors.Is(err, ErrRegFailed) {
		t.Fatalf("Register: %v, want a passing failure", err)
	}
	failedAt := time.Now()
	silent.Store(false)
	ev, seen := awaitState(t, p, Registered, 3*time.Second)
	if wait := ev.At.Sub(failedAt); wait < 400*time.Millisecond {
		t.Errorf("retried after %v, want a backoff of 0.5–1 s", wait)
	}
	if len(seen) < 2 || seen[0] != Registering {
		t.Errorf("events %v", seen)
	}
}

// TestCloseUnregisters: Close sends Expires: 0 and leaves none of the
// peer's goroutines (refresh loop, keepalive) running.
func TestCloseUnregisters(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistrar(t, "tcp", nil)
	ignore := goleak.IgnoreCurrent()
	p, err := New("sip:alice@example.com", "tcp:127.0.0.1:0", zaptest.NewLogger(t), WithKeepalive(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Register(ctx, reg.addr); err != nil {
		t.Fatal(err)
	}
	reg.next(t, time.Second)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if un := reg.next(t, time.Second); contactExpires(un) != 0 {
		t.Fatalf("Close sent:\n%s", un)
	}
	goleak.VerifyNone(t, ignore)
}

// TestKeepalive: OPTIONS on UDP; on TCP a connection the server dropped
// is noticed by the next keepalive, which registers again.
func TestKeepalive(t *testing.T) {
	t.Run("udp", func(t *testing.T) {
		ctx := testCtx(t)
		reg := newRegistrar(t, "udp", nil)
		p := newPeer(t, "udp", "sip:alice@example.com", WithKeepalive(100*time.Millisecond))
		if err := p.Register(ctx, reg.addr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(450 * time.Millisecond)
		reg.mu.Lock()
		n := reg.options
		reg.mu.Unlock()
		if n < 3 || reg.count() != 1 {
			t.Fatalf("%d OPTIONS, %d REGISTERs", n, reg.count())
		}
	})
	t.Run("tcp", func(t *testing.T) {
		ctx := testCtx(t)
		reg := newRegistrar(t, "tcp", nil)
		p := newPeer(t, "tcp", "sip:alice@example.com", WithKeepalive(100*time.Millisecond))
		if err := p.Register(ctx, reg.addr); err != nil {
			t.Fatal(err)
		}
		first := reg.next(t, time.Second)
		time.Sleep(250 * time.Millisecond) // CRLF pings, no new REGISTER
		if reg.count() != 1 {
			t.Fatalf("%d REGISTERs while the connection was up", reg.count())
		}
		c, err := reg.ua.TransportLayer().GetConnection("tcp", first.Source())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		again := reg.next(t, 2*time.Second)
		if again.CallID().Value() != first.CallID().Value() || again.Source() == first.Source() {
			t.Fatalf("re-REGISTER from %s (first from %s)", again.Source(), first.Source())
		}
	})
}

// TestRegisterSchedule runs the refresh loop with scripted outcomes on a
// fake clock: refresh at 90% of the granted expiry, backoff from 1 s
// doubling on failures, capped at 60 s, and a stop on a final refusal.
func TestRegisterSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &Peer{log: zap.NewNop()}
		p.ctx, p.cancel = context.WithCancel(context.Background())
		defer p.cancel()
		p.initRegistrations()
		outcomes := []attemptResult{
			{err: errors.New("timeout")}, {err: errors.New("timeout")}, {err: errors.New("503")},
			{granted: 100 * time.Second}, {granted: 100 * time.Second},
			{err: ErrRegFailed, fatal: true},
		}
		var at []time.Duration
		start := time.Now()
		r := &registration{kick: make(chan struct{}, 1), done: make(chan struct{}),
			attempt: func(_ *Peer, _ context.Context, _ *registration) attemptResult {
				at = append(at, time.Since(start))
				res := outcomes[0]
				outcomes = outcomes[1:]
				return res
			}}
		r.ctx, r.cancel = context.WithCancel(p.ctx)
		p.regs.cur = r
		go p.regLoop(r, 0, false)
		<-r.done
		// The first attempt at 0; backoffs of 50–100% of 1 s, 2 s, 4 s; then 90 s.
		bounds := [][2]time.Duration{{0, 0}, {500 * time.Millisecond, time.Second}, {time.Second, 2 * time.Second},
			{2 * time.Second, 4 * time.Second}, {90 * time.Second, 90 * time.Second}, {90 * time.Second, 90 * time.Second}}
		if len(at) != len(bounds) {
			t.Fatalf("%d attempts at %v", len(at), at)
		}
		for i := 1; i < len(at); i++ {
			gap := at[i] - at[i-1]
			if gap < bounds[i][0] || gap > bounds[i][1] {
				t.Errorf("attempt %d after %v, want %v–%v", i, gap, bounds[i][0], bounds[i][1])
			}
		}
		var states []RegState
		for len(p.regs.events) > 0 {
			states = append(states, (<-p.regs.events).State)
		}
		want := []RegState{Registering, Registering, Registering, Registered, Registered, RegFailed}
		if len(states) != len(want) {
			t.Fatalf("events %v, want %v", states, want)
		}
		for i := range want {
			if states[i] != want[i] {
				t.Fatalf("events %v, want %v", states, want)
			}
		}
		if p.registered() != nil {
			t.Error("a refused registration is still current")
		}
		for i := range 20 {
			if d := backoff(i); d > backoffCap || d < min(backoffBase<<min(i, 6), backoffCap)/2 {
				t.Errorf("backoff(%d) = %v", i, d)
			}
		}
	})
}

// TestEventsKeepTheLatest: a reader that never reads loses the oldest
// events, and the emitter never blocks.
func TestEventsKeepTheLatest(t *testing.T) {
	p := &Peer{}
	p.regs.events = make(chan RegEvent, eventBuffer)
	for i := range 100 {
		p.emit(RegEvent{State: Registered, Expires: time.Duration(i)})
	}
	var last RegEvent
	n := 0
	for len(p.regs.events) > 0 {
		last = <-p.regs.events
		n++
	}
	if n != eventBuffer || last.Expires != 99 {
		t.Fatalf("%d events, last %v", n, last.Expires)
	}
}
