package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/b2bua/b2bua/sip/ua"
)

func newP2PCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "p2p",
		Short: "Presence, messages and calls peer to peer, without a server",
		Long: "p2p talks to other peers directly: targets are SIP URIs with the peer's address, e.g.\n" +
			"sip:bob@127.0.0.1:5070. --server and the credentials flags are not used.",
		Args: noArgs,
	}
	cmd.AddCommand(newP2PServeCmd(g), newP2PWatchCmd(g), newP2PMessageCmd(g), newP2PCallCmd(g), newP2PAnswerCmd(g))
	return cmd
}

func newP2PServeCmd(g *globals) *cobra.Command {
	var f presenceFlags
	var status string
	var allow []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Answer SUBSCRIBE and OPTIONS with your presence, print messages, until Ctrl-C",
		Long: "serve listens on --listen as --id, answers SUBSCRIBE for --id with --status (only from the\n" +
			"--allow list when one is given; others get 403) and OPTIONS heartbeats, and prints each message\n" +
			"it receives. Ctrl-C ends every subscription (NOTIFY terminated).",
		Example: "  sipua p2p serve --id sip:bob@127.0.0.1:5070 --listen udp:127.0.0.1:5070 --status available \\\n" +
			"      --allow sip:alice@127.0.0.1",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, opts, err := parsePresence(status, f)
			if err != nil {
				return err
			}
			extra := f.peerOptions()
			if list := splitList(allow); len(list) > 0 {
				extra = append(extra, ua.WithAllowList(list...))
			}
			p, err := g.newPeer(peerToPeer, creds{desc: "peer to peer"}, false, extra...)
			if err != nil {
				return fail("start", err)
			}
			defer g.closePeer(p)
			ctx, stop := signalContext()
			defer stop()
			rctx, cancel := g.requestCtx(ctx)
			err = p.SetPresence(rctx, st, opts...)
			cancel()
			if err != nil {
				return fail("presence", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "serving %s on %s:%s as %s\n", p.AOR(), p.Network(), p.Addr(), describeState(st, f))
			inbox := p.Messages()
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
				}
			}
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&status, "status", "available", "your status: "+statuses)
	cmd.Flags().StringSliceVar(&allow, "allow", nil, "only these AORs may watch you, comma-separated (default: everyone)")
	return cmd
}

func newP2PWatchCmd(g *globals) *cobra.Command {
	var lines bool
	var heartbeat, offlineAfter time.Duration
	cmd := &cobra.Command{
		Use:   "watch URI...",
		Short: "Show peers' presence live, subscribing to them directly",
		Long: "watch subscribes to each URI directly and shows the table or lines of `sipua watch`. A peer that\n" +
			"answers no OPTIONS heartbeat for --offline-after is shown offline.",
		Example: "  sipua p2p watch --id sip:alice@127.0.0.1 sip:bob@127.0.0.1:5070",
		Args:    p2pTargets(1, "URI to watch"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.newPeer(peerToPeer, creds{desc: "peer to peer"}, false, ua.WithHeartbeat(heartbeat, offlineAfter))
			if err != nil {
				return fail("start", err)
			}
			defer g.closePeer(p)
			return g.watch(cmd.OutOrStdout(), p, args, lines)
		},
	}
	cmd.Flags().BoolVar(&lines, "lines", false, "one line per change even on a terminal")
	cmd.Flags().DurationVar(&heartbeat, "heartbeat", 30*time.Second, "OPTIONS interval to each watched peer")
	cmd.Flags().DurationVar(&offlineAfter, "offline-after", 90*time.Second, "show a peer offline after this long without an answer")
	return cmd
}

func newP2PMessageCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "message URI TEXT...",
		Short:   "Send a message directly to a peer",
		Example: "  sipua p2p message --id sip:alice@127.0.0.1 sip:bob@127.0.0.1:5070 hi",
		Args:    p2pTargets(2, "URI and text"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.newPeer(peerToPeer, creds{desc: "peer to peer"}, false)
			if err != nil {
				return fail("start", err)
			}
			defer g.closePeer(p)
			return g.sendMessage(cmd, p, args[0], strings.Join(args[1:], " "))
		},
	}
}

// p2pTargets wants at least n arguments, the first one a SIP URI with a
// host (peer to peer has no server to resolve "bob").
func p2pTargets(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := minArgs(n, what)(cmd, args); err != nil {
			return err
		}
		targets := args[:1]
		if cmd.Name() == "watch" {
			targets = args
		}
		for _, t := range targets {
			if !strings.HasPrefix(t, "sip:") || !strings.Contains(t, "@") {
				return usagef("%q: peer to peer wants a SIP URI with the peer's address, e.g. sip:bob@127.0.0.1:5070", t)
			}
		}
		return nil
	}
}
