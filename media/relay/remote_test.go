package relay

import (
	"testing"
	"time"

	"github.com/b2bua/b2bua/media/sdp"
)

// TestSetRemoteChanges: a re-INVITE's new SDP takes effect on the next
// packet, without a restart.
func TestSetRemoteChanges(t *testing.T) {
	suite := sdp.AES_CM_128_HMAC_SHA1_80
	setup := func(t *testing.T, o Options) (epA, epB *endpoint, a, b *Stream) {
		epA, epB = newEndpoint(t, key(suite, 1), key(suite, 2)), newEndpoint(t, Crypto{}, key(suite, 4))
		a, b = newStream(t, o, true), newStream(t, Options{}, true)
		if err := a.SetRemote(epA.remote()); err != nil {
			t.Fatal(err)
		}
		if err := b.SetRemote(epB.remote()); err != nil {
			t.Fatal(err)
		}
		Link(a, b)
		return
	}
	t.Run("new In key: new context, the old key refused", func(t *testing.T) {
		epA, epB, a, _ := setup(t, Options{})
		for seq := range uint16(3) {
			epA.sendRTP(a.LocalRTP(), 100+seq, 0xA, []byte("old key"))
			if epB.recvRTP(wait) == nil {
				t.Fatal("lost")
			}
		}
		old := epA.enc
		ra := epA.remote()
		ra.In = key(suite, 7)
		if err := a.SetRemote(ra); err != nil {
			t.Fatal(err)
		}
		epA.enc = mustContext(t, ra.In, false)
		// The sequence goes on (RFC 3550 §5.1, per SSRC): B's key did not
		// change, so a restarted sequence would be a replay to B.
		epA.sendRTP(a.LocalRTP(), 103, 0xA, []byte("new key"))
		if p := epB.recvRTP(wait); p == nil || p.SequenceNumber != 103 {
			t.Fatalf("got %v", p)
		}
		stale, _ := old.EncryptRTP(nil, rtpPacket(t, 104, 0xA, nil), nil)
		epA.sendFrom(epA.rtp, a.LocalRTP(), stale)
		eventually(t, "old key refused", func() bool { return a.Stats().AuthFailed == 1 })
	})
	t.Run("new Out key: B's packets reach A under it", func(t *testing.T) {
		epA, epB, a, b := setup(t, Options{})
		epB.sendRTP(b.LocalRTP(), 1, 0xB, []byte("one"))
		if epA.recvRTP(wait) == nil {
			t.Fatal("lost")
		}
		ra := epA.remote()
		ra.Out = key(suite, 8)
		if err := a.SetRemote(ra); err != nil {
			t.Fatal(err)
		}
		epA.dec = mustContext(t, ra.Out, true)
		epB.sendRTP(b.LocalRTP(), 2, 0xB, []byte("two"))
		if p := epA.recvRTP(wait); p == nil || string(p.Payload) != "two" {
			t.Fatalf("got %v", p)
		}
	})
	t.Run("new RTP address: latching starts over", func(t *testing.T) {
		epA, epB, a, b := setup(t, Options{LatchWindow: 30 * time.Millisecond})
		nat1, moved := listen(t), listen(t)
		epA.sendFrom(nat1, a.LocalRTP(), epA.protect(rtpPacket(t, 1, 0xA, nil), false))
		if epB.recvRTP(wait) == nil {
			t.Fatal("lost")
		}
		time.Sleep(50 * time.Millisecond) // past the window: latched to nat1 for good
		ra := epA.remote()
		ra.RTP = addr(moved)
		if err := a.SetRemote(ra); err != nil {
			t.Fatal(err)
		}
		if a.Stats().Latched.IsValid() {
			t.Fatal("still latched")
		}
		epB.sendRTP(b.LocalRTP(), 1, 0xB, []byte("to the new address"))
		if epA.recv(moved, wait) == nil {
			t.Fatal("not sent to the new SDP address")
		}
	})
	t.Run("hold and resume", func(t *testing.T) {
		epA, epB, a, b := setup(t, Options{})
		rb := epB.remote()
		rb.Send = false
		b.SetRemote(rb)
		epA.sendRTP(a.LocalRTP(), 1, 0xA, nil)
		if epB.recv(epB.rtp, quiet) != nil {
			t.Fatal("sent to an endpoint on hold")
		}
		rb.Send = true
		b.SetRemote(rb)
		epA.sendRTP(a.LocalRTP(), 2, 0xA, nil)
		if epB.recvRTP(wait) == nil {
			t.Fatal("not resumed")
		}
		if st := a.Stats(); st.Dropped != 1 || st.RxPackets != 2 {
			t.Fatalf("%+v", st)
		}
	})
}
