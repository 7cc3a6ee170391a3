package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/b2bua/b2bua/sip/siptest"
	"github.com/b2bua/b2bua/sip/ua"
)

// The media relay (--media relay) end to end: the real binary between
// two parties whose RTP the tests send and check. One side is SIPp
// (RFC 4733 events played from a pcap, and SIPp's RTP echo), the others
// are Go peers: the sip/ua SDK for signalling with an SDP of their own
// (ua.WithSDP), and an RTP socket that speaks plain RTP or SDES-SRTP
// (pion/rtp, pion/srtp). Each test runs its own server on a port range
// of its own (--rtp-ports, in 19000-19999: below the default 20000-30000
// that the other tests' servers relay on), so they run in parallel.

// TestMediaSIPpThroughRelay: SIPp calls SIPp through the relay. Each
// scenario checks that the SDP it got points at the relay (127.0.0.1, a
// port of --rtp-ports) and not at the other SIPp; the caller plays RFC
// 4733 events from a pcap (30 packets), the callee echoes every packet
// (-rtp_echo). Both ways cross the relay, so it receives and sends each
// packet twice. The offer comes in the INVITE, or late: in the callee's
// 200, with the caller's answer in the ACK (RFC 3264 §2).
func TestMediaSIPpThroughRelay(t *testing.T) {
	t.Parallel()
	needPcap(t)
	p := mediaServer(t, 19100, 19199)
	const played = 30
	for i, tc := range []struct{ name, uac, uas string }{
		{"offer in the INVITE", "media_uac.xml", "media_uas.xml"},
		{"offer in the 200, answer in the ACK", "media_late_uac.xml", "media_late_uas.xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := fmt.Sprintf("bob%d", i)
			bob := callee(t, p, user, tc.uas, "-rtp_echo", "-mp", strconv.Itoa(sippMediaPort(t)))
			call(t, p, tc.uac, user, "-s", user, "-mp", strconv.Itoa(sippMediaPort(t)))
			bob.wait(t, "callee")
			// The counters are the server's: each call adds its packets.
			metricAtLeast(t, p, `b2bua_media_packets_total{dir="in"}`, float64(2*played*(i+1)))
			metricAtLeast(t, p, `b2bua_media_packets_total{dir="out"}`, float64(2*played*(i+1)))
		})
	}
	mediaClean(t, p)
}

// TestMediaTransfer: after a blind transfer (bob REFERs alice to carol,
// refer_uas.xml), alice's media reaches carol through the relay: alice's
// re-INVITE still points at the relay, she plays 30 RFC 4733 packets and
// carol (-rtp_echo) echoes them back, so the relay takes in and sends out
// at least twice that.
func TestMediaTransfer(t *testing.T) {
	t.Parallel()
	needPcap(t)
	p := mediaServer(t, 19500, 19599)
	carol := callee(t, p, "carol", "call_uas.xml", "-rtp_echo", "-mp", strconv.Itoa(sippMediaPort(t)))
	bob := callee(t, p, "bob", "refer_uas.xml", "-inf", injection(t, "carol"))
	call(t, p, "media_transferee.xml", "bob", "-mp", strconv.Itoa(sippMediaPort(t)))
	bob.wait(t, "transferor")
	carol.wait(t, "transfer target")
	const played = 30
	metricAtLeast(t, p, `b2bua_media_packets_total{dir="in"}`, 2*played)
	metricAtLeast(t, p, `b2bua_media_packets_total{dir="out"}`, 2*played)
	mediaClean(t, p)
}

// TestMediaEarlyMedia: the callee's 183 with SDP bridges the media before
// the answer: a Go caller gets the 30 RFC 4733 packets the callee (SIPp,
// media_early_uas.xml) plays while the call still rings, at the address
// of its own offer, and the 200 that follows points at the relay.
func TestMediaEarlyMedia(t *testing.T) {
	t.Parallel()
	needPcap(t)
	const lo, hi = 19600, 19699
	p := mediaServer(t, lo, hi)
	bob := callee(t, p, "bob", "media_early_uas.xml", "-mp", strconv.Itoa(sippMediaPort(t)))
	alice := uaPeer(t, "udp", "alice", ua.WithServer(p.udp), ua.WithKeepalive(0))
	caller := newRTPPeer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	done := placeCall(ctx, alice, "bob", caller)
	got := caller.receive(caller.conn, 30, 5*time.Second)
	select {
	case r := <-done:
		t.Fatalf("the call was answered (%v) before the early media came: %d packets", r.err, len(got))
	default:
	}
	if len(got) != 30 {
		t.Fatalf("%d of the callee's 30 early media packets reached the caller", len(got))
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	atRelay(t, parseMedia(t, r.c.RemoteSDP()), lo, hi, "the caller")
	if err := r.c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	bob.wait(t, "callee")
	mediaClean(t, p)
}

// TestMediaSRTPToRTP: with --srtp rtp an SRTP caller reaches a plain
// callee. The callee is offered RTP/AVP without keys, at the relay; the
// caller's answer is RTP/SAVP with the relay's key. Each way, every packet
// arrives once, in order, with its payload intact: decrypted toward the
// callee, encrypted with the relay's key toward the caller; RTCP sender
// reports likewise (SRTCP). With --srtp srtp the roles swap: a plain
// caller, an SRTP callee. No key, the parties' or the relay's, appears in
// the server's logs, even at debug level.
func TestMediaSRTPToRTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                       string
		policy                     string
		lo                         int
		callerSecure, calleeSecure bool
	}{
		{"SRTP caller, RTP callee", "rtp", 19200, true, false},
		{"RTP caller, SRTP callee", "srtp", 19220, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mediaServer(t, tc.lo, tc.lo+19, "--srtp", tc.policy, "--log-level", "debug")
			mp := newParties(t, p, "bob")
			caller, callee := newRTPPeer(t, tc.callerSecure), newRTPPeer(t, tc.calleeSecure)
			mp.connect(t, caller, callee)

			offer, answer := parseMedia(t, mp.offer), parseMedia(t, mp.ca.RemoteSDP())
			atRelay(t, offer, tc.lo, tc.lo+19, "the callee")
			atRelay(t, answer, tc.lo, tc.lo+19, "the caller")
			for _, c := range []struct {
				who    string
				rm     remoteMedia
				secure bool
			}{{"the callee's offer", offer, tc.calleeSecure}, {"the caller's answer", answer, tc.callerSecure}} {
				want := map[bool]string{false: "RTP/AVP", true: "RTP/SAVP"}[c.secure]
				if c.rm.proto != want || (c.rm.key != nil) != c.secure {
					t.Fatalf("%s: %s with %d a=crypto, want %s", c.who, c.rm.proto, c.rm.crypto, want)
				}
			}
			if tc.callerSecure && (answer.tag != 1 || string(answer.key) == string(caller.key)) {
				t.Fatalf("the caller's answer: tag %d (want 1, the offer's), its own key echoed: %v", answer.tag, string(answer.key) == string(caller.key))
			}

			first := caller.send(50)
			callee.expect(caller, first, 50)
			first = callee.send(50)
			caller.expect(callee, first, 50)
			caller.sendReports(5)
			callee.expectReports(caller, 5)
			callee.sendReports(5)
			caller.expectReports(callee, 5)
			mp.hangup(t)
			mediaClean(t, p)
			for _, k := range [][]byte{caller.key, callee.key, offer.key, answer.key} {
				if k != nil && strings.Contains(p.logs.String(), base64.StdEncoding.EncodeToString(k)) {
					t.Fatalf("an SRTP key is in the server's logs (debug level)")
				}
			}
		})
	}
}

// TestMediaHoldResume: one party holds (re-INVITE a=sendonly) and
// resumes (a=sendrecv). Each SDP crosses with its direction and the
// relay's address: the other party is offered sendonly and the holder
// gets its recvonly. On hold, RFC 3264 §6.1: the holder (sendonly) does
// not receive, so nothing the other party sends reaches it
// (relay.Remote.Send false), while what the holder sends still goes
// through. Once resumed, media flows both ways again. Alice (leg A) holds,
// or bob (leg B: his re-INVITE crosses the other way). With SRTP on both
// legs (--srtp mirror, each leg its own keys) the re-INVITEs keep the
// keys: the packets after them still decrypt with the first SDP's.
func TestMediaHoldResume(t *testing.T) {
	t.Parallel()
	const lo, hi = 19240, 19259
	p := mediaServer(t, lo, hi)
	for i, tc := range []struct {
		name        string
		secure      bool
		calleeHolds bool
	}{{"RTP, the caller holds", false, false}, {"SRTP both legs, the caller holds", true, false}, {"RTP, the callee holds", false, true}} {
		user := fmt.Sprintf("bob%d", i)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mp := newParties(t, p, user)
			caller, callee := newRTPPeer(t, tc.secure), newRTPPeer(t, tc.secure)
			mp.connect(t, caller, callee)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			first := caller.send(10)
			callee.expect(caller, first, 10)
			first = callee.send(10)
			caller.expect(callee, first, 10)

			holder, other := mp.ca, mp.cb
			hp, op := caller, callee
			if tc.calleeHolds {
				holder, other, hp, op = mp.cb, mp.ca, callee, caller
			}
			if err := holder.Hold(ctx); err != nil {
				t.Fatal(err)
			}
			offer, answer := parseMedia(t, other.RemoteSDP()), parseMedia(t, holder.RemoteSDP())
			atRelay(t, offer, lo, hi, "the held party")
			atRelay(t, answer, lo, hi, "the holder")
			if offer.dir != "sendonly" || answer.dir != "recvonly" || !other.Held() {
				t.Fatalf("hold: the held party was offered %s (held: %v), the holder's answer says %s", offer.dir, other.Held(), answer.dir)
			}
			op.send(20)
			hp.silent(hp.conn, 500*time.Millisecond, "the holder (sendonly)")
			first = hp.send(20)
			op.expect(hp, first, 20)

			if err := holder.Resume(ctx); err != nil {
				t.Fatal(err)
			}
			offer, answer = parseMedia(t, other.RemoteSDP()), parseMedia(t, holder.RemoteSDP())
			atRelay(t, offer, lo, hi, "the held party (resume)")
			atRelay(t, answer, lo, hi, "the holder (resume)")
			if offer.dir != "sendrecv" || answer.dir != "sendrecv" || other.Held() {
				t.Fatalf("resume: the held party was offered %s (held: %v), the holder's answer says %s", offer.dir, other.Held(), answer.dir)
			}
			first = callee.send(20)
			caller.expect(callee, first, 20)
			first = caller.send(20)
			callee.expect(caller, first, 20)
			mp.hangup(t)
		})
	}
	t.Cleanup(func() { mediaClean(t, p) })
}

// TestMediaNATLatching: bob's SDP names port P but his packets come from
// port Q (a NAT). Once his first packets arrived, what alice sends goes
// to Q, and nothing to P.
func TestMediaNATLatching(t *testing.T) {
	t.Parallel()
	p := mediaServer(t, 19260, 19279)
	mp := newParties(t, p, "bob")
	caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
	advertised := listenUDP(t) // P: in the SDP, never sent from
	callee.sdpPort = advertised.LocalAddr().(*net.UDPAddr).Port
	mp.connect(t, caller, callee)

	first := callee.send(5) // from Q
	caller.expect(callee, first, 5)
	first = caller.send(30)
	callee.expect(caller, first, 30)
	callee.silent(advertised, 200*time.Millisecond, "the SDP's port after latching")
	mp.hangup(t)
	mediaClean(t, p)
}

// TestMediaHijack: a third party sends RTP (an SSRC of its own) to the
// relay port bob's media comes from. Its packets are dropped (counted as
// b2bua_media_dropped_total{reason="hijack"}) and alice's keep going to
// bob: when bob is latched to his SDP address (at once, the relay never
// leaves it), and when he is latched to a NAT address and the latching
// window (media.latch, 500 ms here) is over.
func TestMediaHijack(t *testing.T) {
	t.Parallel()
	p := mediaServer(t, 19280, 19299, "--config", mediaConfig(t, "media:\n  latch: 500ms\n"))
	hijacked := 0
	for i, tc := range []struct {
		name string
		nat  bool
	}{{"latched to the SDP address", false}, {"latched behind NAT, after the window", true}} {
		t.Run(tc.name, func(t *testing.T) {
			mp := newParties(t, p, "bob"+strconv.Itoa(i))
			caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
			if tc.nat {
				callee.sdpPort = listenUDP(t).LocalAddr().(*net.UDPAddr).Port
			}
			mp.connect(t, caller, callee)
			first := callee.send(5)
			caller.expect(callee, first, 5)
			if tc.nat {
				time.Sleep(700 * time.Millisecond) // past media.latch
			}

			attacker := newRTPPeer(t, false)
			attacker.remote = callee.remote // the relay's port facing bob
			attacker.send(20)
			hijacked += 20
			caller.silent(caller.conn, 300*time.Millisecond, "alice, while a third party sends to bob's relay port")
			first = caller.send(20)
			callee.expect(caller, first, 20)
			attacker.silent(attacker.conn, 200*time.Millisecond, "the third party")
			first = callee.send(5) // bob still gets through
			caller.expect(callee, first, 5)
			mp.hangup(t)
		})
	}
	metricAtLeast(t, p, `b2bua_media_dropped_total{reason="hijack"}`, float64(hijacked))
	mediaClean(t, p)
}

// TestMediaInactivity: with --media-timeout 2s an answered call whose
// parties send no RTP ends with a BYE to both. A call where only one party
// talks stays up (the timeout is silence from both sides), and so does a
// silent call on hold (RFC 3264 §8.4: a held party may send nothing).
func TestMediaInactivity(t *testing.T) {
	t.Parallel()
	p := mediaServer(t, 19300, 19319, "--media-timeout", "2s")
	for i, tc := range []struct {
		name  string
		talk  bool // alice sends RTP all along
		hold  bool // alice holds the call at once
		ended bool
	}{
		{"silent: BYE to both", false, false, true},
		{"one party talks: up", true, false, false},
		{"silent on hold: up", false, true, false},
	} {
		user := fmt.Sprintf("bob%d", i) // a callee of its own per case
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mp := newParties(t, p, user)
			caller := newRTPPeer(t, false)
			mp.connect(t, caller, newRTPPeer(t, false))
			answered := time.Now()
			if tc.hold {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := mp.ca.Hold(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.ended {
				deadline := time.Now().Add(4 * time.Second) // twice the timeout
				for time.Now().Before(deadline) {
					if tc.talk {
						caller.send(1)
					}
					select {
					case <-mp.ca.Done():
						t.Fatalf("the call ended after %v", time.Since(answered))
					case <-mp.cb.Done():
						t.Fatalf("the call ended after %v", time.Since(answered))
					case <-time.After(100 * time.Millisecond):
					}
				}
				mp.hangup(t)
				return
			}
			for who, c := range map[string]*ua.Call{"alice": mp.ca, "bob": mp.cb} {
				select {
				case <-c.Done():
				case <-time.After(8 * time.Second):
					t.Fatalf("%s got no BYE 8 s into a silent call", who)
				}
			}
			if d := time.Since(answered); d < time.Second {
				t.Fatalf("the silent call ended after %v, before the 2 s timeout", d)
			}
		})
	}
	t.Cleanup(func() { mediaClean(t, p) })
}

// TestMediaPortsExhausted: --rtp-ports 19000-19003 holds two port pairs,
// one call. A second call meanwhile gets 503 with Retry-After; once the
// first call ended and its ports rested (media.quarantine, 1 s here), a
// call goes through again.
func TestMediaPortsExhausted(t *testing.T) {
	t.Parallel()
	p := mediaServer(t, 19000, 19003, "--config", mediaConfig(t, "media:\n  quarantine: 1s\n"))
	mp := newParties(t, p, "bob")
	mp.connect(t, newRTPPeer(t, false), newRTPPeer(t, false))

	if n := metric(t, p, "b2bua_media_ports_in_use"); n != 2 {
		t.Fatalf("b2bua_media_ports_in_use = %v during a call, want 2 (a pair per leg)", n)
	}
	res := rawInvite(t, p, "bob", newRTPPeer(t, false).sdp())
	expectStatus(t, res, 503, "Retry-After:")

	mp.hangup(t)
	// Each probe would take a pair for its leg A and put it back into
	// quarantine, so wait the quarantine out once, with a margin for the
	// media legs to stop, and call.
	time.Sleep(2 * time.Second)
	caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
	mp2 := newParties(t, p, "carol")
	mp2.connect(t, caller, callee)
	first := caller.send(10)
	callee.expect(caller, first, 10)
	mp2.hangup(t)
	mediaClean(t, p)
}

// rawInvite sends an INVITE from a raw socket to user with body and
// returns its final response (ACKed).
func rawInvite(t *testing.T, p *proc, user string, body []byte) string {
	t.Helper()
	c, err := siptest.Dial("udp", p.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	via := "Via: SIP/2.0/UDP " + c.LocalAddr() + ";branch=z9hG4bK-" + id
	from := "From: <sip:eve@localhost>;tag=" + id
	invite := append(siptest.Lines(
		"INVITE sip:"+user+"@localhost SIP/2.0", via, from,
		"To: <sip:"+user+"@localhost>",
		"Call-ID: "+id,
		"CSeq: 1 INVITE",
		"Contact: <sip:eve@"+c.LocalAddr()+">",
		"Max-Forwards: 70",
		"Content-Type: application/sdp",
		fmt.Sprintf("Content-Length: %d", len(body))), body...)
	if err := c.Send(invite); err != nil {
		t.Fatal(err)
	}
	for {
		res, err := c.Read(5 * time.Second)
		if err != nil {
			t.Fatalf("INVITE to %s: %v", user, err)
		}
		if code := siptest.Status(res); code >= 200 {
			to := regexp.MustCompile(`(?m)^To:.*$`).FindString(strings.ReplaceAll(res, "\r", ""))
			_ = c.Send(siptest.Lines("ACK sip:"+user+"@localhost SIP/2.0", via, from, to, "Call-ID: "+id,
				"CSeq: 1 ACK", "Max-Forwards: 70", "Content-Length: 0"))
			return res
		}
	}
}

// TestMediaCallsFreeTheirPorts: calls through the relay that end without
// being answered, or end any other way than a BYE after the answer, give
// back every port pair: busy (486), the caller's CANCEL while it rings,
// three forks of which the second answers (the others cancelled), an
// unknown user (404, after leg A took its ports) and no answer (480).
// The scenarios are those of TestCallWithSIPp, which check both legs.
func TestMediaCallsFreeTheirPorts(t *testing.T) {
	t.Parallel()
	needSIPp(t)
	p := mediaServer(t, 19400, 19499, "--no-answer", "1s")
	for i, tc := range []struct {
		name    string
		callees []string // UAS scenarios registered as the same user
		uac     string
	}{
		{"busy", []string{"call_uas_busy.xml"}, "call_busy.xml"},
		{"cancelled while ringing", []string{"call_uas_ring.xml"}, "call_cancel.xml"},
		{"forked, the second answers", []string{"call_uas_ring.xml", "call_uas.xml", "call_uas_ring.xml"}, "call_uac.xml"},
		{"unknown user", nil, "call_not_found.xml"},
		{"no answer", []string{"call_uas_ring.xml"}, "call_unavailable.xml"},
	} {
		user := "bob" + strconv.Itoa(i)
		if tc.callees == nil {
			user = "nobody"
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var uas []*sippUA
			for _, sc := range tc.callees {
				uas = append(uas, callee(t, p, user, sc))
			}
			call(t, p, tc.uac, user)
			for _, u := range uas {
				u.wait(t, "callee")
			}
		})
	}
	t.Cleanup(func() { mediaClean(t, p) })
}

// TestMediaPassthrough: with --media passthrough the SDP crosses untouched
// both ways.
func TestMediaPassthrough(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), "--media", "passthrough")
	mp := newParties(t, p, "bob")
	caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
	offer := caller.sdp()
	mp.connect(t, caller, callee)
	if string(mp.offer) != string(offer) {
		t.Fatalf("the offer changed on the way:\n%s\nbecame\n%s", offer, mp.offer)
	}
	if got, want := string(mp.ca.RemoteSDP()), string(callee.sdp()); got != want {
		t.Fatalf("the answer changed on the way:\n%s\nbecame\n%s", want, got)
	}
	mp.hangup(t)
	mediaClean(t, p)
}

// needPcap skips a test without SIPp or without the pcap its scenarios
// play (Debian's sip-tester ships it).
func needPcap(t *testing.T) {
	t.Helper()
	needSIPp(t)
	if _, err := os.Stat("/usr/share/sip-tester/dtmf_2833_1.pcap"); err != nil {
		t.Skip("SIPp's pcaps are not installed (Debian sip-tester ships them)")
	}
}

// TestMediaEarlyMediaForks: bob has two contacts (two forks), each
// answers 183 with SDP and sends RTP. The caller hears the fork whose SDP
// came last (the call bridges leg A to it, call.provisional), and nothing
// of the other. Then the first fork answers 200: the caller hears it, the
// other fork (cancelled) is not forwarded, and what the caller sends
// reaches the winner only.
func TestMediaEarlyMediaForks(t *testing.T) {
	t.Parallel()
	const lo, hi = 19700, 19719
	p := mediaServer(t, lo, hi)
	forks := []*rawUAS{newRawUAS(t, p, "bob"), newRawUAS(t, p, "bob")}
	alice := uaPeer(t, "udp", "alice", ua.WithServer(p.udp), ua.WithKeepalive(0))
	caller := newRTPPeer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	progress := make(chan int, 8)
	done := placeCall(ctx, alice, "bob", caller, ua.WithProgress(func(code int, _ string) { progress <- code }))
	// progressed waits for the caller to get a 183 (the call bridged).
	progressed := func(who string) {
		t.Helper()
		select {
		case <-progress:
		case r := <-done:
			t.Fatalf("the call ended (%v) before %s's 183", r.err, who)
		case <-time.After(5 * time.Second):
			t.Fatalf("the caller got no 183 from %s", who)
		}
	}
	peers := make([]*rtpPeer, len(forks))
	for i, f := range forks {
		peers[i] = newRTPPeer(t, false)
		atRelay(t, peers[i].learn(f.awaitInvite()), lo, hi, fmt.Sprintf("fork %d", i))
	}

	forks[0].respond(183, peers[0].sdp())
	progressed("fork 0")
	first := peers[0].send(10)
	caller.expect(peers[0], first, 10)

	forks[1].respond(183, peers[1].sdp()) // the latest SDP: the caller hears fork 1 now
	progressed("fork 1")
	first = peers[1].send(10)
	caller.expect(peers[1], first, 10)
	peers[0].send(10)
	caller.silent(caller.conn, 300*time.Millisecond, "the caller, from the fork whose early media was replaced")

	forks[0].respond(200, peers[0].sdp()) // the first fork answers
	var r placed
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the 200 did not reach the caller")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	forks[0].awaitACK()
	atRelay(t, caller.learn(r.c.RemoteSDP()), lo, hi, "the caller")
	first = peers[0].send(20)
	caller.expect(peers[0], first, 20)
	peers[1].send(10)
	caller.silent(caller.conn, 300*time.Millisecond, "the caller, from the fork that lost")
	first = caller.send(20)
	peers[0].expect(caller, first, 20)
	peers[1].silent(peers[1].conn, 200*time.Millisecond, "the fork that lost")

	if err := r.c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	forks[0].awaitBYE()
	mediaClean(t, p)
}

// TestMediaHoldUnspecified: bob holds the RFC 2543 way, a re-INVITE whose
// c= is 0.0.0.0 and which has no direction attribute. Alice is offered
// c=0.0.0.0 as well (media/sdp keeps an unspecified address, so she knows
// the call is held), and while held nothing she sends reaches bob. Bob
// resumes with his real address: alice is offered the relay again and
// media flows both ways.
func TestMediaHoldUnspecified(t *testing.T) {
	t.Parallel()
	const lo, hi = 19720, 19739
	p := mediaServer(t, lo, hi)
	bob := newRawUAS(t, p, "bob")
	alice := uaPeer(t, "udp", "alice", ua.WithServer(p.udp), ua.WithKeepalive(0))
	caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	done := placeCall(ctx, alice, "bob", caller)
	callee.learn(bob.awaitInvite())
	bob.respond(200, callee.sdp())
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	bob.awaitACK()
	caller.learn(r.c.RemoteSDP())
	first := caller.send(10)
	callee.expect(caller, first, 10)
	first = callee.send(10)
	caller.expect(callee, first, 10)

	version := func(v int) string { return fmt.Sprintf(" %d IN IP4 ", v) }
	held := strings.Replace(string(callee.sdp()), "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1)
	held = strings.Replace(strings.Replace(held, "a=sendrecv\r\n", "", 1), version(1), version(2), 1)
	atRelay(t, parseMedia(t, bob.reinvite([]byte(held))), lo, hi, "bob (hold)")
	offer := parseMedia(t, r.c.RemoteSDP())
	if !offer.addr.Addr().IsUnspecified() {
		t.Fatalf("alice was offered media at %v, not the hold's 0.0.0.0:\n%s", offer.addr, r.c.RemoteSDP())
	}
	caller.send(20) // to the relay, as before the hold
	callee.silent(callee.conn, 500*time.Millisecond, "bob, held with c=0.0.0.0")

	resumed := strings.Replace(string(callee.sdp()), version(1), version(3), 1)
	atRelay(t, parseMedia(t, bob.reinvite([]byte(resumed))), lo, hi, "bob (resume)")
	atRelay(t, parseMedia(t, r.c.RemoteSDP()), lo, hi, "alice (resume)")
	first = caller.send(20)
	callee.expect(caller, first, 20)
	first = callee.send(20)
	caller.expect(callee, first, 20)

	if err := r.c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	bob.awaitBYE()
	mediaClean(t, p)
}

// TestMediaSRTPSuites: with --srtp rtp a caller that offers only
// AES_CM_128_HMAC_SHA1_32, or only AEAD_AES_128_GCM (RFC 7714), gets an
// answer with that suite, the tag of its offer and a key of the relay's.
// Packets pass both ways, authenticated: the callee gets the caller's
// stream decrypted, the caller the callee's encrypted with the answer's
// key (pion/srtp checks each tag).
func TestMediaSRTPSuites(t *testing.T) {
	t.Parallel()
	const lo, hi = 19740, 19759
	p := mediaServer(t, lo, hi, "--srtp", "rtp")
	for i, suite := range []string{"AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"} {
		user := fmt.Sprintf("bob%d", i)
		t.Run(suite, func(t *testing.T) {
			t.Parallel()
			mp := newParties(t, p, user)
			caller, callee := newSuitePeer(t, suite), newRTPPeer(t, false)
			caller.tag = 7
			mp.connect(t, caller, callee)
			answer := parseMedia(t, mp.ca.RemoteSDP())
			atRelay(t, answer, lo, hi, "the caller")
			if answer.proto != "RTP/SAVP" || answer.crypto != 1 || answer.suite != suite || answer.tag != 7 ||
				string(answer.key) == string(caller.key) {
				t.Fatalf("the caller's answer: %s, %d a=crypto, suite %s tag %d, own key echoed %v; want RTP/SAVP, 1, %s tag 7:\n%s",
					answer.proto, answer.crypto, answer.suite, answer.tag, string(answer.key) == string(caller.key), suite, mp.ca.RemoteSDP())
			}
			if offer := parseMedia(t, mp.offer); offer.proto != "RTP/AVP" || offer.crypto != 0 {
				t.Fatalf("the callee was offered %s with %d a=crypto, want plain RTP/AVP", offer.proto, offer.crypto)
			}
			first := caller.send(30)
			callee.expect(caller, first, 30)
			first = callee.send(30)
			caller.expect(callee, first, 30)
			caller.sendReports(3)
			callee.expectReports(caller, 3)
			callee.sendReports(3)
			caller.expectReports(callee, 3)
			mp.hangup(t)
		})
	}
	t.Cleanup(func() { mediaClean(t, p) })
}

// TestMediaPlainPassesUnchanged: in a plain RTP call what the parties
// send besides audio arrives as sent. An RTCP receiver report (loss,
// jitter, LSR/DLSR) sent to the relay's RTP port + 1 (the relay's SDP
// names no other: RFC 3605 is for when it is not port + 1) reaches the
// other party's RTCP port byte for byte, each way. RFC 4733 events (the
// payload type of the relay's a=rtpmap telephone-event, a marker on the
// first, the end packet sent three times, RFC 4733 §2.5.1.4) arrive byte
// for byte.
func TestMediaPlainPassesUnchanged(t *testing.T) {
	t.Parallel()
	const lo, hi = 19760, 19779
	p := mediaServer(t, lo, hi)
	for i, tc := range []struct {
		name string
		run  func(t *testing.T, mp *mediaParties, caller, callee *rtpPeer)
	}{
		{"RTCP receiver reports", func(t *testing.T, mp *mediaParties, caller, callee *rtpPeer) {
			for _, c := range []struct {
				who      string
				from, to *rtpPeer
				sdp      []byte
			}{{"alice to bob", caller, callee, mp.ca.RemoteSDP()}, {"bob to alice", callee, caller, mp.offer}} {
				rm := parseMedia(t, c.sdp)
				if rm.rtcp.Port() != rm.addr.Port()+1 || c.from.remoteRTCP != rm.rtcp {
					t.Fatalf("%s: the relay's RTCP at %v, its RTP at %v", c.who, rm.rtcp, rm.addr)
				}
				var pkts [][]byte
				for k := 0; k < 5; k++ {
					rr := rtcp.ReceiverReport{SSRC: c.from.ssrc, Reports: []rtcp.ReceptionReport{{SSRC: c.to.ssrc,
						FractionLost: uint8(10 * k), TotalLost: uint32(3 * k), LastSequenceNumber: 1000 + uint32(k),
						Jitter: 40 + uint32(k), LastSenderReport: 0x12345678, Delay: 65536 * uint32(k)}}}
					b, err := rr.Marshal()
					if err != nil {
						t.Fatal(err)
					}
					pkts = append(pkts, b)
				}
				sendRaw(t, c.from.rtcp, rm.rtcp, pkts)
				sameBytes(t, readRaw(t, c.to.rtcp, len(pkts), 3*time.Second), pkts, c.who+": receiver report")
			}
		}},
		{"RFC 4733 events", func(t *testing.T, mp *mediaParties, caller, callee *rtpPeer) {
			for _, c := range []struct {
				who      string
				from, to *rtpPeer
				sdp      []byte
			}{{"alice to bob", caller, callee, mp.ca.RemoteSDP()}, {"bob to alice", callee, caller, mp.offer}} {
				pt := telephoneEvent(t, c.sdp)
				var pkts [][]byte
				ts := uint32(c.from.seq) * payloadSize
				for k, ev := range []struct {
					end      bool
					duration uint16
				}{{false, 160}, {false, 320}, {false, 480}, {true, 640}, {true, 640}, {true, 640}} {
					payload := []byte{5, 10, byte(ev.duration >> 8), byte(ev.duration)} // digit 5, volume -10 dBm0
					if ev.end {
						payload[1] |= 0x80
					}
					pkt := rtp.Packet{Header: rtp.Header{Version: 2, Marker: k == 0, PayloadType: pt,
						SequenceNumber: c.from.seq, Timestamp: ts, SSRC: c.from.ssrc}, Payload: payload}
					c.from.seq++
					b, err := pkt.Marshal()
					if err != nil {
						t.Fatal(err)
					}
					pkts = append(pkts, b)
				}
				sendRaw(t, c.from.conn, c.from.remote, pkts)
				sameBytes(t, readRaw(t, c.to.conn, len(pkts), 3*time.Second), pkts, c.who+": event packet")
			}
		}},
	} {
		user := fmt.Sprintf("bob%d", i)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mp := newParties(t, p, user)
			caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
			mp.connect(t, caller, callee)
			first := callee.send(5) // both latched
			caller.expect(callee, first, 5)
			first = caller.send(5)
			callee.expect(caller, first, 5)
			tc.run(t, mp, caller, callee)
			mp.hangup(t)
		})
	}
	t.Cleanup(func() { mediaClean(t, p) })
}
