package main

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/sip/ua"
)

// The SDK's presence half (sip/ua) against the real server with bearer
// tokens from its own token endpoint.

// presencePeer is a ua.Peer of user at the server, authenticated with tok.
func presencePeer(t *testing.T, p *proc, user, tok string) *ua.Peer {
	t.Helper()
	peer, err := ua.New("sip:"+user+"@localhost", "udp:127.0.0.1:0", zaptest.NewLogger(t).Named(user),
		ua.WithServer(p.udp), ua.WithCredentials(ua.Bearer(tok)), ua.WithAPI("http://"+p.http))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = peer.Close(ctx)
	})
	return peer
}

// nextUpdate waits for an update that satisfies ok.
func nextUpdate(t *testing.T, ch <-chan ua.Update, what string, ok func(ua.Update) bool) ua.Update {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case u, open := <-ch:
			if !open {
				t.Fatalf("%s: updates closed", what)
			}
			t.Logf("%s: update %v %v %q", what, u.Sub, u.State.Status, u.State.Note)
			if ok(u) {
				return u
			}
		case <-deadline:
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// TestUAPresenceThroughServer: Bob watches Alice with the SDK; he sees
// her Available once she registers, Busy with her note once she
// publishes it, and Offline once she closes (her publication removed) and
// unregisters. Then Alice turns on approval: Carol waits pending until
// Alice approves her through the HTTP API, with her own token.
func TestUAPresenceThroughServer(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "--auth", "bearer")
	for _, u := range []string{"alice", "bob", "carol"} {
		cli(t, dir, p.http, "pw-"+u+"\n", "user", "add", u, "--password-stdin")
	}
	const scope = "sip:presence sip:register"
	aliceTok := accessToken(t, p.http, "alice", scope)
	bobTok := accessToken(t, p.http, "bob", scope)
	carolTok := accessToken(t, p.http, "carol", scope)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice := presencePeer(t, p, "alice", aliceTok)
	bob := presencePeer(t, p, "bob", bobTok)
	if err := alice.Register(ctx, p.udp, ua.WithBearer(aliceTok)); err != nil {
		t.Fatal(err)
	}
	w, err := bob.Watch(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if w.Target() != "sip:alice@localhost" {
		t.Fatalf("target %q", w.Target())
	}
	nextUpdate(t, w.Updates(), "available", func(u ua.Update) bool {
		return u.Sub == ua.SubActive && u.State.Status == pidf.StatusAvailable
	})
	if err := alice.SetPresence(ctx, pidf.StatusBusy, ua.WithNote("in a meeting")); err != nil {
		t.Fatal(err)
	}
	nextUpdate(t, w.Updates(), "busy", func(u ua.Update) bool {
		return u.State.Status == pidf.StatusBusy && u.State.Note == "in a meeting"
	})
	if err := alice.Close(ctx); err != nil { // PUBLISH Expires: 0, then REGISTER Expires: 0
		t.Fatal(err)
	}
	nextUpdate(t, w.Updates(), "offline", func(u ua.Update) bool { return u.State.Status == pidf.StatusOffline })

	t.Run("approve through the API", func(t *testing.T) {
		alice := presencePeer(t, p, "alice", aliceTok)
		carol := presencePeer(t, p, "carol", carolTok)
		if code, body := apiDo(t, "PUT", "http://"+p.http+"/api/v1/presence/alice@localhost/policy", aliceTok, `{"mode":"approve"}`); code != 204 {
			t.Fatalf("PUT policy with alice's token: %d %s", code, body)
		}
		cw, err := carol.Watch(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		nextUpdate(t, cw.Updates(), "pending", func(u ua.Update) bool { return u.Sub == ua.SubPending })
		pend, err := alice.PendingWatchers(ctx)
		if err != nil || !slices.ContainsFunc(pend, func(w ua.PendingWatcher) bool { return w.AOR == "sip:carol@localhost" }) {
			t.Fatalf("pending watchers: %v %v", pend, err) // bob too: the new policy applies to him
		}
		// The same list from watcher information (RFC 3857), without the API.
		noAPI, err := ua.New("sip:alice@localhost", "udp:127.0.0.1:0", zaptest.NewLogger(t).Named("alice-winfo"),
			ua.WithServer(p.udp), ua.WithCredentials(ua.Bearer(aliceTok)))
		if err != nil {
			t.Fatal(err)
		}
		defer noAPI.Close(ctx)
		pend, err = noAPI.PendingWatchers(ctx)
		if err != nil || !slices.ContainsFunc(pend, func(w ua.PendingWatcher) bool { return w.AOR == "sip:carol@localhost" }) {
			t.Fatalf("pending watchers from winfo: %v %v", pend, err)
		}
		if err := noAPI.Approve(ctx, "carol"); !errors.Is(err, ua.ErrNoAPI) {
			t.Fatalf("Approve without the API: %v", err)
		}
		if err := alice.Approve(ctx, "carol"); err != nil {
			t.Fatal(err)
		}
		nextUpdate(t, cw.Updates(), "approved", func(u ua.Update) bool { return u.Sub == ua.SubActive })
	})
}
