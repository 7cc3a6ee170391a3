package call

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/sip/status"
)

// A panic or a stuck leg never leaves a half call: whatever fails, the
// caller gets a final response or a BYE, every fork a CANCEL or a BYE, no
// dialog stays registered and no call actor stays resident.

// supBoom, routed to a call, makes its actor panic (supPanics); supLegBoom,
// sent to a leg, makes the leg panic.
type supBoom struct{ shard.Envelope }

type supLegBoom struct{}

// supPanics injects the faults: the call's and the legs' Receive panic on
// supBoom and supLegBoom.
func supPanics(t testing.TB) supOptions {
	legMiddleware = []actor.ReceiverMiddleware{supPanicOn[*supLegBoom]("leg")}
	t.Cleanup(func() { legMiddleware = nil })
	return supOptions{spec: func(s *shard.Spec) {
		s.EntityMiddleware = append(s.EntityMiddleware, supPanicOn[*supBoom]("call"))
	}}
}

func supPanicOn[T any](who string) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			next(c, env) // the call's host takes the message's stamps first, as for any message it handles
			if _, ok := env.Message.(T); ok {
				panic("test: injected panic in the " + who)
			}
		}
	}
}

// ringing starts a call forked to hosts, each of which answers 180.
func (h *supH) ringing(callID string, hosts ...string) (*supCall, []supSent) {
	h.t.Helper()
	before := map[string]int{}
	for _, host := range hosts {
		before[host] = len(h.port.of(sip.INVITE, host))
	}
	c := h.invite(callID)
	var forks []supSent
	for _, host := range hosts {
		f := h.port.wait(h.t, sip.INVITE, host, before[host]+1)[before[host]]
		h.port.provisional(f, 180)
		forks = append(forks, f)
	}
	supEventually(h.t, "A hears the ringing", func() bool {
		c.tx.mu.Lock()
		defer c.tx.mu.Unlock()
		for _, r := range c.tx.prov {
			if r.StatusCode == 180 {
				return true
			}
		}
		return false
	})
	return c, forks
}

// cancelled checks that every fork got exactly one CANCEL, for its INVITE.
func (h *supH) cancelled(forks []supSent) {
	h.t.Helper()
	for _, f := range forks {
		cs := h.port.wait(h.t, sip.CANCEL, f.req.Recipient.Host, 1)
		if len(cs) != 1 {
			h.t.Errorf("%d CANCEL to %s, want 1", len(cs), f.req.Recipient.Host)
		}
		cancel := cs[0].req
		if cancel.CallID().Value() != f.req.CallID().Value() || cancel.CSeq().SeqNo != f.req.CSeq().SeqNo {
			h.t.Errorf("CANCEL %s/%d does not match its INVITE %s/%d", cancel.CallID().Value(), cancel.CSeq().SeqNo,
				f.req.CallID().Value(), f.req.CSeq().SeqNo)
		}
	}
}

// hungUp checks that both parties of c got a BYE of their dialog.
func (h *supH) hungUp(c *supCall) {
	h.t.Helper()
	for _, end := range []struct {
		host   string
		callID string
	}{{"192.0.2.1", c.callID}, {c.b.req.Recipient.Host, c.b.req.CallID().Value()}} {
		byes := func() int {
			n := 0
			for _, b := range h.port.of(sip.BYE, end.host) {
				if b.req.CallID().Value() == end.callID {
					n++
				}
			}
			return n
		}
		supEventually(h.t, "BYE to "+end.host+" for "+end.callID, func() bool { return byes() > 0 })
		if n := byes(); n != 1 {
			h.t.Errorf("%d BYE to %s for %s, want 1", n, end.host, end.callID)
		}
	}
}

func TestPanicWhileRinging(t *testing.T) {
	h := startSup(t, supPanics(t), "10.0.0.1", "10.0.0.2")
	c, forks := h.ringing("ring1", "10.0.0.1", "10.0.0.2")
	h.router.calls.Send(c.key, &supBoom{})
	if res := c.tx.result(t); res.StatusCode != status.ServerInternalError {
		t.Fatalf("A got %d, want 500", res.StatusCode)
	}
	h.cancelled(forks)
	h.settled()
}

// A fork that had sent nothing yet when its call failed gets no CANCEL
// (RFC 3261 §9.1); when it answers 2xx after all, the orphan's ACK and
// BYE end its dialog (ReapOrphans).
func TestPanicBeforeAnyResponse(t *testing.T) {
	h := startSup(t, supPanics(t), "10.0.0.1")
	c := h.invite("silent1")
	fork := h.port.wait(t, sip.INVITE, "10.0.0.1", 1)[0]
	h.router.calls.Send(c.key, &supBoom{})
	if res := c.tx.result(t); res.StatusCode != status.ServerInternalError {
		t.Fatalf("A got %d, want 500", res.StatusCode)
	}
	h.settled()
	if n := len(h.port.of(sip.CANCEL, "")); n != 0 {
		t.Fatalf("%d CANCEL before any provisional", n)
	}
	h.port.answer(fork, 200)
	ack := h.port.wait(t, sip.ACK, "10.0.0.1", 1)[0].req
	bye := h.port.wait(t, sip.BYE, "10.0.0.1", 1)[0].req
	for _, r := range []*sip.Request{ack, bye} {
		if r.CallID().Value() != fork.req.CallID().Value() {
			t.Errorf("%s on Call-ID %s, want the fork's", r.Method, r.CallID().Value())
		}
		if tag, _ := r.To().Params.Get("tag"); tag != "b-"+fork.req.CallID().Value()[:8] {
			t.Errorf("%s To tag %q, want the callee's", r.Method, tag)
		}
	}
	if ack.CSeq().SeqNo != fork.req.CSeq().SeqNo || bye.CSeq().SeqNo <= ack.CSeq().SeqNo {
		t.Errorf("ACK CSeq %d, BYE CSeq %d for an INVITE of CSeq %d", ack.CSeq().SeqNo, bye.CSeq().SeqNo, fork.req.CSeq().SeqNo)
	}
}

func TestPanicWhileAnswered(t *testing.T) {
	h := startSup(t, supPanics(t), "10.0.0.1")
	c := h.answered("up1", "10.0.0.1")
	if n := h.dialogs.Len(); n != 2 {
		t.Fatalf("%d dialogs registered, want 2", n)
	}
	h.router.calls.Send(c.key, &supBoom{})
	h.hungUp(c)
	h.settled()
	if err := h.dialogs.Send(&dialog.Request{ID: c.idA(), Request: c.fromA(sip.INFO, 9)}); !errors.Is(err, dialog.ErrNoDialog) {
		t.Errorf("A's dialog after teardown: %v, want ErrNoDialog (481)", err)
	}
}

// A leg's panic escalates to its call, which restarts empty: the same
// teardown as a panic of the call itself, whichever leg failed.
func TestLegPanicEscalates(t *testing.T) {
	t.Run("leg A answered", func(t *testing.T) {
		h := startSup(t, supPanics(t), "10.0.0.1")
		c := h.answered("legA", "10.0.0.1")
		pid, ok := h.dialogs.Owner(c.idA())
		if !ok {
			t.Fatal("leg A's dialog not registered")
		}
		h.tree.System.Root.Send(pid, &supLegBoom{})
		h.hungUp(c)
		h.settled()
	})
	t.Run("leg B answered", func(t *testing.T) {
		h := startSup(t, supPanics(t), "10.0.0.1")
		c := h.answered("legB", "10.0.0.1")
		pid, ok := h.dialogs.Owner(c.idB())
		if !ok {
			t.Fatal("leg B's dialog not registered")
		}
		h.tree.System.Root.Send(pid, &supLegBoom{})
		h.hungUp(c)
		h.settled()
	})
	t.Run("leg A ringing", func(t *testing.T) {
		h := startSup(t, supPanics(t), "10.0.0.1", "10.0.0.2")
		c, forks := h.ringing("legAr", "10.0.0.1", "10.0.0.2")
		pid := h.legA(c)
		h.tree.System.Root.Send(pid, &supLegBoom{})
		if res := c.tx.result(t); res.StatusCode != status.ServerInternalError {
			t.Fatalf("A got %d, want 500", res.StatusCode)
		}
		h.cancelled(forks)
		h.settled()
	})
}

// legA is leg A's PID, found by our tag in the 180 A got.
func (h *supH) legA(c *supCall) *actor.PID {
	h.t.Helper()
	c.tx.mu.Lock()
	for _, r := range c.tx.prov {
		if r.StatusCode == 180 {
			c.aTag, _ = r.To().Params.Get("tag")
		}
	}
	c.tx.mu.Unlock()
	pid, ok := h.dialogs.Owner(c.idA())
	if !ok {
		h.t.Fatal("leg A's dialog not registered")
	}
	return pid
}

// A peer that never answers BYE: the port's timeout (outbound.ErrTimeout)
// ends the leg, and the call with it.
func TestStuckBye(t *testing.T) {
	h := startSup(t, supOptions{}, "10.0.0.1")
	c := h.answered("stuck1", "10.0.0.1")
	if r := supReply(t, c.sendA(sip.BYE)); r.Code != status.OK {
		t.Fatalf("A's BYE answered %d", r.Code)
	}
	bye := h.port.wait(t, sip.BYE, "10.0.0.1", 1)[0]
	time.Sleep(20 * time.Millisecond)
	if h.metrics.Live(Name) != 1 {
		t.Fatal("the call stopped before its last leg ended")
	}
	h.port.fail(bye, fmt.Errorf("%w: test", outbound.ErrTimeout))
	h.settled()
}

// A re-INVITE the far peer never answers: A gets 408, and the dialog that
// timed out ends the call (RFC 3261 §12.2.1.2: no response to an
// in-dialog request terminates the dialog), so A gets BYE.
func TestStuckReInvite(t *testing.T) {
	h := startSup(t, supOptions{auto: map[sip.RequestMethod]int{sip.BYE: 200}}, "10.0.0.1")
	c := h.answered("stuck2", "10.0.0.1")
	ch := c.sendA(sip.INVITE)
	reinv := h.port.wait(t, sip.INVITE, "10.0.0.1", 2)[1]
	if reinv.req.CallID().Value() != c.b.req.CallID().Value() {
		t.Fatalf("re-INVITE went out on Call-ID %s", reinv.req.CallID().Value())
	}
	h.port.fail(reinv, fmt.Errorf("%w: test", outbound.ErrTimeout))
	if r := supReply(t, ch); r.Code != status.RequestTimeout {
		t.Fatalf("A's re-INVITE answered %d, want 408", r.Code)
	}
	h.port.wait(t, sip.BYE, "192.0.2.1", 1)
	h.settled()
}

// Panics in other calls, over and over and past any restart budget, leave
// a call that is up alone: it still relays INFO end to end and hangs up
// cleanly. Every call shares one shard.
func TestPanicsSpareOtherCalls(t *testing.T) {
	o := supPanics(t)
	o.conf = func(c *Config) { c.Shards = 1 }
	o.auto = map[sip.RequestMethod]int{sip.BYE: 200}
	h := startSup(t, o, "10.0.0.1")
	up := h.answered("keep", "10.0.0.1")
	h.mu.Lock()
	h.hosts = []string{"10.0.0.2"}
	h.mu.Unlock()
	for i := range 15 {
		c, forks := h.ringing("doomed"+strconv.Itoa(i), "10.0.0.2")
		if i%2 == 0 {
			h.router.calls.Send(c.key, &supBoom{})
		} else {
			h.tree.System.Root.Send(h.legA(c), &supLegBoom{})
		}
		if res := c.tx.result(t); res.StatusCode != status.ServerInternalError {
			t.Fatalf("call %d: A got %d, want 500", i, res.StatusCode)
		}
		h.port.wait(t, sip.CANCEL, "10.0.0.2", i+1)
		_ = forks
	}
	// The same key panicking again and again: each incarnation is new.
	for range 12 {
		h.router.calls.Send(up.key+"x", &supBoom{})
	}
	supEventually(t, "only the call that is up resident", func() bool { return h.metrics.Live(Name) == 1 })

	ch := up.sendA(sip.INFO)
	info := h.port.wait(t, sip.INFO, "10.0.0.1", 1)[0]
	if info.req.CallID().Value() != up.b.req.CallID().Value() {
		t.Fatalf("INFO relayed on Call-ID %s", info.req.CallID().Value())
	}
	h.port.answer(info, 200)
	if r := supReply(t, ch); r.Code != status.OK {
		t.Fatalf("INFO answered %d end to end, want 200", r.Code)
	}
	if r := supReply(t, up.sendA(sip.BYE)); r.Code != status.OK {
		t.Fatalf("BYE answered %d", r.Code)
	}
	h.port.wait(t, sip.BYE, "10.0.0.1", 1)
	h.settled()
}

// supShardBoom, routed to a call's key, makes the call's shard panic.
type supShardBoom struct{ shard.Envelope }

// A shard that panics restarts, and protoactor stops its children with
// it: every call of the shard's keys is torn down the same way (calls are
// not stored, so none comes back), and the shard serves new calls after.
func TestShardPanicTearsItsCallsDown(t *testing.T) {
	o := supOptions{auto: map[sip.RequestMethod]int{sip.BYE: 200}}
	o.conf = func(c *Config) { c.Shards = 1 }
	o.spec = func(s *shard.Spec) {
		s.ShardMiddleware = append(s.ShardMiddleware, func(next actor.ReceiverFunc) actor.ReceiverFunc {
			return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
				if _, ok := env.Message.(*supShardBoom); ok {
					panic("test: injected panic in the shard")
				}
				next(c, env)
			}
		})
	}
	h := startSup(t, o, "10.0.0.1")
	c1 := h.answered("sh1", "10.0.0.1")
	c2 := h.answered("sh2", "10.0.0.1")
	h.router.calls.Send(c1.key, &supShardBoom{})
	h.hungUp(c1)
	h.hungUp(c2)
	h.settled()
	c3 := h.answered("sh3", "10.0.0.1")
	if r := supReply(t, c3.sendA(sip.BYE)); r.Code != status.OK {
		t.Fatalf("BYE answered %d after the shard restarted", r.Code)
	}
	h.settled()
}
