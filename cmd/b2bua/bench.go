package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"

	"github.com/b2bua/b2bua/bench"
)

// benchFlags holds the flags of one scenario subcommand.
type benchFlags struct {
	cfg      bench.Config
	scen     bench.ScenarioOptions
	tokens   tokenFlags
	csv      string
	json     string
	plot     string
	cpuProf  string
	logLevel string
}

// tokenFlags are the bearer token sources.
type tokenFlags struct {
	file     string
	url      string
	password string
	clientID string
}

// newBenchCmd returns "b2bua bench SCENARIO [flags] HOST:PORT": one
// subcommand per scenario, plus echo-server.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench SCENARIO [flags] HOST:PORT",
		Short: "Load-test a SIP server with an open-loop generator",
		Long: "Send SIP requests at a fixed rate over raw UDP or TCP sockets and measure successes, failures,\n" +
			"timeouts, retransmissions and latency. Scenarios: " + strings.Join(bench.ScenarioNames(), ", ") + ".",
		Example: "  b2bua bench register --rate 5000 --duration 30s --json out.json 127.0.0.1:5060\n" +
			"  b2bua bench call --rate 1000 --hold 1s --duration 10s 127.0.0.1:5060\n" +
			"  b2bua bench echo-server --listen 127.0.0.1:5070",
		// Reached only when the first argument is not a subcommand.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			_, err := bench.NewScenario(args[0], bench.ScenarioOptions{})
			return err
		},
	}
	for _, name := range bench.ScenarioNames() {
		cmd.AddCommand(newScenarioCmd(name))
	}
	cmd.AddCommand(newEchoServerCmd(), newUASServerCmd(), newMediaCmd())
	return cmd
}

// newUASServerCmd runs the call scenario's UAS on its own, so that its CPU
// shows apart from the generator's (compare.sh --scenario call).
func newUASServerCmd() *cobra.Command {
	var listen string
	var sockets int
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "uas-server",
		Short: "Run the stateless UAS of the call scenario (INVITE: 180, 200 with SDP; BYE: 200)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			uas, err := bench.ListenUAS(listen, bench.UASConfig{Sockets: sockets})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "uas-server listening on udp/%s\n", strings.Join(uas.Addrs(), ","))
			waitStop(cmd.Context(), duration)
			err = uas.Close()
			c := uas.Counts()
			fmt.Fprintf(cmd.OutOrStdout(), "uas-server invites=%d acks=%d byes=%d others=%d\n", c.Invites, c.Acks, c.Byes, c.Others)
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:5070", "address of the first socket (the others take free ports)")
	cmd.Flags().IntVar(&sockets, "sockets", 1, "UDP sockets, one reader each")
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this time (default 0: at SIGINT/SIGTERM)")
	return cmd
}

func newScenarioCmd(name string) *cobra.Command {
	f := &benchFlags{cfg: bench.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   name + " [flags] HOST:PORT",
		Short: "Run the " + name + " scenario against HOST:PORT",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd, name, args[0], f)
		},
	}
	if name == "call" {
		f.cfg.UserPrefix = "caller"
	}
	addLoadFlags(cmd, f)
	fs := cmd.Flags()
	switch name {
	case "register":
		fs.BoolVar(&f.scen.Refresh, "refresh", false, "re-REGISTER with the same Call-ID and CSeq+1 after each success (default off)")
		fs.BoolVar(&f.scen.Unregister, "unregister", false, "end each AOR's chain with a REGISTER Expires: 0 (default off)")
		fs.IntVar(&f.cfg.Expires, "expires", f.cfg.Expires, "Expires of REGISTER in seconds")
	case "message":
		addMessageFlags(cmd, f)
	case "presence":
		addPresenceFlags(cmd, f)
	case "call":
		addCallFlags(cmd, f)
	}
	return cmd
}

// addPresenceFlags adds the flags of the presence scenario; --rate is the
// PUBLISH rate across all presentities.
func addPresenceFlags(cmd *cobra.Command, f *benchFlags) {
	fs, p := cmd.Flags(), &f.scen.Presence
	*p = bench.DefaultPresenceOptions()
	fs.IntVar(&p.Presentities, "presentities", p.Presentities, "presentities P; PUBLISH k goes to pres<k mod P>")
	fs.IntVar(&p.Watchers, "watchers", p.Watchers, "watchers W per presentity, subscribed in the setup (0: PUBLISH only)")
	fs.Float64Var(&p.SubscribeRate, "subscribe-rate", p.SubscribeRate, "SUBSCRIBEs per second in the setup")
	fs.StringVar(&p.PresentityPrefix, "presentity-prefix", p.PresentityPrefix, "presentity AORs: <prefix><n>@DOMAIN")
	fs.StringVar(&p.WatcherPrefix, "watcher-prefix", p.WatcherPrefix, "watcher AORs: <prefix><n>@DOMAIN")
	fs.DurationVar(&p.NotifyWait, "notify-wait", p.NotifyWait, "stop waiting for NOTIFYs after this long without one")
	fs.DurationVar(&p.Settle, "settle", p.Settle, "pause between the setup and the first PUBLISH")
	fs.IntVar(&f.cfg.Expires, "expires", f.cfg.Expires, "Expires of SUBSCRIBE and PUBLISH in seconds")
}

// addMessageFlags adds the flags of the message scenario; --rate is the
// MESSAGE rate.
func addMessageFlags(cmd *cobra.Command, f *benchFlags) {
	fs, m := cmd.Flags(), &f.scen.Message
	*m = bench.DefaultMessageOptions()
	fs.StringVar(&f.cfg.Body, "body", f.cfg.Body, "text/plain body of MESSAGE")
	fs.StringVar(&m.To, "to", m.To, "recipients: peer (user<n+1>, no setup), online (registered at --uas, 200 expected) "+
		"or offline (registered then unregistered, 202 expected)")
	fs.IntVar(&m.Recipients, "recipients", m.Recipients, "recipients N for online/offline; user<n> sends to <prefix><n mod N>")
	fs.StringVar(&m.RecipientPrefix, "recipient-prefix", m.RecipientPrefix, "recipient AORs: <prefix><n>@DOMAIN")
	fs.StringVar(&m.UAS, "uas", m.UAS, "HOST:PORT of the online recipients' Contact, a UAS answering MESSAGE "+
		"(default empty: the generator's own socket, which answers 200)")
	fs.Float64Var(&m.RegisterRate, "register-rate", m.RegisterRate, "REGISTERs per second in the setup")
	fs.IntVar(&f.cfg.Expires, "expires", f.cfg.Expires, "Expires of the recipients' REGISTER in seconds")
}

// addCallFlags adds the flags of the call scenario; --rate is calls
// started per second.
func addCallFlags(cmd *cobra.Command, f *benchFlags) {
	fs, c := cmd.Flags(), &f.scen.Call
	*c = bench.DefaultCallOptions()
	fs.IntVar(&c.Callees, "callees", c.Callees, "callees N registered in the setup; caller<n> calls <prefix><n mod N>")
	fs.StringVar(&c.CalleePrefix, "callee-prefix", c.CalleePrefix, "callee AORs: <prefix><n>@DOMAIN")
	fs.StringVar(&c.UAS, "uas", c.UAS, "HOST:PORT of the callees' Contact, a UAS answering INVITE and BYE "+
		"(default empty: the generator starts its own UAS on loopback)")
	fs.IntVar(&c.UASSockets, "uas-sockets", c.UASSockets, "sockets of the generator's own UAS")
	fs.DurationVar(&c.Hold, "hold", c.Hold, "pause between ACK and BYE; calls up at once are about rate × hold (default 0: BYE right after the ACK)")
	fs.Float64Var(&c.RegisterRate, "register-rate", c.RegisterRate, "REGISTERs per second in the setup")
	fs.IntVar(&f.cfg.Expires, "expires", f.cfg.Expires, "Expires of the callees' REGISTER in seconds")
}

// addLoadFlags adds the flags every scenario shares.
func addLoadFlags(cmd *cobra.Command, f *benchFlags) {
	fs, c := cmd.Flags(), &f.cfg
	fs.Float64Var(&c.Rate, "rate", 1000, "logical requests started per second")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "length of the send phase (not applied when only --total is given)")
	fs.Uint64Var(&c.Total, "total", 0, "stop after this many requests (default 0: no limit)")
	fs.DurationVar(&c.Ramp, "ramp", 0, "ramp the rate up linearly over this time (default 0: the full rate at once)")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "cap of outstanding requests; more are throttled")
	fs.IntVar(&c.Users, "users", 0, "distinct AORs used in turn (default 0: a new one per request)")
	fs.StringVar(&c.UserPrefix, "user-prefix", c.UserPrefix, "user name prefix: <prefix><n>")
	fs.StringVar(&c.Domain, "domain", c.Domain, "domain of AORs and Request-URIs")
	fs.StringVar(&c.Transport, "transport", c.Transport, "udp or tcp")
	fs.StringVar(&c.Local, "local", c.Local, "local bind address")
	fs.IntVar(&c.Sockets, "sockets", c.Sockets, "client sockets (UDP) or connections (TCP)")
	fs.IntVar(&c.SocketBuffer, "socket-buffer", c.SocketBuffer, "SO_RCVBUF/SO_SNDBUF bytes")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "Timer F: a transaction without final response after this is a timeout")
	fs.DurationVar(&c.T1, "t1", c.T1, "RFC 3261 T1 (first retransmission)")
	fs.DurationVar(&c.T2, "t2", c.T2, "RFC 3261 T2 (retransmission cap)")
	fs.Float64Var(&c.MaxFailures, "max-failures", c.MaxFailures, "exit non-zero above this share of unsuccessful requests")
	fs.IntVar(&c.TargetPID, "target-pid", 0, "sample CPU and RSS of this PID every second (default none)")
	fs.StringVar(&c.DigestPassword, "digest-password", "", "answer Digest challenges with this password (default none: no Digest)")
	fs.StringVar(&f.tokens.file, "token-file", "", "bearer tokens: one per line, or user<TAB>token lines (default none)")
	fs.StringVar(&f.tokens.url, "token-url", "", "OAuth token endpoint: fetch a token per user (needs --users; default none)")
	fs.StringVar(&f.tokens.password, "password", "", "password of every user for --token-url (default none)")
	fs.StringVar(&f.tokens.clientID, "client-id", "sipua", "client_id for --token-url")
	fs.StringVar(&f.csv, "csv", "", "write the per-second series in SIPp trace_stat style to FILE (default none)")
	fs.StringVar(&f.json, "json", "", "write the summary and per-second series as JSON to FILE (default none)")
	fs.StringVar(&f.plot, "plot", "", "draw throughput and latency over time to FILE.png (default none)")
	fs.StringVar(&f.cpuProf, "cpuprofile", "", "write a CPU profile of the generator to FILE (default none)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "diagnostics level on stderr: debug, info, warn, error")
}

func runBench(cmd *cobra.Command, name, target string, f *benchFlags) error {
	log, err := newBenchLogger(f.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := f.cfg
	if cmd.Flags().Changed("total") && !cmd.Flags().Changed("duration") {
		cfg.Duration = 0 // --total alone: run until that many were sent
	}
	if cfg.Scenario, err = bench.NewScenario(name, f.scen); err != nil {
		return err
	}
	cfg.Target, cfg.Log = target, log
	if cfg.Tokens, err = loadTokens(ctx, f.tokens, cfg); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	cfg.Progress, cfg.Terminal = out, isTerminal(out)
	if f.cpuProf != "" {
		stopProf, err := startCPUProfile(f.cpuProf)
		if err != nil {
			return err
		}
		defer stopProf()
	}
	res, runErr := bench.Run(ctx, cfg)
	if res == nil {
		return runErr
	}
	if err := bench.WriteSummary(out, res); err != nil {
		return err
	}
	fmt.Fprintln(out, bench.SummaryLine(res))
	return errors.Join(runErr, writeOutputs(f, res))
}

// loadTokens reads --token-file or fetches from --token-url.
func loadTokens(ctx context.Context, t tokenFlags, cfg bench.Config) (*bench.Tokens, error) {
	switch {
	case t.file != "" && t.url != "":
		return nil, errors.New("bench: --token-file and --token-url exclude each other")
	case t.file != "":
		fh, err := os.Open(t.file)
		if err != nil {
			return nil, err
		}
		defer func() { _ = fh.Close() }()
		return bench.LoadTokens(fh)
	case t.url != "":
		if cfg.Users <= 0 {
			return nil, errors.New("bench: --token-url needs --users N")
		}
		users := make([]string, cfg.Users)
		for i := range users {
			users[i] = fmt.Sprintf("%s%d", cfg.UserPrefix, i)
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		g := &bench.PasswordGrant{URL: t.url, ClientID: t.clientID}
		return g.FetchAll(ctx, users, t.password)
	}
	return nil, nil
}

// writeOutputs writes the --csv, --json and --plot files.
func writeOutputs(f *benchFlags, res *bench.Result) error {
	outputs := []struct {
		path  string
		write func(io.Writer, *bench.Result) error
	}{{f.csv, bench.WriteCSV}, {f.json, bench.WriteJSON}, {f.plot, bench.WritePlot}}
	var errs []error
	for _, o := range outputs {
		if o.path == "" {
			continue
		}
		fh, err := os.Create(o.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, o.write(fh, res), fh.Close())
	}
	return errors.Join(errs...)
}

func startCPUProfile(path string) (func(), error) {
	fh, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		_ = fh.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = fh.Close() }, nil
}

// isTerminal reports whether w is a terminal (progress rewrites one line).
func isTerminal(w io.Writer) bool {
	fh, ok := w.(*os.File)
	return ok && term.IsTerminal(int(fh.Fd()))
}

// newBenchLogger builds the diagnostics logger on stderr.
func newBenchLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("bench: --log-level: %w", err)
	}
	enc := zap.NewDevelopmentEncoderConfig()
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), lvl)
	return zap.New(core), nil
}

func newEchoServerCmd() *cobra.Command {
	var listen, transport string
	var status int
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "echo-server",
		Short: "Run a stateless SIP responder that answers every request (the generator's ceiling)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv, err := bench.ListenEcho(transport, listen, bench.EchoConfig{Status: status})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "echo-server listening on %s/%s\n", transport, srv.Addr())
			waitStop(cmd.Context(), duration)
			err = srv.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "echo-server answered requests=%d\n", srv.Requests())
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:5060", "address to listen on")
	cmd.Flags().StringVar(&transport, "transport", "udp", "udp or tcp")
	cmd.Flags().IntVar(&status, "status", 200, "status code of every answer")
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this time (default 0: at SIGINT/SIGTERM)")
	return cmd
}

// waitStop returns on SIGINT or SIGTERM, or after d when d > 0: how long
// a bench server (echo, UAS) serves.
func waitStop(ctx context.Context, d time.Duration) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	<-ctx.Done()
}
