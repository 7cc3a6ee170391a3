package call

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestCallHarness runs a call through the harness: answered, INFO relayed
// both ways, BYE from A ends leg B.
func TestCallHarness(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.call()
	b := a.answered(t)
	if got := h.port.wait(t, sip.ACK, 1); got.Req.CSeq().SeqNo != 1 {
		t.Fatalf("ACK CSeq %d", got.Req.CSeq().SeqNo)
	}
	ch := a.send(a.request(sip.BYE))
	if r := replied(t, ch); r.Code != 200 {
		t.Fatalf("BYE answered %d %v", r.Code, r.Err)
	}
	bye := h.port.wait(t, sip.BYE, 1)
	if bye.Req.CallID().Value() != b.Req.CallID().Value() {
		t.Fatal("BYE not on leg B")
	}
	bye.Final(200)
}
