package ua_test

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/sip/ua"
)

// Two peers, no server: Bob watches Alice directly and sees her change.
func Example_peerToPeer() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice, err := ua.New("sip:alice@example.com", "udp:127.0.0.1:0", nil)
	if err != nil {
		panic(err)
	}
	defer alice.Close(ctx)
	bob, err := ua.New("sip:bob@example.com", "udp:127.0.0.1:0", nil)
	if err != nil {
		panic(err)
	}
	defer bob.Close(ctx)

	w, err := bob.Watch(ctx, "sip:alice@"+alice.Addr())
	if err != nil {
		panic(err)
	}
	u := <-w.Updates()
	fmt.Println(u.Sub, u.State.Status)

	_ = alice.SetPresence(ctx, pidf.StatusBusy, ua.WithNote("in a meeting"))
	u = <-w.Updates()
	fmt.Println(u.Sub, u.State.Status, u.State.Note)

	_ = w.Stop(ctx)
	// Output:
	// active available
	// active busy in a meeting
}

// A buddy list merges the updates of every buddy into one channel, and
// keeps the latest of each.
func Example_buddyList() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	me, _ := ua.New("sip:me@example.com", "udp:127.0.0.1:0", nil)
	defer me.Close(ctx)
	alice, _ := ua.New("sip:alice@example.com", "udp:127.0.0.1:0", nil)
	defer alice.Close(ctx)
	carol, _ := ua.New("sip:carol@example.com", "udp:127.0.0.1:0", nil)
	defer carol.Close(ctx)
	_ = carol.SetPresence(ctx, pidf.StatusAway)

	buddies := me.NewBuddyList()
	for _, target := range []string{"sip:alice@" + alice.Addr(), "sip:carol@" + carol.Addr()} {
		if err := buddies.Add(ctx, target); err != nil {
			panic(err)
		}
	}
	for len(buddies.Snapshot()) < 2 {
		<-buddies.Events()
	}
	snap := buddies.Snapshot()
	var lines []string
	for target, u := range snap {
		name := "alice"
		if target == "sip:carol@"+carol.Addr() {
			name = "carol"
		}
		lines = append(lines, fmt.Sprint(name, " ", u.State.Status))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// alice available
	// carol away
}

// Through the server: log in with OAuth (the password grant at the
// server's token endpoint), register, publish and watch. The token source
// refreshes the token before it expires; Approve and Block use the
// server's HTTP API with the same token. It needs a running server, so
// it has no output to check.
func Example_serverWithOAuth() {
	ctx := context.Background()
	src := ua.PasswordGrant("http://127.0.0.1:8080/oauth/token", "sipua", "alice", "s3cret")
	alice, err := ua.New("sip:alice@localhost", "udp:0.0.0.0:5070", nil,
		ua.WithCredentials(ua.Tokens(src)), ua.WithAPI("http://127.0.0.1:8080"))
	if err != nil {
		panic(err)
	}
	defer alice.Close(ctx)
	if err := alice.Register(ctx, "127.0.0.1:5060", ua.WithTokenSource(src)); err != nil {
		panic(err)
	}
	_ = alice.SetPresence(ctx, pidf.StatusAvailable, ua.WithNote("at my desk"))
	w, err := alice.Watch(ctx, "bob")
	if err != nil {
		panic(err)
	}
	for u := range w.Updates() {
		fmt.Println(u.Target, u.State.Status, u.State.Note)
	}
	pending, _ := alice.PendingWatchers(ctx)
	for _, p := range pending {
		_ = alice.Approve(ctx, p.AOR)
	}
}
