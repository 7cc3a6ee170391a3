package presence

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPublish covers RFC 3903 §6 case by case against one presentity.
func TestPublish(t *testing.T) {
	h := run(t, openStore(t, t.TempDir()), testConfig(), nil)
	defer h.stop()
	const aor = "sip:alice@example.com"
	first := h.publish(aor, "", -1, body("hello"))
	if first.Err != nil || first.ETag == "" || first.Expires != 3600 {
		t.Fatalf("initial PUBLISH = %+v, want an ETag and the default 3600 s", first)
	}
	var brief *IntervalTooBriefError
	cases := []struct {
		name    string
		etag    string
		expires int
		body    []byte
		check   func(*PublishResult) error
	}{
		{"refresh without body", first.ETag, 120, nil, func(r *PublishResult) error {
			if r.Err != nil || r.ETag == "" || r.ETag == first.ETag || r.Expires != 120 {
				return fmt.Errorf("got %+v, want a new ETag and 120 s", r)
			}
			return nil
		}},
		{"old etag after refresh", first.ETag, 120, nil, func(r *PublishResult) error {
			if !errors.Is(r.Err, ErrUnknownETag) {
				return fmt.Errorf("got %+v, want ErrUnknownETag (412)", r)
			}
			return nil
		}},
		{"unknown etag", "nope", 60, nil, func(r *PublishResult) error {
			if !errors.Is(r.Err, ErrUnknownETag) {
				return fmt.Errorf("got %+v, want ErrUnknownETag", r)
			}
			return nil
		}},
		{"initial without body", "", 60, nil, func(r *PublishResult) error {
			if !errors.Is(r.Err, ErrNoBody) {
				return fmt.Errorf("got %+v, want ErrNoBody (400)", r)
			}
			return nil
		}},
		{"too brief", "", 5, body("x"), func(r *PublishResult) error {
			if !errors.As(r.Err, &brief) || brief.MinExpires != 60 {
				return fmt.Errorf("got %+v, want 423 with Min-Expires 60", r)
			}
			return nil
		}},
		{"too long is clamped", "", 999999, body("y"), func(r *PublishResult) error {
			if r.Err != nil || r.Expires != 86400 {
				return fmt.Errorf("got %+v, want 86400 s", r)
			}
			return nil
		}},
		{"malformed body", "", 60, []byte("<presence"), func(r *PublishResult) error {
			if r.Err == nil {
				return fmt.Errorf("got %+v, want a PIDF error (400)", r)
			}
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.check(h.publish(aor, tc.etag, tc.expires, tc.body)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPublishModifyAndRemove(t *testing.T) {
	h := run(t, openStore(t, t.TempDir()), testConfig(), nil)
	defer h.stop()
	const aor = "sip:alice@example.com"
	r := h.publish(aor, "", 3600, body("one"))
	mod := h.publish(aor, r.ETag, 3600, body("two"))
	if mod.Err != nil || mod.ETag == r.ETag {
		t.Fatalf("modify = %+v", mod)
	}
	if rm := h.publish(aor, mod.ETag, 0, nil); rm.Err != nil || rm.ETag != "" {
		t.Fatalf("remove = %+v, want 200 without an ETag", rm)
	}
	if again := h.publish(aor, mod.ETag, 60, nil); !errors.Is(again.Err, ErrUnknownETag) {
		t.Fatalf("refresh after remove = %+v, want 412", again)
	}
}

func TestPublishRetransmissionIsAnsweredAgain(t *testing.T) {
	h := run(t, openStore(t, t.TempDir()), testConfig(), nil)
	defer h.stop()
	m := func() *Publish {
		return &Publish{AOR: "sip:bob@example.com", Expires: 600, Body: body("b"), CallID: "c1", CSeq: 7, Branch: "z9hG4bK-1"}
	}
	a, b := h.publishTx(m()), h.publishTx(m())
	if a.Err != nil || b.Err != nil || a.ETag != b.ETag {
		t.Fatalf("original %+v, retransmission %+v: want the same ETag", a, b)
	}
}

// TestDevicesExpireIndependently: two devices publish; one publication
// expires and the other stays.
func TestDevicesExpireIndependently(t *testing.T) {
	c := testConfig()
	c.PublishMinExpires = 1
	h := run(t, openStore(t, t.TempDir()), c, nil)
	defer h.stop()
	const aor = "sip:carol@example.com"
	if _, d := h.subscribe(aor, "sip:w1@example.com", EventPresence, 600); d.CallID == "" {
		t.Fatal("no dialog")
	}
	h.port.notifies(t, "w1", 1)
	short := h.publish(aor, "", 1, body("phone"))
	long := h.publish(aor, "", 600, body("desk"))
	if short.Err != nil || long.Err != nil {
		t.Fatal(short.Err, long.Err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := h.port.notifies(t, "w1", 1)
		last := string(got[len(got)-1].Body())
		if strings.Contains(last, "desk") && !strings.Contains(last, "phone") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last NOTIFY still has the expired publication:\n%s", last)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := h.publish(aor, long.ETag, 600, nil); r.Err != nil {
		t.Fatalf("the other device's publication is gone: %v", r.Err)
	}
}

// TestCaps: the PUBLISH rate of a presentity (a burst of twice the rate,
// then 503), its number of publications (403) and of watchers (503).
func TestCaps(t *testing.T) {
	c := testConfig()
	c.MaxPublishRate, c.MaxPublications, c.MaxWatchers = 2, 3, 2
	h := run(t, openStore(t, t.TempDir()), c, nil)
	defer h.stop()
	var got []error
	for range 5 {
		got = append(got, h.publish("sip:fast@example.com", "", 600, body("x")).Err)
	}
	if got[0] != nil || got[1] != nil || got[2] != nil || !errors.Is(got[3], ErrTooManyPublications) || !errors.Is(got[4], ErrPublishRate) {
		t.Fatalf("five PUBLISHes at once = %v, want 3 ok, 1 over the publications, 1 over the rate", got)
	}
	for i, want := range []error{nil, nil, ErrTooManyWatchers} {
		r, _ := h.subscribe("sip:star@example.com", fmt.Sprintf("sip:cap%d@example.com", i), EventPresence, 600)
		if !errors.Is(r.Err, want) {
			t.Fatalf("watcher %d: %v, want %v", i, r.Err, want)
		}
	}
}
