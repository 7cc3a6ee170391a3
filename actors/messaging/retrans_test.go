package messaging

import (
	"errors"
	"testing"
	"time"
)

// copyOf is a retransmission of m: the same request, a new datagram.
func copyOf(m *Message) *Message {
	return &Message{AOR: m.AOR, From: m.From, To: m.To, CallID: m.CallID, CSeq: m.CSeq, Branch: m.Branch,
		Date: m.Date, ContentType: m.ContentType, Body: append([]byte(nil), m.Body...), Hops: m.Hops}
}

func withBranch(m *Message, branch string) *Message {
	m.Branch = branch
	return m
}

// TestRetransmissionWhilePending: a copy of a MESSAGE being delivered is
// not forked again; it gets ErrInProgress, with Trying (the edge's 100)
// only on the first copy past tryingAfter, and the original its answer
// once the contact took it.
func TestRetransmissionWhilePending(t *testing.T) {
	c := testConfig()
	c.DeliveryTimeout = 5 * time.Second
	c.tryingAfter = 100 * time.Millisecond
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := run(t, s, c, nil)
	defer h.stop()
	h.users.online(bob, "a.test")
	h.port.mu.Lock()
	h.port.hold = true
	h.port.mu.Unlock()
	m := withBranch(msg(bob, "hello", sentDate), "z9hG4bK-p1")
	orig := make(chan *Result, 1)
	m.Reply = func(r *Result) { orig <- r }
	h.router.Message(m)
	h.port.requests(t, 1)
	early := h.send(copyOf(m))
	if !errors.Is(early.Err, ErrInProgress) || early.Trying {
		t.Fatalf("early copy: %+v, want ErrInProgress without Trying (RFC 4320 §4.1)", early)
	}
	time.Sleep(150 * time.Millisecond)
	first := h.send(copyOf(m))
	if !errors.Is(first.Err, ErrInProgress) || !first.Trying {
		t.Fatalf("first late copy: %+v, want ErrInProgress with Trying", first)
	}
	second := h.send(copyOf(m))
	if !errors.Is(second.Err, ErrInProgress) || second.Trying {
		t.Fatalf("second late copy: %+v, want ErrInProgress without Trying", second)
	}
	other := copyOf(m)
	other.Branch = "z9hG4bK-other" // a new transaction, not a copy
	other.Reply = func(*Result) {}
	h.router.Message(other)
	h.port.requests(t, 2)
	h.port.release()
	select {
	case r := <-orig:
		if r.Err != nil || r.Outcome != Delivered {
			t.Fatalf("original: %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to the original")
	}
	if n := h.port.count(); n != 2 {
		t.Fatalf("%d forks, want 2 (the original and the other branch)", n)
	}
	if got := len(h.stored(bob)); got != 0 {
		t.Fatalf("%d stored", got)
	}
}

// TestRetransmissionAfterAnswer: a copy of an answered MESSAGE gets the
// same answer again, without forking or storing again.
func TestRetransmissionAfterAnswer(t *testing.T) {
	cases := []struct {
		name    string
		hosts   map[string]int
		want    Outcome
		code    int
		stored  int
		forked  int
		wantErr error
	}{
		{name: "delivered", hosts: map[string]int{"a.test": 200}, want: Delivered, forked: 1},
		{name: "stored for nobody online", want: Stored, stored: 1},
		{name: "stored after silent contacts", hosts: map[string]int{"a.test": 0}, want: Stored, stored: 1, forked: 1},
		{name: "refused", hosts: map[string]int{"a.test": 486, "b.test": 603}, want: Refused, code: 603, forked: 2},
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
			m := withBranch(msg(bob, "hello", sentDate), "z9hG4bK-a1")
			check := func(what string, r *Result) {
				t.Helper()
				if r.Err != nil || r.Outcome != tc.want || r.Trying {
					t.Fatalf("%s: %+v, want outcome %d", what, r, tc.want)
				}
				if tc.want == Refused && (r.Response.StatusCode != tc.code || r.Response.Reason != "R603") {
					t.Fatalf("%s: relayed %d %q, want %d", what, r.Response.StatusCode, r.Response.Reason, tc.code)
				}
			}
			check("original", h.send(m))
			for i := range 3 {
				check("copy "+string(rune('1'+i)), h.send(copyOf(m)))
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

// TestRetransmissionOfErrorReplayed: an error answer (unknown user) is
// replayed too.
func TestRetransmissionOfErrorReplayed(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := run(t, s, testConfig(), nil)
	defer h.stop()
	m := withBranch(msg("sip:nobody@example.com", "hi", ""), "z9hG4bK-e1")
	for i := range 2 {
		if r := h.send(copyOf(m)); !errors.Is(r.Err, ErrUnknownUser) {
			t.Fatalf("send %d: %+v", i, r)
		}
	}
}

// TestBoxPassivatesAfterWindow: a box remembers its MESSAGEs for the
// retransmission window, then passivates (stored messages) or stops (a
// relay); a late copy of a stored message is still answered 202 from the
// store, never stored twice.
func TestBoxPassivatesAfterWindow(t *testing.T) {
	c := testConfig()
	c.Idle = 20 * time.Millisecond
	c.retransWindow = 400 * time.Millisecond
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := run(t, s, c, nil)
	defer h.stop()
	boxes := h.tree.Routers[Name]
	resident := func(aor string) bool {
		ok, err := boxes.Resident(aor, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	m := withBranch(msg(bob, "stored", ""), "z9hG4bK-s1")
	if r := h.send(m); r.Outcome != Stored {
		t.Fatalf("%+v", r)
	}
	h.users.online(alice, "a.test")
	relay := withBranch(msg(alice, "relayed", ""), "z9hG4bK-r1")
	if r := h.send(relay); r.Outcome != Delivered {
		t.Fatalf("%+v", r)
	}
	time.Sleep(150 * time.Millisecond) // past Idle, within the window
	if !resident(bob) || !resident(alice) {
		t.Fatalf("a box passivated while it may still get a copy: bob %v, alice %v", resident(bob), resident(alice))
	}
	eventually(t, "both boxes passivate after the window", func() bool { return !resident(bob) && !resident(alice) })
	if r := h.send(copyOf(m)); r.Err != nil || r.Outcome != Stored {
		t.Fatalf("late copy of the stored message: %+v", r)
	}
	if got := len(h.stored(bob)); got != 1 {
		t.Fatalf("%d stored, want 1", got)
	}
}

// TestFromTag: the tag of a From header value, whatever its form.
func TestFromTag(t *testing.T) {
	for in, want := range map[string]string{
		`"Carol" <sip:carol@example.com>;tag=ct1`:     "ct1",
		`<sip:carol@example.com;tag=uri>;TAG=hdr;x=y`: "hdr",
		`sip:carol@example.com;tag=bare`:              "bare",
		`<sip:carol@example.com>`:                     "",
	} {
		if got := fromTag(in); got != want {
			t.Errorf("fromTag(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBoxForgetsTogether: a box forgets the MESSAGEs it remembers
// together, once the window of the last one is over, though a later
// MESSAGE does not move the armed timer (arm leaves it while the box is
// busy, and the early tick does nothing): a copy of the first within the
// second's window is still answered from memory, and the box passivates
// once the second's window is over.
func TestBoxForgetsTogether(t *testing.T) {
	const window = 400 * time.Millisecond
	c := testConfig()
	c.Idle = 20 * time.Millisecond
	c.retransWindow = window
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := run(t, s, c, nil)
	defer h.stop()
	h.users.online(alice, "a.test")
	first := withBranch(msg(alice, "one", ""), "z9hG4bK-f1")
	start := time.Now()
	if r := h.send(first); r.Outcome != Delivered {
		t.Fatalf("%+v", r)
	}
	time.Sleep(window / 2)
	second := withBranch(msg(alice, "two", ""), "z9hG4bK-f2")
	if r := h.send(second); r.Outcome != Delivered {
		t.Fatalf("%+v", r)
	}
	time.Sleep(time.Until(start.Add(window + window/4))) // past the first's window, within the second's
	for _, m := range []*Message{second, first} {
		if r := h.send(copyOf(m)); r.Err != nil || r.Outcome != Delivered {
			t.Fatalf("copy of %q: %+v", m.Body, r)
		}
	}
	if got := h.port.count(); got != 2 {
		t.Fatalf("%d forks, want 2: the copies are answered from memory", got)
	}
	boxes := h.tree.Routers[Name]
	eventually(t, "the box passivates after the windows", func() bool {
		ok, err := boxes.Resident(alice, time.Second)
		return err == nil && !ok
	})
}
