package ua

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap/zaptest"

	"github.com/b2bua/b2bua/pidf"
)

// publishSeen is one PUBLISH as the fake server saw it.
type publishSeen struct {
	ifMatch, expires string
	body             string
}

// fakePresenceServer is a tiny PUBLISH server: answer decides each
// response from the requests seen so far (the new one last).
type fakePresenceServer struct {
	addr string
	mu   sync.Mutex
	seen []publishSeen
}

func startFakePresenceServer(t *testing.T, answer func(seen []publishSeen) (code int, hdrs map[string]string)) *fakePresenceServer {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("fake-presence"))
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
	f := &fakePresenceServer{addr: pc.LocalAddr().String()}
	srv.OnPublish(func(req *sip.Request, tx sip.ServerTransaction) {
		f.mu.Lock()
		f.seen = append(f.seen, publishSeen{ifMatch: headerValue(req, "SIP-If-Match"), expires: headerValue(req, "Expires"), body: string(req.Body())})
		code, hdrs := answer(f.seen)
		f.mu.Unlock()
		res := sip.NewResponseFromRequest(req, code, "Answer", nil)
		for k, v := range hdrs {
			res.AppendHeader(sip.NewHeader(k, v))
		}
		_ = tx.Respond(res)
	})
	go func() { _ = srv.ServeUDP(pc) }()
	t.Cleanup(func() { _ = srv.Close(); _ = pc.Close(); _ = ua.Close() })
	return f
}

func (f *fakePresenceServer) requests() []publishSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]publishSeen(nil), f.seen...)
}

// TestPublishLifecycle: 423 raises the expiry to Min-Expires; the
// publication is refreshed (SIP-If-Match, no body) before it expires; a
// 412 starts a fresh publication; a new status modifies it with the
// latest ETag; Close removes it (Expires: 0).
func TestPublishLifecycle(t *testing.T) {
	f := startFakePresenceServer(t, func(seen []publishSeen) (int, map[string]string) {
		switch n := len(seen); {
		case n == 1:
			return 423, map[string]string{"Min-Expires": "2"}
		case n == 3:
			return 412, nil
		default:
			return 200, map[string]string{"SIP-ETag": "e" + itoa(n), "Expires": "2"}
		}
	})
	ctx := testCtx(t)
	alice, err := New("sip:alice@example.com", "udp:127.0.0.1:0", zaptest.NewLogger(t), WithServer(f.addr), WithPublishExpires(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close(ctx)
	if err := alice.SetPresence(ctx, pidf.StatusAvailable); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "refresh, 412 and a fresh publication", func() bool { return len(f.requests()) >= 4 })
	if err := alice.SetPresence(ctx, pidf.StatusBusy, WithNote("on a call")); err != nil {
		t.Fatal(err)
	}
	if err := alice.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := f.requests()
	want := []struct {
		ifMatch, expires string
		body             bool
	}{
		{"", "1", true},    // initial: 423
		{"", "2", true},    // again with Min-Expires: 200 e2
		{"e2", "2", false}, // refresh: 412
		{"", "2", true},    // fresh initial: 200 e4
		{"e4", "2", true},  // modify: 200 e5
		{"e5", "0", false}, // removal at Close
	}
	if len(got) != len(want) {
		t.Fatalf("%d PUBLISHes, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.ifMatch != w.ifMatch || g.expires != w.expires || (g.body != "") != w.body {
			t.Errorf("PUBLISH %d: %+v, want %+v", i+1, g, w)
		}
	}
	if !strings.Contains(got[4].body, "on a call") {
		t.Errorf("modify body %s", got[4].body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
