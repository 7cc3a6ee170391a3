package registrar

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/store/storetest"
	"github.com/b2bua/b2bua/supervision"
)

// TestRetransmissionAfterAnotherDevice is the per-transaction matching
// regression: a phone registers and its 200 OK is lost, another device of
// the same AOR registers, and then the phone's byte-identical
// retransmission must get 200 again, not "500 CSeq Out of Order". It is
// answered from memory, without another store write.
func TestRetransmissionAfterAnotherDevice(t *testing.T) {
	real := openStore(t, t.TempDir())
	defer real.Close()
	s := &countingStore{Store: real}
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	aor := AOR("sip:alice@localhost")
	phone := reg(aor, "sip:alice@10.0.0.1", 600, "phone-call", 1)
	if res := h.register(phone); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := h.register(reg(aor, "sip:alice@10.0.0.2", 600, "desk-call", 7)); res.Err != nil || len(res.Bindings) != 2 {
		t.Fatalf("second device: %+v", res)
	}
	writes := s.saves.Load()
	again := h.register(reg(aor, "sip:alice@10.0.0.1", 600, "phone-call", 1))
	if again.Err != nil || len(again.Bindings) != 2 {
		t.Fatalf("retransmission after another device = %+v, want 200 with both bindings", again)
	}
	if n := s.saves.Load(); n != writes {
		t.Fatalf("retransmission wrote the store again (%d writes, want %d)", n, writes)
	}
}

// TestIdleAORPassivatesAndWakesAtItsExpiry: an AOR with a live binding
// does not keep an actor resident; its shard keeps the deadline and wakes
// it when the binding expires, which deletes the record.
func TestIdleAORPassivatesAndWakesAtItsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir())
		defer s.Close()
		c := DefaultConfig()
		c.Idle = 2 * time.Second
		h := start(t, s, zap.NewNop(), c)
		defer h.stop()
		aor := AOR("sip:alice@localhost")
		h.register(reg(aor, "sip:alice@10.0.0.1", 60, "a", 1))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if h.live(aor) {
			t.Fatal("idle AOR still resident")
		}
		// A lookup wakes it from the store.
		if got := h.lookup(aor); len(got) != 1 {
			t.Fatalf("lookup of a passivated AOR = %+v", got)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if h.live(aor) {
			t.Fatal("AOR resident again after the lookup went idle")
		}
		// Its expiry comes while passivated: the shard wakes it, and it
		// deletes the record and stops for good.
		time.Sleep(60 * time.Second)
		synctest.Wait()
		if _, err := s.Load(Kind, string(aor)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("record after expiry while passivated: %v", err)
		}
		if h.live(aor) {
			t.Fatal("expired AOR still resident")
		}
	})
}

// TestFullStoreAnswers503: a write that finds the store's queue full is
// failed at once with ErrBusy (503), and the actor does not block.
func TestFullStoreAnswers503(t *testing.T) {
	real := openStore(t, t.TempDir())
	defer real.Close()
	s := &busyStore{Store: real}
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	s.busy.Store(true)
	res := h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 1))
	if !errors.Is(res.Err, store.ErrBusy) {
		t.Fatalf("register with a full store = %+v, want ErrBusy", res)
	}
	s.busy.Store(false)
	if res := h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 2)); res.Err != nil {
		t.Fatalf("after the queue drained: %+v", res)
	}
}

// TestRestoreScansOnce: a restart with stored AORs reads the store in one
// pass, whatever the number of shards.
func TestRestoreScansOnce(t *testing.T) {
	dir := t.TempDir()
	real := openStore(t, dir)
	h := start(t, real, zap.NewNop(), DefaultConfig())
	for i := range 20 {
		h.register(reg(AOR(fmt.Sprintf("sip:u%d@localhost", i)), "sip:x@10.0.0.1", 600, "c", 1))
	}
	h.stop()
	s := &countingStore{Store: real}
	h = start(t, s, zap.NewNop(), DefaultConfig())
	defer real.Close()
	defer h.stop()
	if n := s.scans.Load(); n != 1 {
		t.Fatalf("%d scans at restore, want 1", n)
	}
	if got := h.lookup("sip:u3@localhost"); len(got) != 1 {
		t.Fatalf("restored lookup = %+v", got)
	}
}

// TestForward: a request for an AOR goes to its best contact through the
// outbound port, and the port's result answers it; an AOR without a
// contact answers ErrNoContact without an actor.
func TestForward(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	port := &echoPort{}
	sys := h0(t, s, port)
	defer sys.stop()
	aor := AOR("sip:alice@localhost")
	r := reg(aor, "sip:alice@10.0.0.1:5070", 600, "a", 1)
	r.Source = "udp:192.0.2.9:40000"
	low := Contact{URI: "sip:alice@10.0.0.2", Q: 100, Expires: 600}
	r.Contacts = append(r.Contacts, low)
	sys.register(r)

	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", User: "alice", Host: "localhost"})
	res := sys.forward(&Forward{AOR: aor, Request: req})
	if res.Err != nil || res.Response == nil || res.Response.StatusCode != 200 {
		t.Fatalf("forward = %+v", res)
	}
	sent := port.last.Load()
	if sent.Recipient.Host != "10.0.0.1" || sent.Destination() != "192.0.2.9:40000" {
		t.Fatalf("sent to %s via %s, want the best contact via the REGISTER's source", sent.Recipient.String(), sent.Destination())
	}
	if res := sys.forward(&Forward{AOR: "sip:nobody@localhost", Request: req}); !errors.Is(res.Err, ErrNoContact) {
		t.Fatalf("forward to nobody = %+v", res)
	}
	if sys.live("sip:nobody@localhost") {
		t.Fatal("a forward to an unknown AOR spawned an actor")
	}
}

func h0(t *testing.T, s store.Store, port outbound.Port) *harness {
	sys := supervision.NewSystem(zap.NewNop())
	spec := Spec(zap.NewNop(), DefaultConfig(), s, port, nil)
	tree, err := shard.Start(sys, zap.NewNop(), "b2bua", 5*time.Second, spec)
	if err != nil {
		t.Fatal(err)
	}
	r := tree.Routers[Name]
	port.(*echoPort).root = sys.Root
	return &harness{t: t, sys: sys, tree: tree, shards: r, router: NewRouter(r), conf: DefaultConfig()}
}

func (h *harness) forward(f *Forward) *ForwardResult {
	h.t.Helper()
	ch := make(chan *ForwardResult, 1)
	f.Reply = func(r *ForwardResult) { ch <- r }
	h.router.Forward(f)
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		h.t.Fatal("no reply to Forward")
		return nil
	}
}

// echoPort answers every request 200 at once and remembers the last one.
type echoPort struct {
	root *actor.RootContext
	last atomic.Pointer[sip.Request]
}

func (p *echoPort) Send(req *sip.Request, replyTo *actor.PID, id uint64) {
	p.last.Store(req)
	p.root.Send(replyTo, &outbound.Result{ID: id, Response: sip.NewResponseFromRequest(req, 200, "OK", nil)})
}

type countingStore struct {
	store.Store
	saves, scans atomic.Int64
}

func (c *countingStore) Save(kind store.Kind, key string, val []byte, done func(error)) {
	c.saves.Add(1)
	c.Store.Save(kind, key, val, done)
}

func (c *countingStore) Scan(kind store.Kind, fn func(string, []byte) error) error {
	c.scans.Add(1)
	return c.Store.Scan(kind, fn)
}

type busyStore struct {
	store.Store
	busy atomic.Bool
}

func (b *busyStore) Save(kind store.Kind, key string, val []byte, done func(error)) {
	if b.busy.Load() {
		done(store.ErrBusy)
		return
	}
	b.Store.Save(kind, key, val, done)
}

// TestFailedWriteKeepsAcknowledgedOnes: a write refused (store full) makes
// the actor reload, while an earlier write of its is still queued; the
// reload sees that queued write, so what it acknowledges is never lost.
func TestFailedWriteKeepsAcknowledgedOnes(t *testing.T) {
	slow := &storetest.Slow{Store: openStore(t, t.TempDir()), Delay: 150 * time.Millisecond}
	defer slow.Close()
	s := &busyStore{Store: slow}
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	aor := AOR("sip:alice@localhost")
	first := reg(aor, "sip:a@10.0.0.1", 600, "a", 1)
	acked := make(chan *RegisterResult, 1)
	first.Reply = func(r *RegisterResult) { acked <- r }
	h.router.Register(first)
	time.Sleep(20 * time.Millisecond) // queued, not committed
	s.busy.Store(true)
	if res := h.register(reg(aor, "sip:b@10.0.0.2", 600, "b", 1)); !errors.Is(res.Err, store.ErrBusy) {
		t.Fatalf("refused write answered %+v", res)
	}
	s.busy.Store(false)
	if r := <-acked; r.Err != nil {
		t.Fatal(r.Err)
	}
	res := h.register(reg(aor, "sip:c@10.0.0.3", 600, "c", 1))
	if res.Err != nil || len(res.Bindings) != 2 {
		t.Fatalf("after a refused write = %+v, want a (acknowledged) and c", res)
	}
}

// TestRestartKeepsAWriteInFlight: an actor that panics while its write is
// queued restarts and reloads; the reload sees the queued write, so the
// contact acknowledged after the restart is not lost by the next write.
func TestRestartKeepsAWriteInFlight(t *testing.T) {
	s := &storetest.Slow{Store: openStore(t, t.TempDir()), Delay: 150 * time.Millisecond}
	defer s.Close()
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	aor := AOR("sip:alice@localhost")
	first := reg(aor, "sip:a@10.0.0.1", 600, "a", 1)
	acked := make(chan *RegisterResult, 1)
	first.Reply = func(r *RegisterResult) { acked <- r }
	h.router.Register(first)
	time.Sleep(20 * time.Millisecond)
	h.shards.Send(string(aor), &poison{})
	if r := <-acked; r.Err != nil {
		t.Fatal(r.Err)
	}
	res := h.register(reg(aor, "sip:c@10.0.0.3", 600, "c", 1))
	if res.Err != nil || len(res.Bindings) != 2 {
		t.Fatalf("after a restart with a write in flight = %+v, want a and c", res)
	}
}

// TestForwardAcrossARestart: a forward still out when its actor restarts
// is answered (ErrInternal) at once, and its late result is not taken for
// a forward of the new instance.
func TestForwardAcrossARestart(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	port := &heldPort{sent: make(chan heldSend, 4)}
	sys := supervision.NewSystem(zap.NewNop())
	spec := Spec(zap.NewNop(), DefaultConfig(), s, port, nil)
	spec.EntityMiddleware = []actor.ReceiverMiddleware{panicOn[*poison]}
	tree, err := shard.Start(sys, zap.NewNop(), "b2bua", 5*time.Second, spec)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, sys: sys, tree: tree, shards: tree.Routers[Name], router: NewRouter(tree.Routers[Name]), conf: DefaultConfig()}
	defer h.stop()
	aor := AOR("sip:alice@localhost")
	h.register(reg(aor, "sip:alice@10.0.0.1", 600, "a", 1))
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", User: "alice", Host: "localhost"})

	one := make(chan *ForwardResult, 1)
	h.router.Forward(&Forward{AOR: aor, Request: req, Reply: func(r *ForwardResult) { one <- r }})
	first := <-port.sent
	h.shards.Send(string(aor), &poison{})
	select {
	case r := <-one:
		if !errors.Is(r.Err, shard.ErrInternal) {
			t.Fatalf("abandoned forward answered %+v", r)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the forward out during the restart was never answered")
	}
	two := make(chan *ForwardResult, 1)
	h.router.Forward(&Forward{AOR: aor, Request: req, Reply: func(r *ForwardResult) { two <- r }})
	second := <-port.sent
	sys.Root.Send(first.to, &outbound.Result{ID: first.id, Response: sip.NewResponseFromRequest(req, 486, "Busy Here", nil)})
	sys.Root.Send(second.to, &outbound.Result{ID: second.id, Response: sip.NewResponseFromRequest(req, 200, "OK", nil)})
	if r := <-two; r.Err != nil || r.Response.StatusCode != 200 {
		t.Fatalf("second forward answered %+v, want its own 200", r)
	}
}

type heldSend struct {
	to *actor.PID
	id uint64
}

// heldPort sends nothing: the test answers each request itself.
type heldPort struct{ sent chan heldSend }

func (p *heldPort) Send(_ *sip.Request, replyTo *actor.PID, id uint64) {
	p.sent <- heldSend{replyTo, id}
}
