package edge_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
	"github.com/b2bua/b2bua/store"
	"github.com/b2bua/b2bua/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a real edge on loopback in front of a real registrar and store.
type server struct {
	edge     *edge.Server
	sys      *actors.System
	udp, tcp string
}

func startServer(t testing.TB) *server { return startServerOpts(t, options{}) }

// startServerWith starts a server that authenticates with a (nil: none).
func startServerWith(t testing.TB, a *edge.Auth) *server {
	return startServerOpts(t, options{auth: a})
}

type options struct {
	auth        *edge.Auth
	maxInFlight int
	slowStore   time.Duration // hold every write this long
	log         *zap.Logger   // nil: quiet (warnings with -v)
	listen      []edge.Listener
	// edit changes the edge's configuration and routers before New.
	edit    func(*edge.Config, *actors.System, *actors.Routers)
	metrics *edge.Metrics
	// kinds replaces the server's kinds (actors.Start).
	kinds []func(actors.Deps) actors.Kind
	// deps changes the actors' dependencies (their configurations) before
	// actors.Start.
	deps func(*actors.Deps)
}

func startServerOpts(t testing.TB, o options) *server {
	t.Helper()
	log := zap.NewNop()
	if testing.Verbose() {
		log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	if o.log != nil {
		log = o.log
	}
	bolt, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(t.TempDir(), "b2bua.db")}, log)
	if err != nil {
		t.Fatal(err)
	}
	var st store.Store = bolt
	if o.slowStore > 0 {
		st = &storetest.Slow{Store: bolt, Delay: o.slowStore}
	}
	rc := registrar.DefaultConfig()
	rc.Shards = 4
	d := actors.Deps{Log: log, Store: st, Registrar: rc}
	if o.deps != nil {
		o.deps(&d)
	}
	sys, err := actors.Start(d, o.kinds...)
	if err != nil {
		t.Fatal(err)
	}
	conf := edge.Config{Domain: "localhost", Listen: o.listen, Auth: o.auth, MaxInFlight: o.maxInFlight}
	if conf.Listen == nil {
		conf.Listen = []edge.Listener{{Network: "udp", Addr: "127.0.0.1:0"}, {Network: "tcp", Addr: "127.0.0.1:0"}}
	}
	routers := sys.Routers
	if o.edit != nil {
		o.edit(&conf, sys, &routers)
	}
	e, err := edge.New(conf, log, routers, o.metrics)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
		if err := sys.Stop(); err != nil {
			t.Error(err)
		}
		if err := st.Close(); err != nil {
			t.Error(err)
		}
		time.Sleep(100 * time.Millisecond) // dead-letter throttle
	})
	s := &server{edge: e, sys: sys}
	for _, l := range e.Addrs() {
		if l.Network == "udp" {
			s.udp = l.Addr
		} else {
			s.tcp = l.Addr
		}
	}
	return s
}

func (s *server) dial(t testing.TB, network string) *siptest.Client {
	t.Helper()
	addr := s.udp
	if network == "tcp" {
		addr = s.tcp
	}
	c, err := siptest.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// goldenVia is the sent-by of the golden requests' Via.
const goldenVia = "127.0.0.1:5999"

// TestGolden sends each request of testdata/register over UDP (stateless
// path) and over TCP (transaction path) and compares the response with the
// golden expectation: both paths must answer the same.
func TestGolden(t *testing.T) {
	goldens := append(siptest.LoadGoldens(t, "testdata/register"), siptest.LoadGoldens(t, "testdata/presence")...)
	goldens = append(goldens, siptest.LoadGoldens(t, "testdata/message")...)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			s := startServer(t)
			c := s.dial(t, network)
			for _, g := range goldens {
				t.Run(g.Name, func(t *testing.T) {
					// Responses go where Via says: put the client's address there.
					req := strings.Replace(string(g.Request), goldenVia, c.LocalAddr(), 1)
					if network == "tcp" {
						req = strings.Replace(req, "SIP/2.0/UDP", "SIP/2.0/TCP", 1)
					}
					res, err := c.Do([]byte(req), 3*time.Second)
					if err != nil {
						t.Fatalf("%s: %v", g.Name, err)
					}
					res = strings.Replace(res, c.LocalAddr(), goldenVia, 1)
					if network == "tcp" {
						res = strings.Replace(res, "SIP/2.0/TCP", "SIP/2.0/UDP", 1)
						if *siptest.Update {
							return // the UDP run writes the files
						}
					}
					g.Check(t, res)
				})
			}
		})
	}
}
