package presence

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/supervision"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// port is an outbound.Port standing in for the watchers: it records every
// NOTIFY and answers it 200 at once, unless the target's user is in
// silent (no answer ever: the port's timeout is the test's to send) or
// gone (481).
type port struct {
	root *actor.RootContext
	mu   sync.Mutex
	sent []*sip.Request
	byTo map[string][]*sip.Request
	cond *sync.Cond

	silent map[string]bool
	gone   map[string]bool
	n      int  // NOTIFYs sent
	forget bool // count NOTIFYs without keeping them (memory benchmarks)
	// udpFails answers every UDP request with ErrTransport (a body too
	// large for a datagram).
	udpFails bool
}

func newPort(root *actor.RootContext) *port {
	p := &port{root: root, byTo: map[string][]*sip.Request{}, silent: map[string]bool{}, gone: map[string]bool{}}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *port) Send(req *sip.Request, replyTo *actor.PID, id uint64) {
	p.mu.Lock()
	user := req.Recipient.User
	p.n++
	if !p.forget {
		p.sent = append(p.sent, req)
		p.byTo[user] = append(p.byTo[user], req)
	}
	silent, gone := p.silent[user], p.gone[user]
	udpFails := p.udpFails && req.Transport() == "UDP"
	p.cond.Broadcast()
	p.mu.Unlock()
	switch {
	case udpFails:
		p.root.Send(replyTo, &outbound.Result{ID: id, Err: outbound.ErrTransport})
	case silent:
	case gone:
		p.root.Send(replyTo, &outbound.Result{ID: id, Response: sip.NewResponseFromRequest(req, 481, "Gone", nil)})
	default:
		p.root.Send(replyTo, &outbound.Result{ID: id, Response: sip.NewResponseFromRequest(req, 200, "OK", nil)})
	}
}

// notifies waits until user got at least n NOTIFYs and returns them.
func (p *port) notifies(t testing.TB, user string, n int) []*sip.Request {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.byTo[user]) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s got %d NOTIFYs, want %d", user, len(p.byTo[user]), n)
		}
		p.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		p.mu.Lock()
	}
	return append([]*sip.Request(nil), p.byTo[user]...)
}

func (p *port) count(user string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byTo[user])
}

type harness struct {
	t      testing.TB
	tree   *shard.Tree
	router *Router
	port   *port
	conf   Config
	store  store.Store
}

func openStore(t testing.TB, dir string) *store.Bolt {
	t.Helper()
	s, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(dir, "b2bua.db")}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs both presence kinds on s the way the server does, with
// contacts as the registrar's answer to every lookup.
func run(t testing.TB, s store.Store, c Config, contacts map[string][]string) *harness {
	t.Helper()
	log := zap.NewNop()
	sys := supervision.NewSystem(log)
	p := newPort(sys.Root)
	d := Deps{Log: log, Config: c, Store: s, Port: p,
		Presentities:  shard.NewRouter(sys, actor.NewPID(sys.Address(), "t/"+PresentityName), c.Shards),
		Subscriptions: shard.NewRouter(sys, actor.NewPID(sys.Address(), "t/"+SubscriptionName), c.Shards),
		Lookup:        func(aor string, reply func([]string, error)) { reply(contacts[aor], nil) }}
	tree, err := shard.Start(sys, log, "t", 5*time.Second, PresentitySpec(d), SubscriptionSpec(d))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, tree: tree, router: NewRouter(d.Presentities, d.Subscriptions), port: p, conf: c, store: s}
}

func testConfig() Config {
	c := DefaultConfig()
	c.Shards = 4
	c.MinNotifyInterval = 0
	return c
}

func (h *harness) stop() {
	if err := h.tree.Stop(); err != nil {
		h.t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // dead-letter throttle (DEPENDENCIES.md)
	if err := h.store.Close(); err != nil {
		h.t.Fatal(err)
	}
}

func wait[T any](t testing.TB, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no reply to %s", what)
		var zero T
		return zero
	}
}

var seq struct {
	sync.Mutex
	n uint32
}

func nextSeq() uint32 {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return seq.n
}

const pidfOpen = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@example.com">
<tuple id="t1"><status><basic>open</basic></status><note>NOTE</note></tuple></presence>`

func body(note string) []byte { return []byte(strings.Replace(pidfOpen, "NOTE", note, 1)) }

func (h *harness) publish(aor, etag string, expires int, b []byte) *PublishResult {
	h.t.Helper()
	return h.publishTx(&Publish{AOR: aor, ETag: etag, Expires: expires, Body: b, CallID: "pub-" + aor, CSeq: nextSeq(), Branch: "z9hG4bK" + strings.Repeat("x", 3) + string(rune('a'+nextSeq()%26))})
}

func (h *harness) publishTx(m *Publish) *PublishResult {
	h.t.Helper()
	ch := make(chan *PublishResult, 1)
	m.Reply = func(r *PublishResult) { ch <- r }
	h.router.Publish(m)
	return wait(h.t, ch, "Publish")
}

// subscribe makes watcher (an AOR sip:NAME@domain) subscribe to aor; its
// NOTIFYs go to sip:NAME@watcher.test.
func (h *harness) subscribe(aor, watcher string, ev Event, expires int) (*SubscribeResult, Dialog) {
	h.t.Helper()
	name := strings.TrimPrefix(watcher[:strings.IndexByte(watcher, '@')], "sip:")
	n := nextSeq()
	d := Dialog{CallID: "sub-" + name + "-" + string(rune('a'+n%26)) + strings.Repeat("0", int(n%7)), LocalTag: "lt" + name, RemoteTag: "rt" + name,
		LocalURI: aor, RemoteURI: "<" + watcher + ">", RemoteTarget: "sip:" + name + "@watcher.test:5070", RemoteCSeq: 1, Contact: "sip:127.0.0.1:5060"}
	ch := make(chan *SubscribeResult, 1)
	h.router.Subscribe(&Subscribe{Presentity: aor, Watcher: watcher, Event: ev, Expires: expires, Dialog: d,
		Reply: func(r *SubscribeResult) { ch <- r }})
	return wait(h.t, ch, "Subscribe"), d
}

func (h *harness) resubscribe(d Dialog, cseq uint32, expires int) *SubscribeResult {
	h.t.Helper()
	ch := make(chan *SubscribeResult, 1)
	h.router.Resubscribe(d.Key(), &Resubscribe{Expires: expires, CSeq: cseq, Reply: func(r *SubscribeResult) { ch <- r }})
	return wait(h.t, ch, "Resubscribe")
}

func header(req *sip.Request, name string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}
