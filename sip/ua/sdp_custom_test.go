package ua

import (
	"context"
	"strings"
	"testing"
	"time"
)

// An SRTP offer with a key, as an application with its own media sends it.
const customOffer = "v=0\r\no=- 77 5 IN IP4 127.0.0.1\r\ns=app\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 31000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n" +
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\na=sendrecv\r\n"

const customAnswer = "v=0\r\no=- 88 9 IN IP4 127.0.0.1\r\ns=app\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 32000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n" +
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj\r\n"

// TestCallWithSDP: the offer and answer of WithSDP cross as given, each
// side's RemoteSDP is the other's, and Hold re-offers the application's
// description (its port and key) with a=sendonly and the next o= version.
func TestCallWithSDP(t *testing.T) {
	noLeaks(t)
	a, b := callPeers(t, "udp")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type result struct {
		c   *Call
		err error
	}
	placed := make(chan result, 1)
	go func() {
		c, err := a.Call(ctx, uri(b), WithSDP([]byte(customOffer)))
		placed <- result{c, err}
	}()
	ic := incoming(t, ctx, b)
	if string(ic.Offer) != customOffer {
		t.Fatalf("offer %q", ic.Offer)
	}
	cb, err := ic.Answer(ctx, WithSDP([]byte(customAnswer)))
	if err != nil {
		t.Fatal(err)
	}
	r := <-placed
	if r.err != nil {
		t.Fatal(r.err)
	}
	ca := r.c
	if got := string(ca.RemoteSDP()); got != customAnswer {
		t.Fatalf("caller's RemoteSDP %q", got)
	}
	if got := string(cb.RemoteSDP()); got != customOffer {
		t.Fatalf("callee's RemoteSDP %q", got)
	}
	if err := ca.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	held := string(cb.RemoteSDP())
	for _, want := range []string{"o=- 77 6 IN IP4", "m=audio 31000 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNf", "a=sendonly"} {
		if !strings.Contains(held, want) {
			t.Fatalf("hold offer without %q:\n%s", want, held)
		}
	}
	if strings.Contains(held, "a=sendrecv") {
		t.Fatalf("hold offer still sendrecv:\n%s", held)
	}
	answer := string(ca.RemoteSDP())
	for _, want := range []string{"o=- 88 10 IN IP4", "m=audio 32000 RTP/SAVP 0", "inline:d0Rm", "a=recvonly"} {
		if !strings.Contains(answer, want) {
			t.Fatalf("hold answer without %q:\n%s", want, answer)
		}
	}
	if !cb.Held() {
		t.Fatal("the callee does not know it is held")
	}
	if err := ca.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	ended(t, ctx, cb)
}
