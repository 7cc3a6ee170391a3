package registrar

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/store/storetest"
	"github.com/b2bua/b2bua/supervision"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type harness struct {
	t      testing.TB
	sys    *actor.ActorSystem
	tree   *shard.Tree
	shards *shard.Router
	router *Router
	conf   Config
}

// poison panics the registration actor it is routed to; shardPoison
// panics a shard. Test middleware injects the faults, so production code
// carries no hook for them.
type poison struct{ shard.Envelope }
type shardPoison struct{}

func panicOn[T any](next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		if _, ok := env.Message.(T); ok {
			panic("poisoned")
		}
		next(c, env)
	}
}

// start runs a registrar on s in a fresh actor system, built the way the
// server builds it (registrar.Spec on the shard machinery).
func start(t testing.TB, s store.Store, log *zap.Logger, c Config) *harness {
	t.Helper()
	return startWith(t, s, log, c, nil)
}

func startWith(t testing.TB, s store.Store, log *zap.Logger, c Config, m *shard.Metrics) *harness {
	t.Helper()
	sys := supervision.NewSystem(log)
	spec := Spec(log, c, s, nil, m)
	spec.EntityMiddleware = []actor.ReceiverMiddleware{panicOn[*poison]}
	spec.ShardMiddleware = []actor.ReceiverMiddleware{panicOn[*shardPoison]}
	tree, err := shard.Start(sys, log, "b2bua", 5*time.Second, spec)
	if err != nil {
		t.Fatal(err)
	}
	r := tree.Routers[Name]
	return &harness{t: t, sys: sys, tree: tree, shards: r, router: NewRouter(r), conf: c}
}

func (h *harness) stop() {
	if err := h.tree.Stop(); err != nil {
		h.t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // dead-letter throttle (DEPENDENCIES.md)
}

func (h *harness) register(r *Register) *RegisterResult {
	h.t.Helper()
	ch := make(chan *RegisterResult, 1)
	r.Reply = func(res *RegisterResult) { ch <- res }
	h.router.Register(r)
	select {
	case res := <-ch:
		return res
	case <-time.After(5 * time.Second):
		h.t.Fatal("no reply to Register")
		return nil
	}
}

func (h *harness) lookup(aor AOR) []Binding {
	h.t.Helper()
	ch := make(chan *LookupResult, 1)
	h.router.Lookup(&Lookup{AOR: aor, Reply: func(res *LookupResult) { ch <- res }})
	select {
	case res := <-ch:
		return res.Bindings
	case <-time.After(5 * time.Second):
		h.t.Fatal("no reply to Lookup")
		return nil
	}
}

// live reports whether the registration actor of aor is running.
func (h *harness) live(aor AOR) bool {
	ok, err := h.shards.Resident(string(aor), 5*time.Second)
	if err != nil {
		h.t.Fatal(err)
	}
	return ok
}

func openStore(t testing.TB, dir string) *store.Bolt {
	t.Helper()
	s, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(dir, "b2bua.db")}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func reg(aor AOR, uri string, exp int, callID string, cseq uint32) *Register {
	return &Register{AOR: aor, Contacts: []Contact{{URI: uri, Q: -1, Expires: exp}}, Expires: -1,
		CallID: callID, CSeq: cseq, Branch: fmt.Sprintf("z9hG4bK-%s-%d", callID, cseq)}
}

func TestRegisterLookupAndRestore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	h := start(t, s, zap.NewNop(), DefaultConfig())
	for i := range 50 {
		aor := AOR(fmt.Sprintf("sip:user%d@localhost", i))
		res := h.register(reg(aor, fmt.Sprintf("sip:user%d@127.0.0.1:5070", i), 600, "c", 1))
		if res.Err != nil || len(res.Bindings) != 1 {
			t.Fatalf("register %s: %+v", aor, res)
		}
	}
	if got := h.lookup("sip:user7@localhost"); len(got) != 1 || got[0].Contact != "sip:user7@127.0.0.1:5070" {
		t.Fatalf("lookup = %+v", got)
	}
	h.stop()
	s.Close()

	// A new process on the same data directory has every binding back.
	s = openStore(t, dir)
	defer s.Close()
	h = start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	for i := range 50 {
		aor := AOR(fmt.Sprintf("sip:user%d@localhost", i))
		if got := h.lookup(aor); len(got) != 1 || got[0].Remaining(time.Now()) > 600 || got[0].Remaining(time.Now()) < 590 {
			t.Fatalf("after restart %s = %+v", aor, got)
		}
		if i == 0 && h.live(AOR("sip:user1@localhost")) {
			t.Fatal("restore spawned actors: a restored AOR should stay passivated until used")
		}
	}
}

func TestPanicRestartsOnlyThatActor(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := start(t, s, zap.New(core), DefaultConfig())
	defer h.stop()
	h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 1))
	h.register(reg("sip:bob@localhost", "sip:bob@10.0.0.2", 600, "b", 1))

	h.shards.Send("sip:alice@localhost", &poison{})

	// Alice's actor comes back with its state from the store.
	if got := h.lookup("sip:alice@localhost"); len(got) != 1 || got[0].Contact != "sip:alice@10.0.0.1" {
		t.Fatalf("alice after restart = %+v", got)
	}
	if got := h.lookup("sip:bob@localhost"); len(got) != 1 {
		t.Fatalf("bob = %+v", got)
	}
	restarts := logs.FilterMessage("actor failed, restarting").All()
	if len(restarts) != 1 {
		t.Fatalf("%d restarts logged, want 1", len(restarts))
	}
	if pid := restarts[0].ContextMap()["pid"]; !strings.Contains(fmt.Sprint(pid), "sip:alice@localhost$") {
		t.Fatalf("restarted %v, want alice's actor only", pid)
	}
	// Alice keeps working after the restart: a refresh with a higher CSeq.
	if res := h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 900, "a", 2)); res.Err != nil || res.Bindings[0].Remaining(time.Now()) != 900 {
		t.Fatalf("refresh after restart: %+v", res)
	}
}

func TestPoisonedActorStopsPastBudget(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := start(t, s, zap.New(core), DefaultConfig())
	defer h.stop()
	h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 1))
	for range supervision.DefaultBudget.Max + 1 {
		h.shards.Send("sip:alice@localhost", &poison{})
	}
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("actor failed past its restart budget, stopping").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("actor was never stopped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The AOR is not lost with its actor: the next request starts a fresh
	// one from the store, and is answered.
	waitFor(t, func() bool { return !h.live("sip:alice@localhost") })
	if res := h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 2)); res.Err != nil || len(res.Bindings) != 1 {
		t.Fatalf("register after the actor was stopped: %+v", res)
	}
}

// TestPanicWhileRegisteringAnswers500: a REGISTER whose handling panics is
// answered with ErrInternal (500) rather than never, and only once even
// when the panic comes after the answer.
func TestPanicWhileRegisteringAnswers500(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	var boom atomic.Bool
	c := DefaultConfig()
	c.Now = func() time.Time {
		if boom.Load() {
			panic("clock broke")
		}
		return time.Now()
	}
	h := start(t, s, zap.NewNop(), c)
	defer h.stop()
	h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 1))
	boom.Store(true)
	if res := h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 2)); !errors.Is(res.Err, ErrInternal) {
		t.Fatalf("panicking REGISTER answered %+v, want ErrInternal", res)
	}
	boom.Store(false)

	// A panic after the answer (here: in the reply itself) must not answer twice.
	r := reg("sip:bob@localhost", "sip:bob@10.0.0.2", 600, "b", 1)
	answers := make(chan *RegisterResult, 2)
	r.Reply = func(res *RegisterResult) {
		answers <- res
		panic("reply broke")
	}
	h.router.Register(r)
	<-answers
	select {
	case res := <-answers:
		t.Fatalf("answered twice: %+v", res)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestFailedWriteIsNotAcknowledged(t *testing.T) {
	real := openStore(t, t.TempDir())
	defer real.Close()
	s := &storetest.Failing{Store: real}
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 1))

	s.Fail.Store(true)
	res := h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.9", 600, "b", 1))
	if !errors.Is(res.Err, ErrStore) || len(res.Bindings) != 0 {
		t.Fatalf("failed write answered %+v, want ErrStore", res)
	}
	s.Fail.Store(false)
	// The actor reloaded the store: the unsaved contact is gone.
	if got := h.lookup("sip:alice@localhost"); len(got) != 1 || got[0].Contact != "sip:alice@10.0.0.1" {
		t.Fatalf("after failed write = %+v", got)
	}
}

func TestRetransmissionIsAnsweredAgain(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	first := h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 1))
	again := h.register(reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 1))
	if again.Err != nil || len(again.Bindings) != 1 || again.Bindings[0].Expires != first.Bindings[0].Expires {
		t.Fatalf("retransmission = %+v, want the first answer %+v", again, first)
	}
	// Same Call-ID and CSeq on a new branch is a new request: out of order.
	fresh := reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 1)
	fresh.Branch = "z9hG4bK-new"
	if res := h.register(fresh); !errors.Is(res.Err, ErrOutOfOrder) {
		t.Fatalf("same CSeq, new branch = %+v, want ErrOutOfOrder", res)
	}
}

// TestRetransmissionDuringWriteIsAbsorbed: a copy of a REGISTER that
// arrives while the original is still being written gets ErrInProgress
// (the edge sends nothing for it) and causes no second write; the original
// is answered as usual.
func TestRetransmissionDuringWriteIsAbsorbed(t *testing.T) {
	s := &storetest.Slow{Store: openStore(t, t.TempDir()), Delay: 200 * time.Millisecond}
	defer s.Close()
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	first := reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 1)
	copyOf := reg("sip:alice@localhost", "sip:alice@10.0.0.1", 600, "a", 1)
	answers := make(chan *RegisterResult, 2)
	first.Reply = func(r *RegisterResult) { answers <- r }
	copyOf.Reply = func(r *RegisterResult) { answers <- r }
	h.router.Register(first)
	h.router.Register(copyOf)
	if r := <-answers; !errors.Is(r.Err, ErrInProgress) {
		t.Fatalf("the copy was answered %+v, want ErrInProgress first", r)
	}
	if r := <-answers; r.Err != nil || len(r.Bindings) != 1 {
		t.Fatalf("the original was answered %+v", r)
	}
}

func TestUnregisterPassivates(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	aor := AOR("sip:alice@localhost")
	h.register(reg(aor, "sip:alice@10.0.0.1", 600, "a", 1))
	if !h.live(aor) {
		t.Fatal("no actor after REGISTER")
	}
	h.register(&Register{AOR: aor, Wildcard: true, Expires: 0, CallID: "a", CSeq: 2, Branch: "z9hG4bK-2"})
	waitFor(t, func() bool { return !h.live(aor) })
	if _, err := s.Load(Kind, string(aor)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record after unregister: %v", err)
	}
	// And it comes back on the next REGISTER.
	if res := h.register(reg(aor, "sip:alice@10.0.0.1", 600, "a", 3)); res.Err != nil || len(res.Bindings) != 1 {
		t.Fatalf("register after passivation: %+v", res)
	}
}

func TestBindingsExpireOnTheirOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir())
		defer s.Close()
		h := start(t, s, zap.NewNop(), DefaultConfig())
		defer h.stop()
		aor := AOR("sip:alice@localhost")
		r := reg(aor, "sip:alice@10.0.0.1", 60, "a", 1)
		r.Contacts = append(r.Contacts, Contact{URI: "sip:alice@10.0.0.2", Q: -1, Expires: 120})
		h.register(r)

		time.Sleep(61 * time.Second)
		synctest.Wait()
		if got := h.lookup(aor); len(got) != 1 || got[0].Contact != "sip:alice@10.0.0.2" {
			t.Fatalf("after 61 s = %+v", got)
		}
		time.Sleep(60 * time.Second)
		synctest.Wait()
		if got := h.lookup(aor); len(got) != 0 {
			t.Fatalf("after 121 s = %+v", got)
		}
		waitFor(t, func() bool { _, err := s.Load(Kind, string(aor)); return errors.Is(err, store.ErrNotFound) })
	})
}

func TestConcurrentRegistrations(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				aor := AOR(fmt.Sprintf("sip:u%d-%d@localhost", w, i))
				if res := h.register(reg(aor, "sip:x@127.0.0.1", 600, "c", 1)); res.Err != nil {
					t.Error(res.Err)
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	_ = s.Scan(Kind, func(string, []byte) error { n++; return nil })
	if n != 1600 {
		t.Fatalf("%d records stored, want 1600", n)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUnregisterThenRegisterRace: an unREGISTER empties an AOR, and a new
// REGISTER of another device arrives while the deletion is still being
// written. The store is slowed down to hold that window open. The actor
// must not passivate before its deletion committed, or a successor would
// read the deleted record and resurrect the removed contact.
func TestUnregisterThenRegisterRace(t *testing.T) {
	s := &storetest.Slow{Store: openStore(t, t.TempDir()), Delay: 30 * time.Millisecond}
	defer s.Close()
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	aor := AOR("sip:racer@localhost")
	for i := range 10 {
		h.register(reg(aor, "sip:old@10.0.0.1", 600, fmt.Sprintf("old%d", i), 1))
		results := make(chan *RegisterResult, 2)
		reply := func(r *RegisterResult) { results <- r }
		h.router.Register(&Register{AOR: aor, Wildcard: true, Expires: 0, CallID: fmt.Sprintf("u%d", i), CSeq: 1, Branch: fmt.Sprintf("z9hG4bK-u%d", i), Reply: reply})
		time.Sleep(10 * time.Millisecond) // the deletion is queued, not committed
		fresh := reg(aor, fmt.Sprintf("sip:new%d@10.0.0.2", i), 600, fmt.Sprintf("n%d", i), 1)
		fresh.Reply = reply
		h.router.Register(fresh)
		for range 2 {
			if r := <-results; r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		got := h.lookup(aor)
		if len(got) != 1 || got[0].Contact != fmt.Sprintf("sip:new%d@10.0.0.2", i) {
			t.Fatalf("round %d: bindings %+v", i, got)
		}
		h.register(&Register{AOR: aor, Wildcard: true, Expires: 0, CallID: "w", CSeq: uint32(i + 1), Branch: fmt.Sprintf("z9hG4bK-w%d", i)})
		waitFor(t, func() bool { return !h.live(aor) })
	}
}

// TestShardRestartKeepsStoredAORs panics a shard: its children stop with
// it, and the restarted shard must restore them from the store, or a new
// REGISTER would be taken as the AOR's first and forget older contacts.
func TestShardRestartKeepsStoredAORs(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := start(t, s, zap.NewNop(), DefaultConfig())
	defer h.stop()
	aor := AOR("sip:alice@localhost")
	h.register(reg(aor, "sip:desk@10.0.0.1", 600, "a", 1))
	shardPID := actor.NewPID(h.sys.Address(), fmt.Sprintf("b2bua/registrar/%d", shard.Of(string(aor), h.conf.Shards)))
	h.sys.Root.Send(shardPID, &shardPoison{})
	waitFor(t, func() bool { return !h.live(aor) }) // stopped with its shard
	res := h.register(reg(aor, "sip:mobile@10.0.0.2", 600, "b", 1))
	if res.Err != nil || len(res.Bindings) != 2 {
		t.Fatalf("after shard restart: %+v", res)
	}
}
