package actors_test

import (
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// TestStartEveryKind starts the server's kinds the way serve does: each is
// ready, fills its router, and the tree stops cleanly.
func TestStartEveryKind(t *testing.T) {
	st, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(t.TempDir(), "b2bua.db")}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sys, err := actors.Start(actors.Deps{Log: zap.NewNop(), Store: st, Registrar: registrar.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if sys.Routers.Registrar == nil || sys.Routers.Dialogs == nil || sys.Outbound == nil {
		t.Fatalf("routers not filled: %+v", sys.Routers)
	}
	got := make(chan *registrar.LookupResult, 1)
	sys.Routers.Registrar.Lookup(&registrar.Lookup{AOR: "sip:nobody@localhost", Reply: func(r *registrar.LookupResult) { got <- r }})
	select {
	case r := <-got:
		if len(r.Bindings) != 0 || r.Err != nil {
			t.Fatalf("lookup of nobody = %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
	if err := sys.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
}

// TestStartRejectsABadConfig: nothing is started for a configuration that
// cannot work.
func TestStartRejectsABadConfig(t *testing.T) {
	c := registrar.DefaultConfig()
	c.Shards = 0
	if _, err := actors.Start(actors.Deps{Log: zap.NewNop(), Registrar: c}); err == nil {
		t.Fatal("started with zero shards")
	}
}
