package ua_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/sip/ua"
)

// exampleRegistrar starts a registrar on loopback UDP that grants every
// REGISTER what it asks, and returns its address and how to stop it.
func exampleRegistrar() (string, func()) {
	s, _ := sipgo.NewUA()
	srv, _ := sipgo.NewServer(s)
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(req.Contact().Clone())
		_ = tx.Respond(res)
	})
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	go func() { _ = srv.ServeUDP(pc) }()
	return pc.LocalAddr().String(), func() { _ = srv.Close(); _ = pc.Close(); _ = s.Close() }
}

// A peer registers, and the registration's states arrive on RegEvents;
// Close unregisters.
func ExamplePeer_Register() {
	registrar, stop := exampleRegistrar()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	alice, err := ua.New("sip:alice@example.com", "udp:127.0.0.1:0", zap.NewNop())
	if err != nil {
		fmt.Println(err)
		return
	}
	// With the server's OAuth endpoint: ua.WithTokenSource(ua.PasswordGrant(
	// "http://server:8080/oauth/token", "sipua", "alice", password)).
	if err := alice.Register(ctx, registrar, ua.WithExpires(10*time.Minute)); err != nil {
		fmt.Println(err)
		return
	}
	for ev := range alice.RegEvents() {
		fmt.Println(ev.State, ev.Expires)
		if ev.State == ua.Registered {
			break
		}
	}
	_ = alice.Close(ctx)
	fmt.Println((<-alice.RegEvents()).State)
	// Output:
	// registering 0s
	// registered 10m0s
	// unregistered
}

// Two peers without a server send each other a MESSAGE directly.
func ExamplePeer_SendMessage() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice, err := ua.New("sip:alice@example.com", "udp:127.0.0.1:0", zap.NewNop())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer alice.Close(ctx)
	bob, err := ua.New("sip:bob@example.com", "udp:127.0.0.1:0", zap.NewNop())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bob.Close(ctx)

	if err := alice.SendMessage(ctx, "sip:bob@"+bob.Addr(), "lunch at noon?"); err != nil {
		fmt.Println(err)
		return
	}
	m := <-bob.Messages()
	fmt.Printf("%s from %s (%s)\n", m.Text(), m.From, m.ContentType)
	// Output:
	// lunch at noon? from sip:alice@example.com (text/plain;charset=UTF-8)
}
