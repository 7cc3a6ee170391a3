package relay

import (
	"net"
	"testing"
	"time"

	"github.com/b2bua/b2bua/media/sdp"
)

func TestLatching(t *testing.T) {
	const window = 80 * time.Millisecond
	type pkt struct {
		from    string // socket: "sdp" (the SDP's address), "nat1", "nat2", "evil"
		ssrc    uint32
		after   bool // sent after the window
		forged  bool // under a key the relay does not know (SRTP cases)
		relayed bool // B must get it
	}
	for _, tc := range []struct {
		name       string
		srtp       bool
		pkts       []pkt
		replyTo    string // where B's packets must reach A
		hijack     uint64
		authFailed uint64
	}{
		{name: "NAT: answers go to the source, not the SDP address",
			pkts: []pkt{{from: "nat1", ssrc: 1, relayed: true}}, replyTo: "nat1"},
		{name: "in the window a new source is followed",
			pkts: []pkt{{from: "nat1", ssrc: 1, relayed: true}, {from: "nat2", ssrc: 2, relayed: true}}, replyTo: "nat2"},
		{name: "latched to the SDP address: a third address is ignored",
			pkts:    []pkt{{from: "sdp", ssrc: 1, relayed: true}, {from: "evil", ssrc: 1}, {from: "sdp", ssrc: 1, relayed: true}},
			replyTo: "sdp", hijack: 1},
		{name: "after the window another source is ignored",
			pkts:    []pkt{{from: "nat1", ssrc: 1, relayed: true}, {from: "evil", ssrc: 666, after: true}},
			replyTo: "nat1", hijack: 1},
		{name: "after the window the same SSRC may move (NAT rebinding)",
			pkts:    []pkt{{from: "nat1", ssrc: 1, relayed: true}, {from: "nat2", ssrc: 1, after: true, relayed: true}},
			replyTo: "nat2"},
		{name: "SRTP: a packet that fails authentication never latches", srtp: true,
			pkts: []pkt{{from: "evil", ssrc: 1, forged: true}}, replyTo: "sdp", authFailed: 1},
		{name: "SRTP: the authenticated source latches", srtp: true,
			pkts:    []pkt{{from: "evil", ssrc: 1, forged: true}, {from: "nat1", ssrc: 1, relayed: true}},
			replyTo: "nat1", authFailed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in Crypto
			if tc.srtp {
				in = key(sdp.AES_CM_128_HMAC_SHA1_80, 1)
			}
			epA, epB := newEndpoint(t, in, Crypto{}), newEndpoint(t, Crypto{}, Crypto{})
			socks := map[string]*net.UDPConn{"sdp": epA.rtp, "nat1": listen(t), "nat2": listen(t), "evil": listen(t)}
			a := newStream(t, Options{LatchWindow: window}, true)
			b := newStream(t, Options{}, true)
			a.SetRemote(epA.remote())
			b.SetRemote(epB.remote())
			Link(a, b)
			forger := mustContext(t, key(sdp.AES_CM_128_HMAC_SHA1_80, 99), false)
			start := time.Now()
			for i, p := range tc.pkts {
				if p.after {
					time.Sleep(time.Until(start.Add(window + 20*time.Millisecond)))
				}
				raw := rtpPacket(t, uint16(100+i), p.ssrc, []byte{byte(i)})
				if p.forged {
					raw, _ = forger.EncryptRTP(nil, raw, nil)
				} else {
					raw = epA.protect(raw, false)
				}
				epA.sendFrom(socks[p.from], a.LocalRTP(), raw)
				if i == 0 {
					start = time.Now()
				}
				got := epB.recvRTP(map[bool]time.Duration{true: wait, false: 30 * time.Millisecond}[p.relayed])
				if (got != nil) != p.relayed {
					t.Fatalf("packet %d from %s: relayed %v, want %v", i, p.from, got != nil, p.relayed)
				}
			}
			epB.sendRTP(b.LocalRTP(), 1, 0xB, []byte("reply"))
			for name, c := range socks {
				want := name == tc.replyTo
				if got := epA.recv(c, map[bool]time.Duration{true: wait, false: 20 * time.Millisecond}[want]); (got != nil) != want {
					t.Fatalf("reply at %s: %v, want %v", name, got != nil, want)
				}
			}
			st := a.Stats()
			if st.Hijack != tc.hijack || st.AuthFailed != tc.authFailed {
				t.Fatalf("stats %+v", st)
			}
			relayed := false
			for _, p := range tc.pkts {
				relayed = relayed || p.relayed
			}
			if !relayed && st.Latched.IsValid() {
				t.Fatalf("latched to %v by a packet that was not relayed", st.Latched)
			}
			if wantLatched := addr(socks[tc.replyTo]); tc.replyTo != "sdp" && st.Latched != wantLatched {
				t.Fatalf("Latched %v, want %v", st.Latched, wantLatched)
			}
		})
	}
}
