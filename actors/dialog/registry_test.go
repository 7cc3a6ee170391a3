package dialog_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"

	"github.com/b2bua/b2bua/actors/dialog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

func TestRegistry(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	r := dialog.NewRegistry(sys.Root)
	a, b := actor.NewPID("local", "a"), actor.NewPID("local", "b")
	id := dialog.ID{CallID: "c1", LocalTag: "l", RemoteTag: "r"}
	steps := []struct {
		name  string
		do    func() error
		owner *actor.PID
	}{
		{"add", func() error { return r.Add(id, a) }, a},
		{"add again by the owner", func() error { return r.Add(id, a) }, a},
		{"add by another", func() error {
			if err := r.Add(id, b); !errors.Is(err, dialog.ErrOwned) {
				return fmt.Errorf("Add by b = %v, want ErrOwned", err)
			}
			return nil
		}, a},
		{"remove by another does nothing", func() error {
			if r.Remove(id, b) {
				return errors.New("b removed a's dialog")
			}
			return nil
		}, a},
		{"remove", func() error {
			if !r.Remove(id, a) {
				return errors.New("not removed")
			}
			return nil
		}, nil},
		{"send to nobody", func() error {
			if err := r.Send(&dialog.Request{ID: id}); !errors.Is(err, dialog.ErrNoDialog) {
				return fmt.Errorf("Send = %v, want ErrNoDialog", err)
			}
			return nil
		}, nil},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, ok := r.Owner(id)
		if (st.owner == nil) == ok || (ok && !got.Equal(st.owner)) {
			t.Fatalf("%s: owner %v %v, want %v", st.name, got, ok, st.owner)
		}
	}
}

func TestIncoming(t *testing.T) {
	tests := []struct {
		name string
		to   string
		want dialog.ID
		ok   bool
	}{
		{"in dialog", "<sip:bob@x>;tag=ours", dialog.ID{CallID: "c", LocalTag: "ours", RemoteTag: "theirs"}, true},
		{"no To tag", "<sip:bob@x>", dialog.ID{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := sip.NewRequest(sip.BYE, sip.Uri{Host: "x"})
			var to sip.ToHeader
			if _, err := sip.ParseAddressValue(tc.to, &to.Address, &to.Params); err != nil {
				t.Fatal(err)
			}
			from := &sip.FromHeader{Address: sip.Uri{Host: "y"}, Params: sip.NewParams()}
			from.Params.Add("tag", "theirs")
			cid := sip.CallIDHeader("c")
			req.AppendHeader(&to)
			req.AppendHeader(from)
			req.AppendHeader(&cid)
			got, ok := dialog.Incoming(req)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("Incoming = %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestConcurrent adds, looks up and removes many dialogs from many
// goroutines (run with -race) and delivers to a real actor.
func TestConcurrent(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithDeadLetterThrottleInterval(10 * time.Millisecond))
	defer sys.Shutdown()
	got := make(chan *dialog.Request, 1)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(*dialog.Request); ok {
			got <- m
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	r := dialog.NewRegistry(sys.Root)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := dialog.ID{CallID: fmt.Sprintf("%d-%d", g, i), LocalTag: "l", RemoteTag: "r"}
				if err := r.Add(id, pid); err != nil {
					t.Error(err)
					return
				}
				if p, ok := r.Owner(id); !ok || !p.Equal(pid) {
					t.Error("lost", id)
				}
				if i%2 == 0 {
					r.Remove(id, pid)
				}
			}
		}()
	}
	wg.Wait()
	if n := r.Len(); n != 8*250 {
		t.Fatalf("Len = %d, want %d", n, 8*250)
	}
	id := dialog.ID{CallID: "0-1", LocalTag: "l", RemoteTag: "r"}
	if err := r.Send(&dialog.Request{ID: id}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.ID != id {
			t.Fatalf("delivered %+v", m.ID)
		}
	case <-time.After(time.Second):
		t.Fatal("not delivered")
	}
}
