package ua

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestMessagePeerToPeer: alice and bob exchange MESSAGEs directly, both
// ways, on UDP and TCP.
func TestMessagePeerToPeer(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ctx := testCtx(t)
			alice := newPeer(t, network, "sip:alice@example.com")
			bob := newPeer(t, network, "sip:bob@example.com")
			for _, tc := range []struct {
				from, to *Peer
				text     string
			}{
				{alice, bob, "hello bob"},
				{bob, alice, "hi alice, ça va ?"},
			} {
				sent := time.Now().Truncate(time.Second)
				if err := tc.from.SendMessage(ctx, "sip:"+tc.to.aor.User+"@"+tc.to.Addr(), tc.text); err != nil {
					t.Fatal(err)
				}
				select {
				case m := <-tc.to.Messages():
					if m.From != tc.from.AOR() || m.Text() != tc.text || !strings.HasPrefix(m.ContentType, "text/plain") {
						t.Fatalf("got %+v", m)
					}
					if m.Date.Before(sent.Add(-time.Second)) || m.Date.After(time.Now()) {
						t.Errorf("Date %v, sent at %v", m.Date, sent)
					}
				case <-time.After(2 * time.Second):
					t.Fatal("no message")
				}
			}
		})
	}
}

// TestMessageRefusals: a body over the limit gets 413, a full inbox 486,
// a peer that is not there an error; the Date header is kept.
func TestMessageRefusals(t *testing.T) {
	ctx := testCtx(t)
	alice := newPeer(t, "tcp", "sip:alice@example.com")
	bob := newPeer(t, "tcp", "sip:bob@example.com")
	to, err := alice.target("sip:bob@" + bob.Addr())
	if err != nil {
		t.Fatal(err)
	}
	send := func(body string, hdrs ...sip.Header) int {
		t.Helper()
		req := alice.newRequest(sip.MESSAGE, to)
		for _, h := range hdrs {
			req.AppendHeader(h)
		}
		req.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
		req.SetBody([]byte(body))
		res, err := alice.send(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}
	if code := send(strings.Repeat("x", MaxMessageSize+1)); code != 413 {
		t.Errorf("oversized body: %d, want 413", code)
	}
	if err := alice.SendMessage(ctx, "sip:bob@"+bob.Addr(), strings.Repeat("x", MaxMessageSize+1)); err == nil {
		t.Error("SendMessage sent an oversized body")
	}
	stamp := "Sat, 13 Nov 2010 23:29:00 GMT"
	if code := send("old news", sip.NewHeader("Date", stamp)); code != 200 {
		t.Fatalf("dated message: %d", code)
	}
	if m := <-bob.Messages(); m.Date.Format(http.TimeFormat) != stamp {
		t.Errorf("Date %v, want %s", m.Date, stamp)
	}
	for i := range inboxSize {
		if code := send("fill"); code != 200 {
			t.Fatalf("message %d: %d", i, code)
		}
	}
	start := time.Now()
	if code := send("one too many"); code != 486 {
		t.Errorf("full inbox: %d, want 486", code)
	}
	if waited := time.Since(start); waited < inboxWait {
		t.Errorf("refused after %v, want a wait of %v", waited, inboxWait)
	}
	var se *StatusError
	gone := newPeer(t, "udp", "sip:carol@example.com", WithTransactionTimeout(300*time.Millisecond))
	err = gone.SendMessage(ctx, "sip:nobody@"+alice.Addr(), "hello?") // alice listens on TCP only
	if err == nil || errors.As(err, &se) {
		t.Errorf("message to no one: %v", err)
	}
}

// TestMessageThroughServer: with a server, SendMessage goes there (with
// the credentials) and a 202 counts as sent, a 404 as a *StatusError.
func TestMessageThroughServer(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistrar(t, "udp", nil)
	got := make(chan *sip.Request, 2)
	reg.mu.Lock()
	reg.message = func(req *sip.Request, tx sip.ServerTransaction) {
		got <- req
		code, reason := 202, "Accepted"
		if req.To().Address.User != "bob" {
			code, reason = 404, "Not Found"
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
	}
	reg.mu.Unlock()
	p := newPeer(t, "udp", "sip:alice@example.com")
	if err := p.Register(ctx, reg.addr, WithBearer("tok")); err != nil {
		t.Fatal(err)
	}
	if err := p.SendMessage(ctx, "bob", "stored for later"); err != nil {
		t.Fatal(err)
	}
	req := <-got
	if req.Recipient.String() != "sip:bob@example.com" || req.GetHeader("Authorization") == nil ||
		req.Contact() != nil || req.GetHeader("Date") == nil {
		t.Fatalf("MESSAGE:\n%s", req)
	}
	var se *StatusError
	if err := p.SendMessage(ctx, "nobody", "hi"); !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("to nobody: %v", err)
	}
}
