package ua

import (
	"strconv"
	"testing"
	"time"

	"github.com/b2bua/b2bua/pidf"
)

// TestBuddyList: two buddies in one channel; a reader that does not keep
// up loses intermediate states but never the latest; Remove forgets a
// buddy; Close closes Events.
func TestBuddyList(t *testing.T) {
	ctx := testCtx(t)
	alice := newTestPeer(t, "sip:alice@example.com", "udp:127.0.0.1:0")
	carol := newTestPeer(t, "sip:carol@example.com", "udp:127.0.0.1:0")
	me := newTestPeer(t, "sip:me@example.com", "udp:127.0.0.1:0")
	b := me.NewBuddyList()
	aliceT, carolT := "sip:alice@"+alice.Addr(), "sip:carol@"+carol.Addr()
	for _, target := range []string{aliceT, carolT, aliceT} { // the second alice is a no-op
		if err := b.Add(ctx, target); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both buddies", func() bool { return len(b.Snapshot()) == 2 })

	// Nobody reads Events while alice changes 3×buffer times.
	const n = 3 * buddyEventsBuffer
	for i := 1; i <= n; i++ {
		if err := alice.SetPresence(ctx, pidf.StatusCustom, WithCustom("step "+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	last := "step " + strconv.Itoa(n)
	waitFor(t, "snapshot has the latest", func() bool { return b.Snapshot()[aliceT].State.Custom == last })
	time.Sleep(100 * time.Millisecond) // let the last NOTIFYs land
	var seen []Update
	for len(b.Events()) > 0 {
		seen = append(seen, <-b.Events())
	}
	var latest Update
	for _, u := range seen {
		if u.Target == aliceT {
			latest = u
		}
	}
	if latest.State.Custom != last {
		t.Fatalf("the last queued update of alice is %q, want %q", latest.State.Custom, last)
	}

	if err := b.Remove(ctx, carolT); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Snapshot()[carolT]; ok {
		t.Fatal("carol still in the snapshot")
	}
	waitFor(t, "carol forgets me", func() bool { return directCount(carol) == 0 })
	if err := me.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for range b.Events() { // closed by Close
	}
}
