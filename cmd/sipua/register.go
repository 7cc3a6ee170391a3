package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/b2bua/b2bua/sip/ua"
)

func newRegisterCmd(g *globals) *cobra.Command {
	var once, unregister bool
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register at the server and stay registered until Ctrl-C",
		Long: "register registers --id at --server and keeps the registration alive, printing each change of\n" +
			"its state, until Ctrl-C, which unregisters (REGISTER Expires: 0).\n\n" +
			"--once registers and exits at once: the binding stays at the server until it expires (--expires),\n" +
			"pointing at a listener that is gone; use it to check credentials or to make the AOR known.\n" +
			"--unregister registers and unregisters at once: a credentials check that leaves nothing behind.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, c, err := g.serverPeer(true)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			out := cmd.OutOrStdout()
			events := p.RegEvents()
			if err := g.register(ctx, p, c, expires); err != nil {
				g.closePeer(p)
				return err
			}
			registered := time.Now()
			fmt.Fprintf(out, "registered %s at %s\n", p.AOR(), g.server)
			switch {
			case unregister:
				defer g.closePeer(p)
				rctx, cancel := g.requestCtx(context.Background())
				defer cancel()
				if err := p.Unregister(rctx); err != nil {
					return fail("unregister", err)
				}
				fmt.Fprintln(out, "unregistered")
				return nil
			case once:
				return nil // no Close: the binding stays until it expires
			}
			for {
				select {
				case <-ctx.Done():
					g.closePeer(p)
					fmt.Fprintln(out, "unregistered")
					return nil
				case e, ok := <-events:
					if !ok {
						events = nil
						continue
					}
					if e.At.After(registered) { // Register's own events came before its line
						fmt.Fprintln(out, regLine(e))
					}
				}
			}
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "register and exit, leaving the binding until it expires")
	cmd.Flags().BoolVar(&unregister, "unregister", false, "register, then unregister at once, and exit")
	cmd.Flags().DurationVar(&expires, "expires", time.Hour, "registration lifetime asked for")
	return cmd
}

// register registers p at the server with the credentials c, bounded by
// --timeout.
func (g *globals) register(ctx context.Context, p *ua.Peer, c creds, expires time.Duration) error {
	rctx, cancel := g.requestCtx(ctx)
	defer cancel()
	opts := append(append([]ua.RegisterOption(nil), c.reg...), ua.WithExpires(expires))
	return fail("register", p.Register(rctx, g.server, opts...))
}

// signalContext ends at the first SIGINT or SIGTERM; a second one kills
// the process the default way.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// noArgs refuses arguments as a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

// minArgs wants at least n arguments, named what in the error.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("missing %s", what)
		}
		return nil
	}
}
