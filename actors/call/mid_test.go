package call

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/outbound"
)

// sdpV is offerSDP with origin version v and an extra attribute line.
func sdpV(v, attr string) string {
	s := strings.Replace(offerSDP, "o=alice 1 1 ", "o=alice 1 "+v+" ", 1)
	if attr != "" {
		s += attr + "\r\n"
	}
	return s
}

func TestCallPrackLegB(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call()
	b := h.nextInvite(t)
	if !strings.Contains(header(b.Req, "Supported"), "100rel") {
		t.Fatalf("leg B INVITE Supported %q, want 100rel", header(b.Req, "Supported"))
	}
	rel := []resOpt{withTag("bt"), withHeader("Require", "100rel"), withHeader("RSeq", "7"), withBody(answerSDP)}
	b.Provisional(183, rel...)
	p := h.port.wait(t, sip.PRACK, 1)
	if got := header(p.Req, "RAck"); got != "7 1 INVITE" {
		t.Fatalf("RAck %q", got)
	}
	if tag, _ := p.Req.To().Params.Get("tag"); tag != "bt" || p.Req.CSeq().SeqNo != 2 {
		t.Fatalf("PRACK To tag %q CSeq %d", tag, p.Req.CSeq().SeqNo)
	}
	p.Final(200)
	b.Provisional(183, rel...) // a retransmission
	a.tx.wait(t, 183, 1)
	h.port.none(t, sip.PRACK, 1, 100*time.Millisecond)
	if n := len(a.tx.responses()); n != 2 { // 100, one 183
		t.Fatalf("%d responses to A, want 100 and one 183", n)
	}
	b.Final(200, withTag("bt"), withBody(answerSDP))
	a.tx.wait(t, 200, 1)
}

func TestCallPrackLegA(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call(reqHeader("Supported", "100rel"))
	b := h.nextInvite(t)
	b.Provisional(180, withTag("bt"))
	b.Provisional(183, withTag("bt"), withBody(answerSDP))
	r180 := a.tx.wait(t, 180, 1)
	if header(r180, "Require") != "100rel" || header(r180, "RSeq") == "" {
		t.Fatalf("180 to A: Require %q RSeq %q", header(r180, "Require"), header(r180, "RSeq"))
	}
	a.tx.wait(t, 180, 2) // retransmitted at T1
	for _, r := range a.tx.responses() {
		if r.StatusCode == 183 {
			t.Fatal("183 sent before the 180's PRACK")
		}
	}
	a.local, _ = r180.To().Params.Get("tag")
	rseq := header(r180, "RSeq")
	bad := a.request(sip.PRACK, reqHeader("RAck", "999 1 INVITE"))
	if r := replied(t, a.send(bad)); r.Code != 481 {
		t.Fatalf("PRACK with a wrong RAck: %d %v", r.Code, r.Err)
	}
	ok := a.request(sip.PRACK, reqHeader("RAck", rseq+" 1 INVITE"))
	if r := replied(t, a.send(ok)); r.Code != 200 {
		t.Fatalf("PRACK: %d %v", r.Code, r.Err)
	}
	r183 := a.tx.wait(t, 183, 1)
	if header(r183, "RSeq") == rseq || header(r183, "Require") != "100rel" {
		t.Fatalf("183 RSeq %q after %q", header(r183, "RSeq"), rseq)
	}
	b.Final(200, withTag("bt"), withBody(answerSDP))
	time.Sleep(50 * time.Millisecond)
	for _, r := range a.tx.responses() { // RFC 3262 §3: the 183 carried SDP
		if r.StatusCode == 200 {
			t.Fatal("200 sent before the PRACK of a provisional with SDP")
		}
	}
	ok2 := a.request(sip.PRACK, reqHeader("RAck", header(r183, "RSeq")+" 1 INVITE"))
	if r := replied(t, a.send(ok2)); r.Code != 200 {
		t.Fatalf("PRACK 2: %d %v", r.Code, r.Err)
	}
	a.tx.wait(t, 200, 1)
}

func TestCallPrackUnreliableWithoutSupport(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call()
	b := h.nextInvite(t)
	b.Provisional(180, withTag("bt"), withHeader("Require", "100rel"), withHeader("RSeq", "1"))
	r := a.tx.wait(t, 180, 1)
	if header(r, "Require") != "" || header(r, "RSeq") != "" {
		t.Fatalf("180 to a caller without 100rel: Require %q RSeq %q", header(r, "Require"), header(r, "RSeq"))
	}
}

func TestCallPrackTimeout(t *testing.T) {
	t1 := sip.T1
	sip.T1 = 5 * time.Millisecond
	h := newHarness(t, testConfig())
	t.Cleanup(func() { sip.T1 = t1 }) // after the harness stopped (cleanups run last first)
	a := h.call(reqHeader("Require", "100rel"))
	b := h.nextInvite(t)
	b.Provisional(180, withTag("bt"))
	res, _ := a.tx.final(t)
	if res == nil || res.StatusCode != 500 {
		t.Fatalf("final %v, want 500 after 64*T1 without PRACK", res)
	}
	h.port.wait(t, sip.CANCEL, 1)
}

func TestCallReinviteHold(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call()
	b := a.answered(t)
	for i, dir := range []string{"a=sendonly", "a=sendrecv"} {
		ch := a.send(a.request(sip.INVITE, reqBody("application/sdp", sdpV(string(rune('2'+i)), dir))))
		inv := h.port.wait(t, sip.INVITE, 2+i)
		if inv.Req.CallID().Value() != b.Req.CallID().Value() || !hasLine(inv.Req.Body(), dir) {
			t.Fatalf("re-INVITE on leg B: %s", inv.Req.Body())
		}
		inv.Final(200, withBody(strings.Replace(answerSDP, "o=bob 2 2", "o=bob 2 "+string(rune('3'+i)), 1)+"a=recvonly\r\n"))
		r := replied(t, ch)
		if r.Code != 200 || !hasLine(r.Body, "a=recvonly") {
			t.Fatalf("re-INVITE answered %d %s", r.Code, r.Body)
		}
		if ack := h.port.wait(t, sip.ACK, 2+i); ack.Req.CSeq().SeqNo != inv.Req.CSeq().SeqNo {
			t.Fatalf("ACK CSeq %d for INVITE %d", ack.Req.CSeq().SeqNo, inv.Req.CSeq().SeqNo)
		}
		a.ack()
	}
	// and from B
	e := h.calleeOf(b, "bt")
	ch := e.send(e.request(sip.INVITE, reqBody("application/sdp", strings.Replace(answerSDP, "o=bob 2 2", "o=bob 2 9", 1)+"a=inactive\r\n")))
	inv := h.port.wait(t, sip.INVITE, 4)
	if inv.Req.CallID().Value() != a.callID || !hasLine(inv.Req.Body(), "a=inactive") {
		t.Fatalf("re-INVITE to A: %s %s", inv.Req.CallID().Value(), inv.Req.Body())
	}
	inv.Final(200, withBody(sdpV("9", "a=inactive")))
	if r := replied(t, ch); r.Code != 200 {
		t.Fatalf("B's re-INVITE answered %d", r.Code)
	}
}

func TestCallReinviteGlare(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call()
	b := a.answered(t)
	first := a.send(a.request(sip.INVITE, reqBody("application/sdp", sdpV("2", "a=sendonly"))))
	inv := h.port.wait(t, sip.INVITE, 2)
	if r := replied(t, a.send(a.request(sip.INVITE, reqBody("application/sdp", sdpV("3", ""))))); r.Code != 491 {
		t.Fatalf("second re-INVITE from A: %d", r.Code)
	}
	e := h.calleeOf(b, "bt")
	if r := replied(t, e.send(e.request(sip.INVITE, reqBody("application/sdp", answerSDP)))); r.Code != 491 {
		t.Fatalf("re-INVITE from B during ours: %d", r.Code)
	}
	if r := replied(t, e.send(e.request(sip.UPDATE, reqBody("application/sdp", answerSDP)))); r.Code != 491 {
		t.Fatalf("UPDATE offer from B during our offer: %d", r.Code)
	}
	inv.Final(491)
	r := replied(t, first)
	if r.Code != 491 {
		t.Fatalf("glare on leg B relayed as %d", r.Code)
	}
}

func TestCallReinviteDelayedOffer(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call()
	a.answered(t)
	ch := a.send(a.request(sip.INVITE, noBody()))
	inv := h.port.wait(t, sip.INVITE, 2)
	if len(inv.Req.Body()) != 0 {
		t.Fatal("a re-INVITE without SDP got one")
	}
	inv.Final(200, withBody(strings.Replace(answerSDP, "o=bob 2 2", "o=bob 2 3", 1)))
	r := replied(t, ch)
	if r.Code != 200 || len(r.Body) == 0 {
		t.Fatalf("re-INVITE answered %d without the offer", r.Code)
	}
	h.port.none(t, sip.ACK, 1, 50*time.Millisecond)
	a.ack(reqBody("application/sdp", sdpV("2", "")))
	ack := h.port.wait(t, sip.ACK, 2)
	if !hasLine(ack.Req.Body(), "o=alice 1 2 IN IP4 192.0.2.1") {
		t.Fatalf("ACK of leg B without A's answer: %s", ack.Req.Body())
	}
}

func TestCallUpdateAndInfo(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call()
	b := a.answered(t)
	upd := a.request(sip.UPDATE, reqBody("application/sdp", sdpV("2", "")))
	upd.RemoveHeader("Contact")
	upd.AppendHeader(sip.NewHeader("Contact", "<sip:alice@192.0.2.11:5070>"))
	ch := a.send(upd)
	u := h.port.wait(t, sip.UPDATE, 1)
	if u.Req.CallID().Value() != b.Req.CallID().Value() || !hasLine(u.Req.Body(), "o=alice 1 2 IN IP4 192.0.2.1") || header(u.Req, "Contact") == "" {
		t.Fatalf("UPDATE on leg B: %v", u.Req)
	}
	u.Final(200, withBody(answerSDP))
	if r := replied(t, ch); r.Code != 200 || len(r.Body) == 0 {
		t.Fatalf("UPDATE answered %d", r.Code)
	}
	// INFO from B to A goes to A's new target
	e := h.calleeOf(b, "bt")
	info := e.request(sip.INFO, reqBody("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"), reqHeader("Info-Package", "dtmf"))
	ich := e.send(info)
	i := h.port.wait(t, sip.INFO, 1)
	if i.Req.Recipient.Host != "192.0.2.11" || header(i.Req, "Content-Type") != "application/dtmf-relay" ||
		header(i.Req, "Info-Package") != "dtmf" || string(i.Req.Body()) != "Signal=5\r\nDuration=160\r\n" {
		t.Fatalf("INFO to A: %v", i.Req)
	}
	i.Final(200)
	if r := replied(t, ich); r.Code != 200 {
		t.Fatalf("INFO answered %d", r.Code)
	}
}

func TestCallEarlyUpdate(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call()
	b := h.nextInvite(t)
	b.Provisional(183, withTag("bt"), withBody(answerSDP))
	r := a.tx.wait(t, 183, 1)
	a.local, _ = r.To().Params.Get("tag")
	ch := a.send(a.request(sip.UPDATE, reqBody("application/sdp", sdpV("2", ""))))
	u := h.port.wait(t, sip.UPDATE, 1)
	if tag, _ := u.Req.To().Params.Get("tag"); tag != "bt" {
		t.Fatalf("early UPDATE To tag %q", tag)
	}
	u.Final(200, withBody(answerSDP))
	if r := replied(t, ch); r.Code != 200 {
		t.Fatalf("early UPDATE answered %d", r.Code)
	}
}

func TestCallSessionTimerNegotiation(t *testing.T) {
	c := testConfig()
	c.SessionExpires = 1800 * time.Second
	h := newHarness(t, c)

	small := h.call(reqHeader("Session-Expires", "60"), reqHeader("Supported", "timer"))
	res, _ := small.tx.final(t)
	if res == nil || res.StatusCode != 422 || header(res, "Min-SE") != "90" {
		t.Fatalf("Session-Expires 60: %v", res)
	}
	if n := h.invites(); n != 0 {
		t.Fatalf("%d INVITEs forked for a 422", n)
	}

	a := h.call(reqHeader("Session-Expires", "600;refresher=uac"), reqHeader("Supported", "timer"))
	b := h.nextInvite(t)
	if header(b.Req, "Session-Expires") != "1800" || header(b.Req, "Min-SE") != "90" || !strings.Contains(header(b.Req, "Supported"), "timer") {
		t.Fatalf("leg B INVITE: SE %q Min-SE %q Supported %q", header(b.Req, "Session-Expires"), header(b.Req, "Min-SE"), header(b.Req, "Supported"))
	}
	b.Final(422, withHeader("Min-SE", "2000"))
	b2 := h.port.wait(t, sip.INVITE, 2)
	if header(b2.Req, "Session-Expires") != "2000" || b2.Req.CSeq().SeqNo != 2 || b2.Req.CallID().Value() != b.Req.CallID().Value() {
		t.Fatalf("retry after 422: SE %q CSeq %d", header(b2.Req, "Session-Expires"), b2.Req.CSeq().SeqNo)
	}
	b2.Final(200, withTag("bt"), withBody(answerSDP), withHeader("Session-Expires", "2000;refresher=uas"), withHeader("Require", "timer"))
	ok := a.tx.wait(t, 200, 1)
	if header(ok, "Session-Expires") != "600;refresher=uac" || header(ok, "Require") != "timer" {
		t.Fatalf("200 to A: SE %q Require %q", header(ok, "Session-Expires"), header(ok, "Require"))
	}
}

func TestCallSessionExpires(t *testing.T) {
	c := testConfig()
	c.MinSE = time.Second
	h := newHarness(t, c)
	a := h.call(reqHeader("Session-Expires", "3;refresher=uac"), reqHeader("Supported", "timer"))
	a.answered(t)
	// No refresh from A: at 3 - 1 s both legs get BYE.
	time.Sleep(1500 * time.Millisecond)
	if n := len(h.port.of(sip.BYE)); n != 0 {
		t.Fatalf("BYE before the session expired (%d)", n)
	}
	byes := []*sent{h.port.wait(t, sip.BYE, 1), h.port.wait(t, sip.BYE, 2)}
	ids := map[string]bool{}
	for _, s := range byes {
		ids[s.Req.CallID().Value()] = true
	}
	if !ids[a.callID] || len(ids) != 2 {
		t.Fatalf("BYEs on %v, want both legs", ids)
	}
}

func TestCallSessionRefresh(t *testing.T) {
	c := testConfig()
	c.MinSE = time.Second
	c.SessionExpires = 2 * time.Second
	h := newHarness(t, c)
	a := h.call(reqHeader("Session-Expires", "4;refresher=uac"), reqHeader("Supported", "timer"))
	b := h.nextInvite(t)
	b.Final(200, withTag("bt"), withBody(answerSDP), withHeader("Session-Expires", "2;refresher=uac"))
	r := a.tx.wait(t, 200, 1)
	a.local, _ = r.To().Params.Get("tag")
	a.ack()
	// We refresh leg B at 1 s with a re-INVITE carrying the SDP we sent.
	ref := h.port.wait(t, sip.INVITE, 2)
	if ref.Req.CallID().Value() != b.Req.CallID().Value() || string(ref.Req.Body()) != offerSDP ||
		!strings.HasPrefix(header(ref.Req, "Session-Expires"), "2;refresher=uac") {
		t.Fatalf("refresh: %v", ref.Req)
	}
	ref.Final(200, withBody(answerSDP), withHeader("Session-Expires", "2;refresher=uac"))
	h.port.wait(t, sip.ACK, 2)
	// A refreshes leg A with its unchanged SDP: answered here, not relayed.
	ch := a.send(a.request(sip.INVITE, reqBody("application/sdp", offerSDP), reqHeader("Session-Expires", "4;refresher=uac")))
	rr := replied(t, ch)
	if rr.Code != 200 || string(rr.Body) != answerSDP {
		t.Fatalf("A's refresh answered %d %q", rr.Code, rr.Body)
	}
	for _, s := range h.port.of(sip.INVITE) {
		if s.Req.CallID().Value() == a.callID {
			t.Fatal("A's refresh relayed")
		}
	}
	if n := len(h.port.of(sip.BYE)); n != 0 {
		t.Fatal("refreshed session ended")
	}
}

func TestCallBadInput(t *testing.T) {
	h := newHarness(t, testConfig())
	other := h.call() // a call that must not notice
	ob := other.answered(t)

	cases := []struct {
		name   string
		opts   []reqOpt
		code   int
		reason string
		accept bool
	}{
		{"malformed SDP", []reqOpt{reqBody("application/sdp", "this is not SDP")}, 400, "Malformed SDP", false},
		{"no usable media", []reqOpt{reqBody("application/sdp", strings.Replace(offerSDP, "m=audio 4000", "m=audio 0", 1))}, 488, "", false},
		{"no media at all", []reqOpt{reqBody("application/sdp", "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n")}, 488, "", false},
		{"not SDP", []reqOpt{reqBody("text/plain", "hello")}, 415, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := h.invites()
			a := h.call(tc.opts...)
			res, err := a.tx.final(t)
			if err != nil || res.StatusCode != tc.code || tc.reason != "" && res.Reason != tc.reason {
				t.Fatalf("answered %v %v, want %d %s", res, err, tc.code, tc.reason)
			}
			if tc.accept && header(res, "Accept") != "application/sdp" {
				t.Fatalf("415 without Accept")
			}
			if h.invites() != n {
				t.Fatal("forked anyway")
			}
		})
	}

	a := h.call()
	a.answered(t)
	steps := []struct {
		name string
		req  func() *sip.Request
		code int
	}{
		{"malformed SDP in a re-INVITE", func() *sip.Request {
			return a.request(sip.INVITE, reqBody("application/sdp", "v=0\r\nbogus"))
		}, 400},
		{"CSeq lower than the last", func() *sip.Request {
			r := a.request(sip.INFO)
			r.CSeq().SeqNo = 1
			return r
		}, 500},
		{"UPDATE with a body not SDP", func() *sip.Request { return a.request(sip.UPDATE, reqBody("text/plain", "x")) }, 415},
	}
	for _, st := range steps {
		if r := replied(t, a.send(st.req())); r.Code != st.code {
			t.Fatalf("%s: %d %v, want %d", st.name, r.Code, r.Err, st.code)
		}
	}
	// BYE for a dialog nobody owns: ErrNoDialog (481 at the edge)
	ghost := a.request(sip.BYE)
	if r := replied(t, h.send(dialog.ID{CallID: "nobody", LocalTag: "x", RemoteTag: "y"}, ghost)); r.Err != dialog.ErrNoDialog {
		t.Fatalf("BYE for no dialog: %v", r.Err)
	}
	// the call is still up: INFO relays
	ch := a.send(a.request(sip.INFO, reqBody("application/dtmf-relay", "Signal=1\r\n")))
	h.port.wait(t, sip.INFO, 1).Final(200)
	if r := replied(t, ch); r.Code != 200 {
		t.Fatalf("INFO after bad input: %d", r.Code)
	}
	// and the other call too: its BYE goes through
	if r := replied(t, other.send(other.request(sip.BYE))); r.Code != 200 {
		t.Fatalf("other call's BYE: %d %v", r.Code, r.Err)
	}
	eventually(t, "BYE on the other call's leg B", func() bool {
		for _, s := range h.port.of(sip.BYE) {
			if s.Req.CallID().Value() == ob.Req.CallID().Value() {
				return true
			}
		}
		return false
	})
}

// TestCallPrackDelayedOffer: the caller's INVITE has no SDP and the
// callee's reliable 183 offers one: leg B keeps its PRACK until the
// caller's PRACK brings the answer, which it carries; without 100rel on
// leg A, leg B PRACKs at once without a body.
func TestCallPrackDelayedOffer(t *testing.T) {
	rel := []resOpt{withTag("bt"), withHeader("Require", "100rel"), withHeader("RSeq", "1"), withBody(answerSDP)}
	t.Run("caller does 100rel", func(t *testing.T) {
		h := newHarness(t, testConfig())
		a := h.call(noBody(), reqHeader("Supported", "100rel"))
		b := h.nextInvite(t)
		if len(b.Req.Body()) != 0 {
			t.Fatal("leg B INVITE has a body")
		}
		b.Provisional(183, rel...)
		r183 := a.tx.wait(t, 183, 1)
		h.port.none(t, sip.PRACK, 0, 50*time.Millisecond)
		a.local, _ = r183.To().Params.Get("tag")
		pr := a.request(sip.PRACK, reqHeader("RAck", header(r183, "RSeq")+" 1 INVITE"), reqBody("application/sdp", offerSDP))
		if r := replied(t, a.send(pr)); r.Code != 200 {
			t.Fatalf("caller's PRACK: %d", r.Code)
		}
		p := h.port.wait(t, sip.PRACK, 1)
		if string(p.Req.Body()) != offerSDP || header(p.Req, "RAck") != "1 1 INVITE" {
			t.Fatalf("leg B PRACK: RAck %q body %q", header(p.Req, "RAck"), p.Req.Body())
		}
		p.Final(200)
		b.Final(200, withTag("bt"), withBody(answerSDP))
		ack := h.port.wait(t, sip.ACK, 1)
		if len(ack.Req.Body()) != 0 {
			t.Fatal("ACK carries a second answer")
		}
		a.tx.wait(t, 200, 1)
	})
	t.Run("caller without 100rel", func(t *testing.T) {
		h := newHarness(t, testConfig())
		a := h.call(noBody())
		b := h.nextInvite(t)
		b.Provisional(183, rel...)
		a.tx.wait(t, 183, 1)
		if p := h.port.wait(t, sip.PRACK, 1); len(p.Req.Body()) != 0 {
			t.Fatal("bare PRACK expected")
		}
	})
}

// TestCallSessionRefreshByUpdate: a caller that allows UPDATE but does not
// do timers itself: we refresh leg A (refresher=uas) with a bodiless
// UPDATE at half the interval; its 481 ends the call (RFC 5057 §5.1).
func TestCallSessionRefreshByUpdate(t *testing.T) {
	c := testConfig()
	c.MinSE = time.Second
	h := newHarness(t, c)
	a := h.call(reqHeader("Session-Expires", "2"), reqHeader("Allow", "INVITE, ACK, BYE, CANCEL, UPDATE"))
	b := h.nextInvite(t)
	b.Final(200, withTag("bt"), withBody(answerSDP))
	ok := a.tx.wait(t, 200, 1)
	if header(ok, "Session-Expires") != "2;refresher=uas" || header(ok, "Require") != "" {
		t.Fatalf("200 to A: SE %q Require %q", header(ok, "Session-Expires"), header(ok, "Require"))
	}
	a.local, _ = ok.To().Params.Get("tag")
	a.ack()
	u := h.port.wait(t, sip.UPDATE, 1)
	if u.Req.CallID().Value() != a.callID || len(u.Req.Body()) != 0 || !strings.HasPrefix(header(u.Req, "Session-Expires"), "2;refresher=uac") {
		t.Fatalf("refresh UPDATE: %v", u.Req)
	}
	u.Final(481)
	bye := h.port.wait(t, sip.BYE, 1)
	if bye.Req.CallID().Value() != b.Req.CallID().Value() {
		t.Fatal("leg B not hung up after the refresh failed")
	}
}

// TestCallUpdateWhileOfferPending: the peer's UPDATE offer while its
// re-INVITE offer is unanswered is 500 with Retry-After (RFC 3311 §5.2).
func TestCallUpdateWhileOfferPending(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call()
	a.answered(t)
	a.send(a.request(sip.INVITE, reqBody("application/sdp", sdpV("2", ""))))
	h.port.wait(t, sip.INVITE, 2)
	r := replied(t, a.send(a.request(sip.UPDATE, reqBody("application/sdp", sdpV("3", "")))))
	if r.Code != 500 || len(r.Headers) == 0 || r.Headers[0].Name() != "Retry-After" {
		t.Fatalf("UPDATE during our re-INVITE's offer: %d %v", r.Code, r.Headers)
	}
}

// TestCallReinviteDelayedOfferNoAnswer: the caller never ACKs our 2xx
// offer with an answer: leg B ACKs bare after the ACK timeout and hangs
// up, and so does the call.
func TestCallReinviteDelayedOfferNoAnswer(t *testing.T) {
	c := testConfig()
	c.AckTimeout = 200 * time.Millisecond
	h := newHarness(t, c)
	a := h.call()
	b := a.answered(t)
	a.send(a.request(sip.INVITE, noBody()))
	inv := h.port.wait(t, sip.INVITE, 2)
	inv.Final(200, withBody(answerSDP))
	ack := h.port.wait(t, sip.ACK, 2)
	if ack.Req.CSeq().SeqNo != inv.Req.CSeq().SeqNo || len(ack.Req.Body()) != 0 {
		t.Fatalf("ACK CSeq %d body %q", ack.Req.CSeq().SeqNo, ack.Req.Body())
	}
	eventually(t, "BYE on leg B", func() bool {
		for _, s := range h.port.of(sip.BYE) {
			if s.Req.CallID().Value() == b.Req.CallID().Value() {
				return true
			}
		}
		return false
	})
}

// TestCallOverloadedPort: a leg B the port could not send (too many
// INVITEs in flight) is this server's overload, not the callee's state:
// A gets 503 with Retry-After, not 480.
func TestCallOverloadedPort(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call()
	h.nextInvite(t).Fail(fmt.Errorf("%w: 4096 transactions in flight", outbound.ErrUnavailable))
	res := a.tx.wait(t, 503, 1)
	if got := header(res, "Retry-After"); got != "1" {
		t.Fatalf("Retry-After %q, want 1", got)
	}
}
