package ua

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

// TestOptionsBetweenPeers: two peers on each transport reach each other
// directly, and Close leaves nothing running.
func TestOptionsBetweenPeers(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a, err := New("sip:alice@example.com", network+":127.0.0.1:0", zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close(ctx)
			b, err := New("sip:bob@example.com", network+":127.0.0.1:0", zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close(ctx)
			to, err := a.target("sip:bob@" + b.Addr())
			if err != nil {
				t.Fatal(err)
			}
			req := a.newRequest(sip.OPTIONS, to)
			res, err := a.send(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != 200 || res.GetHeader("Allow") == nil {
				t.Fatalf("got %d, Allow %v", res.StatusCode, res.GetHeader("Allow"))
			}
		})
	}
}

func TestTarget(t *testing.T) {
	p := &Peer{aor: sip.Uri{Scheme: "sip", User: "alice", Host: "example.com"}}
	for in, want := range map[string]string{
		"bob":                    "sip:bob@example.com",
		"bob@other.org":          "sip:bob@other.org",
		"sip:bob@127.0.0.1:5070": "sip:bob@127.0.0.1:5070",
	} {
		u, err := p.target(in)
		if err != nil || u.String() != want {
			t.Errorf("target(%q) = %v, %v; want %s", in, u.String(), err, want)
		}
	}
	for _, bad := range []string{"", "sip:"} {
		if _, err := p.target(bad); err == nil {
			t.Errorf("target(%q): no error", bad)
		}
	}
}

// TestContactOnEveryAddress: a peer listening on 0.0.0.0 puts the address
// it reaches its server from in its Contact, not 0.0.0.0.
func TestContactOnEveryAddress(t *testing.T) {
	p, err := New("sip:alice@example.com", "udp:0.0.0.0:0", zaptest.NewLogger(t), WithServer("127.0.0.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if got := p.contact().Address.Host; got != "127.0.0.1" {
		t.Fatalf("contact host %q, want 127.0.0.1", got)
	}
}
