package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/sip/siptest"
)

// phone is a sipgo user agent on loopback that registers a contact for a
// user and answers OPTIONS with 200 and the capabilities it sets.
type phone struct {
	ua   *sipgo.UserAgent
	conn net.PacketConn
}

func startPhone(t *testing.T, user, server string) *phone {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(user))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, BYE, OPTIONS, MESSAGE"))
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp, text/plain"))
		_ = tx.Respond(res)
	})
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &phone{ua: ua, conn: conn}
	go func() { _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() { _ = ua.Close(); _ = conn.Close() })
	// The client sends from conn once the transport serves it; before
	// that it would try to bind the same address again.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c, _ := ua.TransportLayer().GetConnection("udp", conn.LocalAddr().String()); c != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("phone not serving")
		}
	}

	// REGISTER from the socket it answers on, as a phone does.
	client, err := sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(conn.LocalAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	aor := sip.Uri{Scheme: "sip", User: user, Host: "localhost"}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "localhost"})
	req.SetDestination(server)
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", "ph")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: conn.LocalAddr().(*net.UDPAddr).Port}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER %s: %v %v", user, err, res)
	}
	return p
}

// options sends an OPTIONS for sip:user@localhost from a raw client and
// returns the answer.
func optionsTo(t *testing.T, server, user string) string {
	t.Helper()
	c, err := siptest.Dial("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Do(siptest.Lines(
		"OPTIONS sip:"+userAt(user)+"localhost SIP/2.0",
		"Via: SIP/2.0/UDP "+c.LocalAddr()+";branch=z9hG4bK-it-"+user+";rport",
		"From: <sip:probe@localhost>;tag=it",
		"To: <sip:"+user+"@localhost>",
		"Call-ID: it-options-"+user,
		"CSeq: 1 OPTIONS",
		"Content-Length: 0",
	), 5*time.Second)
	if err != nil {
		t.Fatalf("OPTIONS %s: %v", user, err)
	}
	return res
}

// TestOptionsToUserIsForwarded runs the real binary: an OPTIONS to a
// registered user gets the contact's own answer, 480 when the user has no
// contact, and 408 when the contact never answers (--client-timeout).
func TestOptionsToUserIsForwarded(t *testing.T) {
	p := start(t, t.TempDir(), "--client-timeout", "300ms")
	startPhone(t, "alice", p.udp)
	t.Run("answered", func(t *testing.T) {
		res := optionsTo(t, p.udp, "alice")
		if siptest.Status(res) != 200 || !strings.Contains(strings.Join(siptest.Header(res, "Accept"), ","), "text/plain") ||
			!strings.Contains(strings.Join(siptest.Header(res, "Allow"), ","), "MESSAGE") {
			t.Fatalf("not the phone's answer:\n%s", res)
		}
	})
	t.Run("no contact", func(t *testing.T) {
		if res := optionsTo(t, p.udp, "nobody"); siptest.Status(res) != 480 {
			t.Fatalf("want 480:\n%s", res)
		}
	})
	t.Run("contact silent", func(t *testing.T) {
		silent, err := siptest.Dial("udp", p.udp) // registers, then never answers
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		res, err := silent.Do(siptest.Lines(
			"REGISTER sip:localhost SIP/2.0",
			"Via: SIP/2.0/UDP "+silent.LocalAddr()+";branch=z9hG4bK-it-carol",
			"From: <sip:carol@localhost>;tag=c",
			"To: <sip:carol@localhost>",
			"Call-ID: it-carol",
			"CSeq: 1 REGISTER",
			"Contact: <sip:carol@"+silent.LocalAddr()+">",
			"Content-Length: 0",
		), 3*time.Second)
		if err != nil || siptest.Status(res) != 200 {
			t.Fatalf("REGISTER carol: %v\n%s", err, res)
		}
		if res := optionsTo(t, p.udp, "carol"); siptest.Status(res) != 408 {
			t.Fatalf("want 408:\n%s", res)
		}
	})
	t.Run("server itself", func(t *testing.T) {
		if res := optionsTo(t, p.udp, ""); siptest.Status(res) != 200 || len(siptest.Header(res, "Allow")) != 1 {
			t.Fatalf("OPTIONS to the server:\n%s", res)
		}
	})
}

func userAt(user string) string {
	if user == "" {
		return ""
	}
	return user + "@"
}
