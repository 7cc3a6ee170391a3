// Command sipua is a terminal SIP client built on the client SDK
// (sip/ua): it registers, publishes and watches presence, and sends and
// receives messages, through the b2bua server or peer to peer. This file
// only wires subcommands and turns errors into exit codes (errors.go).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	if !g.started { // cobra refused the flags, the arguments or the command
		err = usageError{err}
	}
	fmt.Fprintln(stderr, "sipua:", describe(err))
	return exitCode(err)
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "sipua",
		Short: "A terminal SIP client: register, presence, watch, messages, calls, peer to peer",
		Long: "sipua is a terminal SIP client on the b2bua client SDK (sip/ua). Through a server it registers,\n" +
			"publishes its presence, watches buddies, sends messages and places and answers calls (signalling\n" +
			"only); with `sipua p2p` it does the same without a server, answering SUBSCRIBE, OPTIONS and\n" +
			"INVITE itself.\n\n" +
			"Exit codes: 0 success (Ctrl-C ends the long-running commands with 0), 1 error,\n" +
			"2 usage (bad flag or argument), 3 authentication refused.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.started = true
			if err := g.validate(cmd); err != nil {
				return usageError{err}
			}
			return nil
		},
	}
	g.addFlags(root)
	root.AddCommand(newRegisterCmd(g), newPresenceCmd(g), newWatchCmd(g), newMessageCmd(g), newListenCmd(g),
		newCallCmd(g), newAnswerCmd(g), newP2PCmd(g))
	return root
}
