package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/b2bua/b2bua/sip/ua"
)

func newListenCmd(g *globals) *cobra.Command {
	var watch []string
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "listen [BUDDY...]",
		Short: "Register and print incoming messages and buddies' presence until Ctrl-C",
		Long: "listen registers --id at --server, then prints one line per incoming message, per presence change\n" +
			"of each buddy (the arguments and --watch), and per registration change, until Ctrl-C, which\n" +
			"unsubscribes and unregisters.",
		Example: "  sipua listen --watch bob,carol",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, c, err := g.serverPeer(true)
			if err != nil {
				return err
			}
			defer g.closePeer(p)
			ctx, stop := signalContext()
			defer stop()
			out := cmd.OutOrStdout()
			regs, inbox := p.RegEvents(), p.Messages()
			if err := g.register(ctx, p, c, expires); err != nil {
				return err
			}
			registered := time.Now()
			fmt.Fprintf(out, "registered %s at %s; listening\n", p.AOR(), g.server)
			targets := append(args, splitList(watch)...)
			v := newView(out, false, targets)
			var updates <-chan ua.Update
			if len(targets) > 0 {
				buddies, failed, err := g.addBuddies(ctx, p, targets)
				if err != nil && len(failed) == len(targets) {
					return err
				}
				for _, f := range failed {
					v.fail(f.target, describe(f.err), time.Now())
				}
				updates = buddies.Events()
			}
			for {
				select {
				case <-ctx.Done():
					return nil
				case m, ok := <-inbox:
					if !ok {
						inbox = nil
						continue
					}
					fmt.Fprintln(out, messageLine(m, time.Now()))
				case u, ok := <-updates:
					if !ok {
						updates = nil
						continue
					}
					v.update(u)
				case e, ok := <-regs:
					if !ok {
						regs = nil
						continue
					}
					if e.At.After(registered) {
						fmt.Fprintln(out, regLine(e))
					}
				}
			}
		},
	}
	cmd.Flags().StringSliceVar(&watch, "watch", nil, "buddies to watch, comma-separated")
	cmd.Flags().DurationVar(&expires, "expires", time.Hour, "registration lifetime asked for")
	return cmd
}
