package ua_test

import (
	"context"
	"fmt"
	"time"

	"github.com/b2bua/b2bua/sip/ua"
)

// Two peers, no server: Alice calls Bob, who answers; she holds the call,
// sends a digit, and hangs up.
func Example_call() {
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

	answered := make(chan *ua.Call, 1)
	go func() {
		ic := <-bob.IncomingCalls() // ringing (180) already
		fmt.Println("call from", ic.From)
		c, err := ic.Answer(ctx)
		if err != nil {
			panic(err)
		}
		answered <- c
	}()
	c, err := alice.Call(ctx, "sip:bob@"+bob.Addr())
	if err != nil {
		panic(err)
	}
	b := <-answered
	fmt.Println("in call:", alice.InCall(), bob.InCall())

	_ = c.Hold(ctx)
	fmt.Println("bob held:", b.Held())
	_ = c.Resume(ctx)
	fmt.Println("bob held:", b.Held())

	_ = c.SendDTMF(ctx, "7")
	fmt.Println("bob got:", string(<-b.DTMF()))

	_ = c.Hangup(ctx)
	<-b.Done()
	fmt.Println("in call:", alice.InCall(), bob.InCall())
	// Output:
	// call from sip:alice@example.com
	// in call: true true
	// bob held: true
	// bob held: false
	// bob got: 7
	// in call: false false
}
