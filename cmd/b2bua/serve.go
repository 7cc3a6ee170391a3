package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors"
	callkind "github.com/b2bua/b2bua/actors/call"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/auth/users"
	"github.com/b2bua/b2bua/config"
	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siplog"
	"github.com/b2bua/b2bua/store"
)

func newServeCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server",
		Long: "Run the server. Configuration: defaults < YAML file (--config) < B2BUA_* environment < flags.\n" +
			"With no configuration at all it serves UDP and TCP on port 5060 of every address (0.0.0.0, opened\n" +
			"dual-stack) for domain localhost, requires Bearer or Digest authentication, keeps its data\n" +
			"in ./data and answers HTTP (health, metrics, OAuth endpoints, admin API) on 127.0.0.1:8080.",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&file, "config", "", "YAML configuration file (default none)")
	overlay := config.AddFlags(cmd.Flags(), config.Default())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := loadConfig(file, overlay)
		if err != nil {
			return err
		}
		if err := preflight(c); err != nil {
			return err
		}
		return serve(cmd.Context(), c)
	}
	return cmd
}

// loadConfig is defaults < file < environment < the flags overlay gives,
// then the derived settings, then validation.
func loadConfig(file string, overlay func(*config.Config)) (config.Config, error) {
	c, err := config.Load(file, os.LookupEnv)
	if err != nil {
		return c, err
	}
	overlay(&c)
	c.Resolve()
	return c, c.Validate()
}

// applyRuntime sets the collector's percentage and the soft memory limit
// (config.ResolveRuntime) and logs both with where they came from.
func applyRuntime(c config.Config, log *zap.Logger) {
	r := c.ResolveRuntime(os.LookupEnv, config.AvailableMemory)
	debug.SetGCPercent(r.GCPercent)
	if r.MemoryLimit >= 0 { // -1: GOMEMLIMIT, which the runtime applied at start
		debug.SetMemoryLimit(r.MemoryLimit)
	}
	if c.BlockProfileRate > 0 {
		runtime.SetBlockProfileRate(int(c.BlockProfileRate.Nanoseconds()))
	}
	if c.MutexProfileFraction > 0 {
		runtime.SetMutexProfileFraction(c.MutexProfileFraction)
	}
	limit := debug.SetMemoryLimit(-1)
	log.Info("go runtime", zap.Int("gc_percent", r.GCPercent), zap.String("gc_percent_from", r.GCFrom),
		zap.Int64("memory_limit_bytes", limit), zap.String("memory_limit_from", r.LimitFrom))
}

// serve runs the server until SIGINT/SIGTERM: store → actors → SIP edge →
// HTTP, stopped in reverse order so every acknowledged write is committed.
func serve(ctx context.Context, c config.Config) error {
	listeners, err := parseListeners(c.Listen)
	if err != nil {
		return err
	}
	log, err := newLogger(c.LogLevel, c.LogFormat)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	applyRuntime(c, log)
	sip.SetDefaultLogger(siplog.New(log.Named("sipgo")))
	if c.Auth == "none" {
		log.Warn("authentication is off (--auth none): anyone can register any address")
	}
	if err := os.MkdirAll(c.Data, 0o750); err != nil {
		return err
	}
	// Bind HTTP first: with port 0 the token issuer derived from --http
	// (and the authz_server of every challenge) must name the real port.
	httpLn, err := net.Listen("tcp", c.HTTP)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	defer httpLn.Close() // a no-op once the HTTP server owns it
	if bound := httpLn.Addr().String(); bound != c.HTTP && c.Tokens.Issuer == "http://"+c.HTTP {
		c.Tokens.Issuer = "http://" + bound
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sc := c.Store
	sc.Path = c.StorePath()
	st, err := store.OpenBolt(sc, log.Named("store"))
	if err != nil {
		return err
	}
	defer closeLogged(log, "store", st.Close)
	st.SetMetrics(store.NewMetrics(reg))

	svc, err := openUsers(c, st, log)
	if err != nil {
		return err
	}
	var edgeAuth *edge.Auth
	if c.Auth != "none" {
		a, stopAuth, err := buildAuth(c, st, svc, log)
		if err != nil {
			return err
		}
		defer stopAuth()
		edgeAuth = a
	}
	adminToken, err := writeAdminToken(c.Data)
	if err != nil {
		return err
	}

	var relay *media.Engine
	if c.Calls.Media == callkind.MediaRelay {
		if relay, err = startMedia(c, listeners, reg, log); err != nil {
			return err
		}
	}
	sys, err := actors.Start(actors.Deps{Log: log, Store: st, Registrar: c.Registrar, Presence: c.Presence, Messaging: c.Messaging, Calls: c.Calls,
		Users: usersDirectory{svc: svc, domain: strings.ToLower(c.Edge.Domain)}, Metrics: shard.NewMetrics(reg), Media: relay})
	if err != nil {
		return err
	}
	defer closeLogged(log, "actors", sys.Stop)

	ec := c.Edge
	ec.Listen, ec.Auth = listeners, edgeAuth
	ec.Outbound = c.Calls.Outbound != ""
	sipEdge, err := edge.New(ec, log.Named("edge"), sys.Routers, edge.NewMetrics(reg))
	if err != nil {
		return err
	}
	if err := sipEdge.Start(); err != nil {
		return err
	}
	defer closeLogged(log, "sip edge", sipEdge.Close)
	// Actors send SIP through the edge's client port from now on; the
	// deferred Set(nil) runs before the edge closes, so a Send during
	// shutdown gets ErrUnavailable instead of a closed transport.
	sys.Outbound.Set(sipEdge.Port(sys.Actors))
	defer sys.Outbound.Set(nil)

	var ready atomic.Bool
	papi := &presenceAPI{router: sys.Routers.Presence, adminToken: adminToken, domain: c.Edge.Domain, log: log.Named("presence-api")}
	if edgeAuth != nil && edgeAuth.Bearer != nil {
		papi.verify = edgeAuth.Bearer.Verify
	}
	httpSrv, err := startHTTP(httpLn, reg, &ready, log, svc.Handler(), adminHandler(svc, adminToken, log.Named("admin")), papi.handler())
	if err != nil {
		return err
	}
	defer closeLogged(log, "http", func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return httpSrv.Shutdown(sctx)
	})
	ready.Store(true)
	log.Info("b2bua ready", zap.String("domain", c.Edge.Domain), zap.Strings("sip", listenerStrings(sipEdge.Addrs())), zap.String("http", c.HTTP))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go purgeHourly(ctx, svc, log)
	<-ctx.Done()
	ready.Store(false)
	log.Info("shutting down")
	return nil
}

// purgeHourly drops expired refresh tokens and revocation records, which
// the users service otherwise purges only at start.
func purgeHourly(ctx context.Context, svc *users.Service, log *zap.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := svc.Purge(); err != nil {
				log.Warn("purge of expired tokens failed", zap.Error(err))
			}
		}
	}
}

func parseListeners(ss []string) ([]edge.Listener, error) {
	out := make([]edge.Listener, 0, len(ss))
	for _, s := range ss {
		l, err := edge.ParseListener(s)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func listenerStrings(ls []edge.Listener) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.String()
	}
	return out
}

// startHTTP serves /api/ (the presence API), /healthz (the process is up), /readyz (the SIP edge is
// serving), /metrics, pprof, the OAuth 2.0 endpoints (oauth: /oauth/ and
// /.well-known/) and the admin API on ln.
func startHTTP(ln net.Listener, reg *prometheus.Registry, ready *atomic.Bool, log *zap.Logger, oauth, admin, api http.Handler) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/oauth/", oauth)
	mux.Handle("/.well-known/", oauth)
	mux.Handle("/admin/", admin)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index) // the HTTP listener is loopback by default: keep it so
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", zap.Error(err))
		}
	}()
	log.Info("http listening", zap.String("addr", ln.Addr().String()))
	return srv, nil
}

func closeLogged(log *zap.Logger, what string, f func() error) {
	if err := f(); err != nil {
		log.Error("stop failed", zap.String("what", what), zap.Error(err))
	}
}

// startMedia makes the media relay: bound on --media-address, else on the
// first SIP listener's IP (127.0.0.1 when that one is a wildcard).
func startMedia(c config.Config, listeners []edge.Listener, reg prometheus.Registerer, log *zap.Logger) (*media.Engine, error) {
	addr := netip.MustParseAddr("127.0.0.1")
	if c.Media.Address != "" {
		addr = netip.MustParseAddr(c.Media.Address) // validated with the configuration
	} else if len(listeners) > 0 {
		if ap, err := netip.ParseAddrPort(listeners[0].Addr); err == nil && !ap.Addr().IsUnspecified() {
			addr = ap.Addr().Unmap()
		}
	}
	e, err := media.NewEngine(c.Media, addr, log)
	if err != nil {
		return nil, err
	}
	e.SetMetrics(media.NewMetrics(reg, e))
	log.Info("media relay", zap.String("address", addr.String()), zap.String("rtp_ports", c.Media.Ports), zap.String("srtp", c.Media.SRTP))
	return e, nil
}
