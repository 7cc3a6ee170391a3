// Command b2bua is the server: today a SIP registrar on an actor system,
// with Bearer and Digest authentication, its users service and OAuth 2.0
// server, and a load generator. This file only wires subcommands.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "b2bua:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "b2bua",
		Short: "An actor-model SIP server: registrar, presence, messaging and B2BUA calls with Bearer and Digest authentication",
		Long: "b2bua is an actor-model SIP server. Built today: a registrar (RFC 3261 §10) on UDP and TCP that\n" +
			"requires OAuth 2.0 Bearer tokens (RFC 8898) or Digest, its users service and token endpoint, a presence\n" +
			"server, store-and-forward MESSAGE, B2BUA calls with an RTP/SRTP media relay, the commands that\n" +
			"manage them, and a SIP load generator. The RTP relay and multi-node operation come later.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newBenchCmd(), newUserCmd(), newTokenCmd(), newKeysCmd())
	return root
}
