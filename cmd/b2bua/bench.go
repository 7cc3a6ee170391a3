package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newBenchCmd is replaced by the bench harness (issue 4).
func newBenchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "bench SCENARIO HOST:PORT",
		Short: "Load-test a SIP server",
		RunE:  func(*cobra.Command, []string) error { return errors.New("not built yet") },
	}
}
