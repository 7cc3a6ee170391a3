package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
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
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/auth/users"
	"github.com/b2bua/b2bua/config"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/store"
)

func newServeCmd() *cobra.Command {
	var file string
	flags := config.Default()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server",
		Long: "Run the server. Configuration: defaults < YAML file (--config) < B2BUA_* environment < flags.\n" +
			"With no configuration at all it serves UDP and TCP on 0.0.0.0:5060 for domain localhost,\n" +
			"keeps its data in ./data and answers HTTP (health, metrics) on 127.0.0.1:8080.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := config.Load(file, os.LookupEnv)
			if err != nil {
				return err
			}
			overlayFlags(cmd, &c, flags)
			if err := c.Validate(); err != nil {
				return err
			}
			return serve(cmd.Context(), c)
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "config", "", "YAML configuration file")
	f.StringArrayVar(&flags.Listen, "listen", flags.Listen, "listener udp:HOST:PORT or tcp:HOST:PORT (repeatable)")
	f.StringVar(&flags.Data, "data", flags.Data, "data directory")
	f.StringVar(&flags.Domain, "domain", flags.Domain, "SIP domain served")
	f.StringArrayVar(&flags.Aliases, "domain-alias", nil, "another name of the domain (repeatable)")
	f.StringVar(&flags.HTTP, "http", flags.HTTP, "HTTP listener for /healthz, /readyz, /metrics")
	f.StringVar(&flags.Auth, "auth", flags.Auth, "authentication: bearer, digest, bearer,digest or none")
	f.StringVar(&flags.Tokens.Issuer, "token-issuer", "", "iss of our tokens, required of every token (default http://<--http>)")
	f.StringVar(&flags.Tokens.Audience, "token-audience", "", "aud required of every token (default sip:<domain>)")
	f.StringVar(&flags.Tokens.IdentityClaim, "identity-claim", "", "token claim naming the SIP user: sub, sip_uri, preferred_username (default sub)")
	f.StringSliceVar(&flags.DigestAlgorithms, "digest-algorithms", flags.DigestAlgorithms, "Digest algorithms offered, preferred first")
	f.StringVar(&flags.Tokens.JWKSURI, "jwks-uri", "", "a remote JWKS to verify tokens of an external authorization server")
	f.StringVar(&flags.Tokens.Introspection.URL, "introspection-url", "", "RFC 7662 endpoint for opaque tokens (client id and secret: B2BUA_INTROSPECTION_CLIENT_ID/_SECRET or YAML)")
	f.StringVar(&flags.LogLevel, "log-level", flags.LogLevel, "debug, info, warn or error")
	f.StringVar(&flags.LogFormat, "log-format", flags.LogFormat, "json, console or auto")
	f.BoolVar(&flags.Fsync, "fsync", flags.Fsync, "fsync every store commit (survives power loss, slower)")
	f.IntVar(&flags.MaxInFlight, "max-inflight", flags.MaxInFlight, "requests waiting for an actor before the edge answers 503 + Retry-After")
	f.DurationVar(&flags.ClientTimeout, "client-timeout", flags.ClientTimeout, "how long a request the server sends (a forwarded OPTIONS) waits for its final response (408 past it)")
	f.IntVar(&flags.Registrar.MinExpires, "min-expires", flags.Registrar.MinExpires, "shortest registration accepted, seconds (423 below)")
	f.IntVar(&flags.Registrar.MaxExpires, "max-expires", flags.Registrar.MaxExpires, "longest registration, seconds (clamped above)")
	f.IntVar(&flags.Registrar.DefaultExpires, "default-expires", flags.Registrar.DefaultExpires, "registration time when the client gives none, seconds")
	f.IntVar(&flags.Registrar.MaxContacts, "max-contacts", flags.Registrar.MaxContacts, "bindings per address-of-record")
	f.IntVar(&flags.Registrar.Shards, "shards", flags.Registrar.Shards, "registrar shard actors (0: 8 per CPU)")
	return cmd
}

// overlayFlags copies the flags the user set over c: flags win over file
// and environment, but only when given.
func overlayFlags(cmd *cobra.Command, c *config.Config, f config.Config) {
	set := func(name string, apply func()) {
		if cmd.Flags().Changed(name) {
			apply()
		}
	}
	set("listen", func() { c.Listen = f.Listen })
	set("data", func() { c.Data = f.Data })
	set("domain", func() { c.Domain = f.Domain })
	set("domain-alias", func() { c.Aliases = f.Aliases })
	set("http", func() { c.HTTP = f.HTTP })
	set("auth", func() { c.Auth = f.Auth })
	set("token-issuer", func() { c.Tokens.Issuer = f.Tokens.Issuer })
	set("token-audience", func() { c.Tokens.Audience = f.Tokens.Audience })
	set("identity-claim", func() { c.Tokens.IdentityClaim = f.Tokens.IdentityClaim })
	set("jwks-uri", func() { c.Tokens.JWKSURI = f.Tokens.JWKSURI })
	set("digest-algorithms", func() { c.DigestAlgorithms = f.DigestAlgorithms })
	set("introspection-url", func() { c.Tokens.Introspection.URL = f.Tokens.Introspection.URL })
	set("log-level", func() { c.LogLevel = f.LogLevel })
	set("log-format", func() { c.LogFormat = f.LogFormat })
	set("fsync", func() { c.Fsync = f.Fsync })
	set("max-inflight", func() { c.MaxInFlight = f.MaxInFlight })
	set("client-timeout", func() { c.ClientTimeout = f.ClientTimeout })
	set("min-expires", func() { c.Registrar.MinExpires = f.Registrar.MinExpires })
	set("max-expires", func() { c.Registrar.MaxExpires = f.Registrar.MaxExpires })
	set("default-expires", func() { c.Registrar.DefaultExpires = f.Registrar.DefaultExpires })
	set("max-contacts", func() { c.Registrar.MaxContacts = f.Registrar.MaxContacts })
	set("shards", func() { c.Registrar.Shards = f.Registrar.Shards })
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
	sip.SetDefaultLogger(edge.Slog(log.Named("sipgo")))
	if c.Auth == "none" {
		log.Warn("authentication is off (--auth none): anyone can register any address")
	}
	if err := os.MkdirAll(c.Data, 0o750); err != nil {
		return err
	}

	st, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(c.Data, "b2bua.db"), Fsync: c.Fsync}, log.Named("store"))
	if err != nil {
		return err
	}
	defer closeLogged(log, "store", st.Close)

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

	sys, err := actors.Start(actors.Deps{Log: log, Store: st, Registrar: registrarConfig(c)})
	if err != nil {
		return err
	}
	defer closeLogged(log, "actors", sys.Stop)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sipEdge, err := edge.New(edge.Config{Domain: c.Domain, Aliases: c.Aliases, Listen: listeners, Auth: edgeAuth,
		MaxInFlight: c.MaxInFlight, ClientTimeout: c.ClientTimeout}, log.Named("edge"), sys.Routers, edge.NewMetrics(reg))
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
	httpSrv, err := startHTTP(c.HTTP, reg, &ready, log, svc.Handler(), adminHandler(svc, adminToken, log.Named("admin")))
	if err != nil {
		return err
	}
	defer closeLogged(log, "http", func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return httpSrv.Shutdown(sctx)
	})
	ready.Store(true)
	log.Info("b2bua ready", zap.String("domain", c.Domain), zap.Strings("sip", listenerStrings(sipEdge.Addrs())), zap.String("http", c.HTTP))

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

func registrarConfig(c config.Config) registrar.Config {
	r := registrar.DefaultConfig()
	r.MinExpires, r.MaxExpires, r.DefaultExpires = c.Registrar.MinExpires, c.Registrar.MaxExpires, c.Registrar.DefaultExpires
	r.MaxContacts, r.Shards = c.Registrar.MaxContacts, c.Registrar.Shards
	return r
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

// startHTTP serves /healthz (the process is up), /readyz (the SIP edge is
// serving), /metrics, pprof, the OAuth 2.0 endpoints (oauth: /oauth/ and
// /.well-known/) and the admin API on addr.
func startHTTP(addr string, reg *prometheus.Registry, ready *atomic.Bool, log *zap.Logger, oauth, admin http.Handler) (*http.Server, error) {
	mux := http.NewServeMux()
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
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
