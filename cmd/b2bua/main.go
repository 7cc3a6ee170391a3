// Command b2bua is the SIP B2BUA server: registrar, presence, messaging and
// call control on one actor system. This file only wires subcommands.
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
		Use:           "b2bua",
		Short:         "An actor-model SIP B2BUA: registrar, presence, messaging, calls",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newBenchCmd(), newUserCmd(), newTokenCmd(), newKeysCmd())
	return root
}
