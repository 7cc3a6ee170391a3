package messaging

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
)

const sentDate = "Mon, 30 Nov 2026 10:00:00 GMT"

// TestDeliverOrStore: a MESSAGE to an online user is forked to its
// contacts and the first 2xx answers it; to stale contacts, or to nobody,
// it is stored (202); every contact refusing gives the best refusal.
func TestDeliverOrStore(t *testing.T) {
	cases := []struct {
		name    string
		hosts   map[string]int // contact host → its answer (0 silent, -1 transport error)
		want    Outcome
		code    int // Refused: the status relayed
		stored  int
		forked  int
		wantErr error
	}{
		{name: "offline: stored", want: Stored, stored: 1},
		{name: "one contact answers 200", hosts: map[string]int{"a.test": 200}, want: Delivered, forked: 1},
		{name: "first 2xx wins over a refusal and a silent one", hosts: map[string]int{"a.test": 486, "b.test": 200, "c.test": 0}, want: Delivered, forked: 3},
		{name: "202 of a contact is a 2xx", hosts: map[string]int{"a.test": 202}, want: Delivered, forked: 1},
		{name: "all silent: stored", hosts: map[string]int{"a.test": 0, "b.test": 0}, want: Stored, stored: 1, forked: 2},
		{name: "transport error and silence: stored", hosts: map[string]int{"a.test": -1, "b.test": 0}, want: Stored, stored: 1, forked: 2},
		{name: "6xx beats 4xx", hosts: map[string]int{"a.test": 486, "b.test": 603}, want: Refused, code: 603, forked: 2},
		{name: "lowest class", hosts: map[string]int{"a.test": 500, "b.test": 415}, want: Refused, code: 415, forked: 2},
		{name: "a refusal beats silence", hosts: map[string]int{"a.test": 0, "b.test": 480}, want: Refused, code: 480, forked: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			defer s.Close()
			h := run(t, s, testConfig(), nil)
			defer h.stop()
			var hosts []string
			for host, code := range tc.hosts {
				hosts = append(hosts, host)
				h.port.set(host, code)
			}
			h.users.online(bob, hosts...)
			r := h.send(msg(bob, "hello", sentDate))
			if r.Err != nil || r.Outcome != tc.want {
				t.Fatalf("result %+v, want outcome %d", r, tc.want)
			}
			if tc.want == Refused && r.Response.StatusCode != tc.code {
				t.Fatalf("relayed %d, want %d", r.Response.StatusCode, tc.code)
			}
			if got := len(h.stored(bob)); got != tc.stored {
				t.Fatalf("%d stored, want %d", got, tc.stored)
			}
			if got := h.port.count(); got != tc.forked {
				t.Fatalf("%d forks, want %d", got, tc.forked)
			}
		})
	}
}

// TestRelayedCopy: the copy a contact gets carries the sender's From
// (display name and tag), To, Call-ID, CSeq, Date, Content-Type and body,
// with the contact as Request-URI.
func TestRelayedCopy(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := run(t, s, testConfig(), nil)
	defer h.stop()
	h.users.online(bob, "a.test")
	m := msg(bob, "hello bob", sentDate)
	m.ContentType = "message/cpim"
	if r := h.send(m); r.Outcome != Delivered {
		t.Fatalf("%+v", r)
	}
	req := h.port.requests(t, 1)[0]
	tag, _ := req.From().Params.Get("tag")
	switch {
	case req.Method != sip.MESSAGE, req.Recipient.String() != "sip:u@a.test:5070":
		t.Fatalf("request line %s %s", req.Method, req.Recipient.String())
	case req.From().DisplayName != "Carol" || req.From().Address.String() != "sip:carol@example.com" || tag == "":
		t.Fatalf("From %q", req.From().Value())
	case req.To().Address.String() != bob, req.CallID().Value() != m.CallID, req.CSeq().SeqNo != m.CSeq:
		t.Fatalf("To/Call-ID/CSeq %q %q %d", req.To().Value(), req.CallID().Value(), req.CSeq().SeqNo)
	case header(req, "Date") != sentDate, header(req, "Content-Type") != "message/cpim", string(req.Body()) != "hello bob":
		t.Fatalf("Date %q, Content-Type %q, body %q", header(req, "Date"), header(req, "Content-Type"), req.Body())
	}
}

// TestStoredDeliveredOnRegistration: stored messages go out when the
// user registers, in arrival order, one at a time, each with its
// original Date (one added when the sender sent none), and leave the
// store only after a 2xx.
func TestStoredDeliveredOnRegistration(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := run(t, s, testConfig(), nil)
	defer h.stop()
	before := time.Now().UTC().Truncate(time.Second)
	for i, date := range []string{sentDate, "", ""} {
		if r := h.send(msg(bob, "m"+string(rune('0'+i)), date)); r.Outcome != Stored {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
	if got := len(h.stored(bob)); got != 3 {
		t.Fatalf("%d stored, want 3", got)
	}
	h.port.mu.Lock()
	h.port.hold = true
	h.port.mu.Unlock()
	contacts := h.users.online(bob, "a.test")
	h.router.RegistrationChanged(&RegistrationChanged{AOR: bob, Contacts: contacts})
	for i := range 3 {
		reqs := h.port.requests(t, i+1)
		time.Sleep(20 * time.Millisecond)
		if got := h.port.count(); got != i+1 {
			t.Fatalf("%d sent before message %d was answered: one at a time", got, i)
		}
		req := reqs[i]
		if want := "m" + string(rune('0'+i)); string(req.Body()) != want {
			t.Fatalf("delivery %d is %q, want %q: arrival order", i, req.Body(), want)
		}
		date := header(req, "Date")
		if i == 0 && date != sentDate {
			t.Fatalf("Date %q, want the original %q", date, sentDate)
		}
		if d, err := time.Parse(time.RFC1123, date); i > 0 && (err != nil || d.Before(before)) {
			t.Fatalf("Date %q added at storing: %v", date, err)
		}
		if got := len(h.stored(bob)); got != 3-i {
			t.Fatalf("%d stored while delivery %d is unanswered, want %d", got, i, 3-i)
		}
		h.port.release()
	}
	eventually(t, "the box is emptied", func() bool { return len(h.stored(bob)) == 0 })
}

// TestFailedDeliveryKeepsStored: a stored message a contact refuses (or
// does not answer) stays stored for the next registration.
func TestFailedDeliveryKeepsStored(t *testing.T) {
	for _, code := range []int{480, 0} {
		s := openStore(t, t.TempDir())
		h := run(t, s, testConfig(), nil)
		if r := h.send(msg(bob, "x", "")); r.Outcome != Stored {
			t.Fatalf("%+v", r)
		}
		h.port.set("a.test", code)
		h.router.RegistrationChanged(&RegistrationChanged{AOR: bob, Contacts: h.users.online(bob, "a.test")})
		h.port.requests(t, 1)
		time.Sleep(300 * time.Millisecond) // past the delivery timeout
		if got := len(h.stored(bob)); got != 1 {
			t.Fatalf("answer %d: %d stored, want 1", code, got)
		}
		h.port.set("a.test", 200)
		h.router.RegistrationChanged(&RegistrationChanged{AOR: bob, Contacts: h.users.online(bob, "a.test")})
		eventually(t, "delivered at the next registration", func() bool { return len(h.stored(bob)) == 0 })
		h.stop()
		s.Close()
	}
}

// TestLimits: unknown users, bodies, the box's cap.
func TestLimits(t *testing.T) {
	c := testConfig()
	c.MaxStored, c.MaxBody = 2, 16
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := run(t, s, c, nil)
	defer h.stop()
	cases := []struct {
		name string
		m    *Message
		want error
	}{
		{"unknown user", msg("sip:nobody@example.com", "x", ""), ErrUnknownUser},
		{"body too large", msg(bob, strings.Repeat("x", 17), ""), ErrTooLarge},
		{"no body", msg(bob, "", ""), ErrNoBody},
		{"first stored", msg(bob, "1", ""), nil},
		{"second stored", msg(bob, "2", ""), nil},
		{"past the cap", msg(bob, "3", ""), ErrMailboxFull},
		{"another box has room", msg(alice, "1", ""), nil},
	}
	for _, tc := range cases {
		r := h.send(tc.m)
		if !errors.Is(r.Err, tc.want) || (tc.want == nil && r.Outcome != Stored) {
			t.Errorf("%s: %+v, want %v", tc.name, r, tc.want)
		}
	}
}

// TestExpiry: a stored message past Expiry is deleted, never delivered.
func TestExpiry(t *testing.T) {
	c := testConfig()
	c.Expiry = 300 * time.Millisecond
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := run(t, s, c, nil)
	defer h.stop()
	if r := h.send(msg(bob, "old", "")); r.Outcome != Stored {
		t.Fatalf("%+v", r)
	}
	eventually(t, "the expired message is deleted", func() bool { return len(h.stored(bob)) == 0 })
	h.router.RegistrationChanged(&RegistrationChanged{AOR: bob, Contacts: h.users.online(bob, "a.test")})
	time.Sleep(100 * time.Millisecond)
	if n := h.port.count(); n != 0 {
		t.Fatalf("%d deliveries of an expired message", n)
	}
}

// TestRestartFromStore: what was answered 202 survives the actors and
// the store being closed and opened again, and is delivered afterwards.
func TestRestartFromStore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	h := run(t, s, testConfig(), nil)
	for _, b := range []string{"first", "second"} {
		if r := h.send(msg(bob, b, "")); r.Outcome != Stored {
			t.Fatalf("%+v", r)
		}
	}
	h.stop()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	h = run(t, s, testConfig(), nil)
	defer h.stop()
	if got := len(h.stored(bob)); got != 2 {
		t.Fatalf("%d stored after restart, want 2", got)
	}
	h.router.RegistrationChanged(&RegistrationChanged{AOR: bob, Contacts: h.users.online(bob, "a.test")})
	reqs := h.port.requests(t, 2)
	if string(reqs[0].Body()) != "first" || string(reqs[1].Body()) != "second" {
		t.Fatalf("delivered %q then %q", reqs[0].Body(), reqs[1].Body())
	}
	eventually(t, "the box is emptied", func() bool { return len(h.stored(bob)) == 0 })
}

// TestNewMessageQueuesBehindStored: while messages are stored, a new one
// joins them (202), so the user gets them in arrival order.
func TestNewMessageQueuesBehindStored(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := run(t, s, testConfig(), nil)
	defer h.stop()
	h.port.set("a.test", 0) // online but stale
	h.users.online(bob, "a.test")
	if r := h.send(msg(bob, "one", "")); r.Outcome != Stored {
		t.Fatalf("%+v", r)
	}
	h.port.set("a.test", 200)
	if r := h.send(msg(bob, "two", "")); r.Outcome != Stored {
		t.Fatalf("%+v", r)
	}
	eventually(t, "both delivered", func() bool { return len(h.stored(bob)) == 0 })
	reqs := h.port.requests(t, 3)
	if string(reqs[1].Body()) != "one" || string(reqs[2].Body()) != "two" {
		t.Fatalf("delivered %q then %q", reqs[1].Body(), reqs[2].Body())
	}
}

func TestBest(t *testing.T) {
	rs := func(codes ...int) []*sip.Response {
		var out []*sip.Response
		for _, c := range codes {
			out = append(out, sip.NewResponse(c, ""))
		}
		return out
	}
	for _, tc := range []struct {
		codes []int
		want  int
	}{{nil, 0}, {[]int{486}, 486}, {[]int{486, 603}, 603}, {[]int{603, 600}, 603}, {[]int{500, 404}, 404}, {[]int{404, 415}, 404}, {[]int{302, 404}, 302}} {
		got := outbound.Best(rs(tc.codes...))
		if (got == nil && tc.want != 0) || (got != nil && got.StatusCode != tc.want) {
			t.Errorf("Best(%v) = %v, want %d", tc.codes, got, tc.want)
		}
	}
}

// TestKnownByContactsOrOnceRegistered: an AOR the directory does not know
// still gets its MESSAGEs while it has contacts; with none, it is known
// only once Registered saw its last contact go (what the registrar's hook
// does), and then its MESSAGEs are stored.
func TestKnownByContactsOrOnceRegistered(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	carol := "sip:carol@example.com"
	seen := NewRegistered(s, zap.NewNop())
	u := &users{known: map[string]bool{}, contacts: map[string][]Contact{}}
	h := runWith(t, s, testConfig(), u, AnyOf{u, seen})
	defer h.stop()
	if r := h.send(msg(carol, "nobody yet", "")); !errors.Is(r.Err, ErrUnknownUser) {
		t.Fatalf("never registered: %+v, want 404", r)
	}
	u.online(carol, "a.test")
	if r := h.send(msg(carol, "online", "")); r.Outcome != Delivered {
		t.Fatalf("with a contact: %+v, want delivered", r)
	}
	u.mu.Lock()
	delete(u.contacts, carol)
	u.mu.Unlock()
	seen.Saw(carol)
	eventually(t, "the AOR is recorded", func() bool { return seen.Known(carol) })
	if r := h.send(msg(carol, "later", "")); r.Outcome != Stored {
		t.Fatalf("once registered, no contact: %+v, want stored", r)
	}
}
