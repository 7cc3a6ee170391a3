package edge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/sip/siptest"
)

// inDialog is a request within the dialog (callID, To tag "ours", From tag
// "theirs") sent from c.
func inDialog(c *siptest.Client, network, method, callID, branch string) []byte {
	return siptest.Lines(
		method+" sip:bob@localhost SIP/2.0",
		"Via: SIP/2.0/"+strings.ToUpper(network)+" "+c.LocalAddr()+";branch=z9hG4bK-"+branch,
		"From: <sip:alice@localhost>;tag=theirs",
		"To: <sip:bob@localhost>;tag=ours",
		"Call-ID: "+callID,
		"CSeq: 2 "+method,
		"Content-Length: 0",
	)
}

// TestDialogRouting registers a dialog for a test actor and sends it
// in-dialog requests over UDP and TCP: each reaches the actor and its
// answer comes back; an ACK reaches it and gets no response; a request for
// a dialog nobody owns gets 481.
func TestDialogRouting(t *testing.T) {
	s := startServer(t)
	acks := make(chan *dialog.Request, 4)
	owner := s.sys.Actors.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		m, ok := c.Message().(*dialog.Request)
		switch {
		case !ok:
		case m.Reply == nil:
			acks <- m
		default:
			m.Reply(&dialog.Reply{Code: 200, Headers: []sip.Header{sip.NewHeader("X-Owner", "test-"+string(m.Request.Method))}})
		}
	}))
	t.Cleanup(func() { _ = s.sys.Actors.Root.StopFuture(owner).Wait() })
	for _, network := range []string{"udp", "tcp"} {
		callID := "dlg-" + network
		id := dialog.ID{CallID: callID, LocalTag: "ours", RemoteTag: "theirs"}
		if err := s.sys.Routers.Dialogs.Add(id, owner); err != nil {
			t.Fatal(err)
		}
		c := s.dial(t, network)
		tests := []struct {
			method, callID string
			want           int
			owner          string
		}{
			{"INFO", callID, 200, "test-INFO"},
			{"BYE", callID, 200, "test-BYE"},
			{"OPTIONS", callID, 200, "test-OPTIONS"}, // in-dialog: not the stateless path
			{"INFO", "no-such-dialog", 481, ""},
			{"BYE", "no-such-dialog", 481, ""},
		}
		for i, tc := range tests {
			t.Run(fmt.Sprintf("%s/%s/%s", network, tc.method, tc.callID), func(t *testing.T) {
				res, err := c.Do(inDialog(c, network, tc.method, tc.callID, fmt.Sprintf("d%d%s", i, network)), 2*time.Second)
				if err != nil || siptest.Status(res) != tc.want {
					t.Fatalf("%v\n%s", err, res)
				}
				if got := siptest.Header(res, "X-Owner"); tc.owner != "" && (len(got) != 1 || got[0] != tc.owner) {
					t.Fatalf("answer not from the owner:\n%s", res)
				}
			})
		}
		if err := c.Send(inDialog(c, network, "ACK", callID, "ack"+network)); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-acks:
			if m.ID != id || !m.Request.IsAck() {
				t.Fatalf("%s: owner got %+v", network, m.ID)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: ACK did not reach the owner", network)
		}
		if res, err := c.Read(200 * time.Millisecond); err == nil {
			t.Fatalf("%s: ACK answered:\n%s", network, res)
		}
		s.sys.Routers.Dialogs.Remove(id, owner)
	}
	if n := s.edge.InFlight(); n != 0 {
		t.Fatalf("%d requests in flight", n)
	}
}
