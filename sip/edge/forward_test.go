package edge_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
)

// registerContact registers user's contact at c's own address over c.
func registerContact(t *testing.T, c *siptest.Client, network, user string) {
	t.Helper()
	registerAt(t, c, network, user, "sip:"+user+"@"+c.LocalAddr()+";transport="+network)
}

// registerAt registers contact for user over c, with extra header lines.
func registerAt(t *testing.T, c *siptest.Client, network, user, contact string, extra ...string) {
	t.Helper()
	lines := []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/" + strings.ToUpper(network) + " " + c.LocalAddr() + ";branch=z9hG4bK-reg-" + user,
		"From: <sip:" + user + "@localhost>;tag=r",
		"To: <sip:" + user + "@localhost>",
		"Call-ID: reg-" + user,
		"CSeq: 1 REGISTER",
		"Contact: <" + contact + ">",
	}
	res, err := c.Do(siptest.Lines(append(append(lines, extra...), "Content-Length: 0")...), 2*time.Second)
	if err != nil || siptest.Status(res) != 200 {
		t.Fatalf("REGISTER %s: %v\n%s", user, err, res)
	}
}

// optionsFor is an out-of-dialog OPTIONS to sip:user@localhost from c.
func optionsFor(c *siptest.Client, network, user string) []byte {
	return siptest.Lines(
		"OPTIONS sip:"+user+"@localhost SIP/2.0",
		"Via: SIP/2.0/"+strings.ToUpper(network)+" "+c.LocalAddr()+";branch=z9hG4bK-opt-"+user+network+";rport",
		"From: <sip:probe@localhost>;tag=p",
		"To: <sip:"+user+"@localhost>",
		"Call-ID: opt-"+user+network,
		"CSeq: 7 OPTIONS",
		"Accept: application/sdp",
		"Content-Length: 0",
	)
}

// optionsNamed is optionsFor with its own branch and Call-ID, by name, and
// extra header lines; an empty user addresses the server itself.
func optionsNamed(c *siptest.Client, network, user, name string, extra ...string) []byte {
	req := strings.ReplaceAll(string(optionsFor(c, network, user)), "opt-", "opt-"+name+"-")
	if user == "" {
		req = strings.Replace(req, "OPTIONS sip:@localhost", "OPTIONS sip:localhost", 1)
	}
	return []byte(strings.Replace(req, "Accept:", strings.Join(append(extra, "Accept:"), "\r\n"), 1))
}

// reply answers a raw request with status line and extra header lines, as
// a phone would: Via, From, To (with a tag), Call-ID and CSeq copied.
func reply(req, status string, extra ...string) []byte {
	lines := []string{"SIP/2.0 " + status}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		for _, v := range siptest.Header(req, name) {
			if name == "To" {
				v += ";tag=phone"
			}
			lines = append(lines, name+": "+v)
		}
	}
	lines = append(lines, extra...)
	return siptest.Lines(append(lines, "Content-Length: 0")...)
}

// TestForwardOptions: an OPTIONS to a registered user is forwarded to the
// contact, over the transport it registered on, and the contact's answer
// (with its Allow and Accept) goes back to the sender; 480 when the user
// has no contact or it cannot be reached, 408 when it does not answer.
func TestForwardOptions(t *testing.T) {
	const clientTimeout = 300 * time.Millisecond
	s := startServerOpts(t, options{edit: func(c *edge.Config, _ *actors.System, _ *actors.Routers) { c.ClientTimeout = clientTimeout }})
	s.sys.Outbound.Set(s.edge.Port(s.sys.Actors))
	t.Cleanup(func() { s.sys.Outbound.Set(nil) })
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network+"/answered", func(t *testing.T) {
			phone, sender := s.dial(t, network), s.dial(t, network)
			registerContact(t, phone, network, "alice-"+network)
			if err := sender.Send(optionsFor(sender, network, "alice-"+network)); err != nil {
				t.Fatal(err)
			}
			fwd, err := phone.Read(2 * time.Second)
			if err != nil || !strings.HasPrefix(fwd, "OPTIONS sip:alice-"+network+"@"+phone.LocalAddr()) {
				t.Fatalf("phone got: %v\n%s", err, fwd)
			}
			if vias := siptest.Header(fwd, "Via"); len(vias) != 1 || strings.Contains(vias[0], sender.LocalAddr()) {
				t.Fatalf("forwarded with the sender's Via: %v", vias)
			}
			if err := phone.Send(reply(fwd, "200 OK", "Allow: INVITE, ACK, BYE, MESSAGE", "Accept: text/plain", "X-Secret: no")); err != nil {
				t.Fatal(err)
			}
			res, err := sender.Read(2 * time.Second)
			if err != nil || siptest.Status(res) != 200 {
				t.Fatalf("sender got: %v\n%s", err, res)
			}
			allow, accept := siptest.Header(res, "Allow"), siptest.Header(res, "Accept")
			if len(allow) != 1 || allow[0] != "INVITE, ACK, BYE, MESSAGE" || len(accept) != 1 || accept[0] != "text/plain" {
				t.Fatalf("contact's headers not relayed:\n%s", res)
			}
			if len(siptest.Header(res, "X-Secret")) != 0 || siptest.Header(res, "CSeq")[0] != "7 OPTIONS" {
				t.Fatalf("not an answer to the sender's request:\n%s", res)
			}
		})
	}
	t.Run("no contact", func(t *testing.T) {
		c := s.dial(t, "udp")
		if res, err := c.Do(optionsFor(c, "udp", "nobody"), 2*time.Second); err != nil || siptest.Status(res) != 480 {
			t.Fatalf("%v\n%s", err, res)
		}
	})
	t.Run("max-forwards zero", func(t *testing.T) {
		c := s.dial(t, "udp")
		req := strings.Replace(string(optionsFor(c, "udp", "alice-udp")), "Accept:", "Max-Forwards: 0\r\nAccept:", 1)
		if res, err := c.Do([]byte(req), 2*time.Second); err != nil || siptest.Status(res) != 483 {
			t.Fatalf("%v\n%s", err, res)
		}
	})
	t.Run("max-forwards lowered to 70", func(t *testing.T) {
		// RFC 3261 §16.6 step 3: a proxy may lower Max-Forwards; uint32's
		// maximum would otherwise keep a loop going for ever.
		phone, sender := s.dial(t, "udp"), s.dial(t, "udp")
		registerContact(t, phone, "udp", "erin")
		req := strings.Replace(string(optionsFor(sender, "udp", "erin")), "Accept:", "Max-Forwards: 4294967295\r\nAccept:", 1)
		if err := sender.Send([]byte(req)); err != nil {
			t.Fatal(err)
		}
		fwd, err := phone.Read(2 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if mf := siptest.Header(fwd, "Max-Forwards"); len(mf) != 1 || mf[0] != "70" {
			t.Fatalf("forwarded with Max-Forwards %v, want 70:\n%s", mf, fwd)
		}
		if err := phone.Send(reply(fwd, "200 OK")); err != nil {
			t.Fatal(err)
		}
		if res, err := sender.Read(2 * time.Second); err != nil || siptest.Status(res) != 200 {
			t.Fatalf("%v\n%s", err, res)
		}
	})
	t.Run("contact points back at us", func(t *testing.T) {
		// Contact names our own listener: forwarding would come back as a
		// new OPTIONS to the same user, and again, until every slot is
		// taken. RFC 3261 §16.3 step 4: 482.
		phone, sender := s.dial(t, "udp"), s.dial(t, "udp")
		registerAt(t, phone, "udp", "mallory", "sip:mallory@"+s.udp)
		res, err := sender.Do(optionsFor(sender, "udp", "mallory"), 2*time.Second)
		if err != nil || siptest.Status(res) != 482 {
			t.Fatalf("%v\n%s", err, res)
		}
		if fwd, err := phone.Read(200 * time.Millisecond); err == nil {
			t.Fatalf("forwarded all the same:\n%s", fwd)
		}
	})
	t.Run("contact silent", func(t *testing.T) {
		phone, sender := s.dial(t, "udp"), s.dial(t, "udp")
		registerContact(t, phone, "udp", "carol")
		start := time.Now()
		res, err := sender.Do(optionsFor(sender, "udp", "carol"), 5*clientTimeout)
		if err != nil || siptest.Status(res) != 408 {
			t.Fatalf("%v\n%s", err, res)
		}
		if d := time.Since(start); d < clientTimeout {
			t.Fatalf("408 after %v, before the client timeout", d)
		}
	})
	t.Run("contact unreachable", func(t *testing.T) {
		phone, sender := s.dial(t, "tcp"), s.dial(t, "udp")
		registerContact(t, phone, "tcp", "dave")
		_ = phone.Close() // its connection goes, and nothing listens at its address
		time.Sleep(50 * time.Millisecond)
		res, err := sender.Do(optionsFor(sender, "udp", "dave"), 5*clientTimeout)
		// 480, not 503: the contact is out of reach, this server is not
		// (RFC 3261 §16.7 step 6).
		if err != nil || siptest.Status(res) != 480 {
			t.Fatalf("%v\n%s", err, res)
		}
	})
	if n := s.edge.InFlight(); n != 0 {
		t.Fatalf("%d requests in flight", n)
	}
}

// TestForwardBudget: requests forwarded to a contact, which may each wait
// ClientTimeout on it, get a quarter of MaxInFlight. With 4 in flight
// allowed, a second OPTIONS to a user while one waits on its contact is
// answered 503 with Retry-After at once, REGISTER is still served, and
// once the first is answered OPTIONS are forwarded again.
func TestForwardBudget(t *testing.T) {
	s := startServerOpts(t, options{maxInFlight: 4,
		edit: func(c *edge.Config, _ *actors.System, _ *actors.Routers) { c.ClientTimeout = 5 * time.Second }})
	s.sys.Outbound.Set(s.edge.Port(s.sys.Actors))
	t.Cleanup(func() { s.sys.Outbound.Set(nil) })
	phone, first, second := s.dial(t, "udp"), s.dial(t, "udp"), s.dial(t, "udp")
	registerContact(t, phone, "udp", "sink")
	if err := first.Send(optionsNamed(first, "udp", "sink", "first")); err != nil {
		t.Fatal(err)
	}
	fwd, err := phone.Read(2 * time.Second) // the phone holds it
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := second.Do(optionsNamed(second, "udp", "sink", "second"), 2*time.Second)
	if err != nil || siptest.Status(res) != 503 || len(siptest.Header(res, "Retry-After")) != 1 {
		t.Fatalf("OPTIONS past the forwards' budget: %v\n%s", err, res)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("503 after %v: not at once", d)
	}
	if other, err := phone.Read(100 * time.Millisecond); err == nil {
		t.Fatalf("forwarded past the budget:\n%s", other)
	}
	registerContact(t, s.dial(t, "udp"), "udp", "zed") // REGISTER keeps the rest of MaxInFlight
	if n := s.edge.Forwarding(); n != 1 {
		t.Fatalf("%d forwards in flight, want 1", n)
	}
	if err := phone.Send(reply(fwd, "200 OK")); err != nil {
		t.Fatal(err)
	}
	if res, err := first.Read(2 * time.Second); err != nil || siptest.Status(res) != 200 {
		t.Fatalf("first OPTIONS: %v\n%s", err, res)
	}
	if err := second.Send(optionsNamed(second, "udp", "sink", "again")); err != nil {
		t.Fatal(err)
	}
	fwd, err = phone.Read(2 * time.Second)
	if err != nil {
		t.Fatalf("not forwarded once the budget freed: %v", err)
	}
	if err := phone.Send(reply(fwd, "200 OK")); err != nil {
		t.Fatal(err)
	}
	if res, err := second.Read(2 * time.Second); err != nil || siptest.Status(res) != 200 {
		t.Fatalf("OPTIONS after the first was answered: %v\n%s", err, res)
	}
	waitInFlight(t, s.edge, 0)
	if n := s.edge.Forwarding(); n != 0 {
		t.Fatalf("%d forwards in flight after every answer", n)
	}
}

// TestPortAfterClose: a Send on the port of a closed edge gets
// ErrUnavailable at once.
func TestPortAfterClose(t *testing.T) {
	s := startServer(t)
	port := s.edge.Port(s.sys.Actors)
	if err := s.edge.Close(); err != nil {
		t.Fatal(err)
	}
	got := make(chan *outbound.Result, 1)
	pid := s.sys.Actors.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*outbound.Result); ok {
			got <- r
		}
	}))
	t.Cleanup(func() { _ = s.sys.Actors.Root.StopFuture(pid).Wait() })
	port.Send(sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 9}), pid, 42)
	select {
	case r := <-got:
		if r.ID != 42 || !errors.Is(r.Err, outbound.ErrUnavailable) {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no result")
	}
}
