package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/b2bua/b2bua/sip/ua"
)

func newMessageCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "message TARGET TEXT...",
		Short: "Send a message (RFC 3428) through the server",
		Long: "message sends TEXT (the remaining arguments joined by spaces) to TARGET through --server and\n" +
			`prints "delivered" when the target took it (200), "stored for later delivery" when the server` + "\n" +
			"keeps it for an offline target (202). Any other answer is an error.",
		Example: `  sipua message bob "lunch at noon?"`,
		Args:    minArgs(2, "target and text"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, err := g.serverPeer(false)
			if err != nil {
				return err
			}
			defer g.closePeer(p)
			return g.sendMessage(cmd, p, args[0], strings.Join(args[1:], " "))
		},
	}
}

// sendMessage sends text to target and prints how it went.
func (g *globals) sendMessage(cmd *cobra.Command, p *ua.Peer, target, text string) error {
	ctx, stop := signalContext()
	defer stop()
	rctx, cancel := g.requestCtx(ctx)
	defer cancel()
	d, err := p.Deliver(rctx, target, text)
	if err != nil {
		return fail("message", err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), deliveryText(d))
	return nil
}

// deliveryText says what a MESSAGE's success status means.
func deliveryText(d ua.Delivery) string {
	if d == ua.Stored {
		return "stored for later delivery"
	}
	return "delivered"
}
