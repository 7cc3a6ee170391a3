package messaging

import (
	"path/filepath"
	"strconv"
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

// port stands in for the contacts: each answers by the behaviour set for
// its host (default 200 at once). With hold set, answers wait for
// release.
type port struct {
	root *actor.RootContext
	mu   sync.Mutex
	sent []*sip.Request
	// by host: a status code, or 0 for silence, or -1 for a transport error
	answer map[string]int
	hold   bool
	held   []func()
}

func newPort(root *actor.RootContext) *port {
	return &port{root: root, answer: map[string]int{}}
}

func (p *port) Send(req *sip.Request, replyTo *actor.PID, id uint64) {
	p.mu.Lock()
	p.sent = append(p.sent, req)
	code, set := p.answer[req.Recipient.Host]
	if !set {
		code = 200
	}
	f := func() {
		switch {
		case code == 0:
		case code < 0:
			p.root.Send(replyTo, &outbound.Result{ID: id, Err: outbound.ErrTransport})
		default:
			p.root.Send(replyTo, &outbound.Result{ID: id, Response: sip.NewResponseFromRequest(req, code, "R"+strconv.Itoa(code), nil)})
		}
	}
	if p.hold {
		p.held = append(p.held, f)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	f()
}

func (p *port) set(host string, code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answer[host] = code
}

// requests waits until at least n requests were sent and returns them.
func (p *port) requests(t testing.TB, n int) []*sip.Request {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		if len(p.sent) >= n {
			out := append([]*sip.Request(nil), p.sent...)
			p.mu.Unlock()
			return out
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("%d requests sent, want %d", len(p.sent), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (p *port) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

// release answers the held requests.
func (p *port) release() {
	p.mu.Lock()
	fs := p.held
	p.held = nil
	p.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// users is the Directory and the registrar of the tests.
type users struct {
	mu       sync.Mutex
	known    map[string]bool
	contacts map[string][]Contact
}

func (u *users) Known(aor string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.known[aor]
}

func (u *users) lookup(aor string, reply func([]Contact, error)) {
	u.mu.Lock()
	cs := u.contacts[aor]
	u.mu.Unlock()
	reply(cs, nil)
}

func (u *users) online(aor string, hosts ...string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var cs []Contact
	var uris []string
	for _, h := range hosts {
		uri := "sip:u@" + h + ":5070"
		cs = append(cs, Contact{URI: uri})
		uris = append(uris, uri)
	}
	u.contacts[aor] = cs
	return uris
}

type harness struct {
	t      testing.TB
	tree   *shard.Tree
	router *Router
	port   *port
	users  *users
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

func testConfig() Config {
	c := DefaultConfig()
	c.Shards = 2
	c.DeliveryTimeout = 200 * time.Millisecond
	return c
}

// run runs the kind on s the way the server does; u is who is known and
// online (nil: alice and bob are known, nobody online).
func run(t testing.TB, s store.Store, c Config, u *users) *harness {
	t.Helper()
	if u == nil {
		u = &users{known: map[string]bool{alice: true, bob: true}, contacts: map[string][]Contact{}}
	}
	return runWith(t, s, c, u, u)
}

// runWith is run with dir for the directory of known users.
func runWith(t testing.TB, s store.Store, c Config, u *users, dir Directory) *harness {
	t.Helper()
	log := zap.NewNop()
	sys := supervision.NewSystem(log)
	p := newPort(sys.Root)
	d := Deps{Log: log, Config: c, Store: s, Port: p, Lookup: u.lookup, Known: dir}
	tree, err := shard.Start(sys, log, "t", 5*time.Second, Spec(d))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, tree: tree, router: NewRouter(tree.Routers[Name], c), port: p, users: u, store: s}
}

// stop stops the actors; the store stays open (close it, or run again).
func (h *harness) stop() {
	if err := h.tree.Stop(); err != nil {
		h.t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // dead-letter throttle (DEPENDENCIES.md)
}

const (
	alice = "sip:alice@example.com"
	bob   = "sip:bob@example.com"
)

var cseq struct {
	sync.Mutex
	n uint32
}

func msg(to, body, date string) *Message {
	cseq.Lock()
	cseq.n++
	n := cseq.n
	cseq.Unlock()
	return &Message{AOR: to, From: `"Carol" <sip:carol@example.com>;tag=ct` + strconv.Itoa(int(n)), To: "<" + to + ">",
		CallID: "m" + strconv.Itoa(int(n)), CSeq: n, Date: date, ContentType: "text/plain", Body: []byte(body)}
}

func (h *harness) send(m *Message) *Result {
	h.t.Helper()
	ch := make(chan *Result, 1)
	m.Reply = func(r *Result) { ch <- r }
	h.router.Message(m)
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		h.t.Fatal("no reply to MESSAGE")
		return nil
	}
}

// stored is the box record of aor in the store (nil: none).
func (h *harness) stored(aor string) []stored {
	h.t.Helper()
	raw, err := h.store.Load(BoxKind, aor)
	if err != nil {
		return nil
	}
	r, err := decodeBox(raw)
	if err != nil {
		h.t.Fatal(err)
	}
	return r.Msgs
}

// eventually waits until cond holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func header(req *sip.Request, name string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}
