package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/b2bua/b2bua/bench"
)

// newMediaCmd returns "b2bua bench media": RTP streams through a relay (our
// server over SIP, rtpengine over ng) or straight between the peers.
func newMediaCmd() *cobra.Command {
	cfg := bench.DefaultMediaConfig()
	var srtpMode, jsonPath, logLevel, cpuProf string
	cmd := &cobra.Command{
		Use:   "media [flags] [HOST:PORT]",
		Short: "Stream RTP (172-byte PCMU) through a relay and measure rate, loss, latency, CPU and allocations",
		Long: "Each call has two RTP endpoints on loopback, peer A (caller) and peer B (callee), each sending --pps\n" +
			"packets/s to the relay for --duration. --control direct (no relay, the baseline), ng (rtpengine's ng\n" +
			"control at HOST:PORT) or sip (calls through the B2BUA at HOST:PORT, which relays the media).",
		Example: "  b2bua bench media --control direct --calls 500\n" +
			"  b2bua bench media --control ng --calls 500 --server-pid 4242 127.0.0.1:2223\n" +
			"  b2bua bench media --control sip --calls 500 --srtp a --metrics http://127.0.0.1:8080/metrics 127.0.0.1:5060",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if cfg.SRTP, err = bench.ParseMediaSRTP(srtpMode); err != nil {
				return err
			}
			if len(args) == 1 {
				cfg.Target = args[0]
			}
			if cfg.Log, err = newBenchLogger(logLevel); err != nil {
				return err
			}
			if cpuProf != "" {
				stopProf, err := startCPUProfile(cpuProf)
				if err != nil {
					return err
				}
				defer stopProf()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, runErr := bench.RunMedia(ctx, cfg)
			if res == nil {
				return runErr
			}
			out := cmd.OutOrStdout()
			if err := bench.WriteMediaSummary(out, res); err != nil {
				return err
			}
			fmt.Fprintln(out, bench.MediaSummaryLine(res))
			if jsonPath != "" {
				fh, err := os.Create(jsonPath)
				if err != nil {
					return errors.Join(runErr, err)
				}
				err = bench.WriteMediaJSON(fh, res)
				runErr = errors.Join(runErr, err, fh.Close())
			}
			return runErr
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Control, "control", cfg.Control, "how the relay is set up: sip (our server), ng (rtpengine) or direct (no relay)")
	fs.IntVar(&cfg.Calls, "calls", cfg.Calls, "concurrent calls, 2 streams each")
	fs.IntVar(&cfg.PPS, "pps", cfg.PPS, "packets per second of each stream")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "streaming time")
	fs.StringVar(&srtpMode, "srtp", "none", "SDES-SRTP on one side: none, a (caller) or b (callee)")
	fs.IntVar(&cfg.Sockets, "sockets", 0, "sockets per side; call i's endpoint is socket i mod N (default 0: min(calls, 8))")
	fs.StringVar(&cfg.Local, "local", cfg.Local, "IP the peers (and the sip control's UAC and UAS) bind to")
	fs.IntVar(&cfg.SocketBuffer, "socket-buffer", cfg.SocketBuffer, "SO_RCVBUF/SO_SNDBUF of the peers' sockets")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "longest wait for packets in flight after the last send")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "the relay's PID: its CPU over the streaming window (default none)")
	fs.StringVar(&cfg.Metrics, "metrics", "", "the relay's Prometheus URL: go_memstats_mallocs_total per packet, for our server (default none)")
	fs.StringVar(&cfg.SIP.Domain, "domain", cfg.SIP.Domain, "domain of the callers and callees (sip)")
	fs.StringVar(&cfg.SIP.CalleePrefix, "callee-prefix", cfg.SIP.CalleePrefix, "callees <prefix><i>, registered at the bench's UAS (sip)")
	fs.StringVar(&cfg.SIP.CallerPrefix, "caller-prefix", cfg.SIP.CallerPrefix, "callers <prefix><i> (sip)")
	fs.StringVar(&jsonPath, "json", "", "write the result as JSON to FILE (default none)")
	fs.StringVar(&logLevel, "log-level", "warn", "diagnostics on stderr")
	fs.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of the generator to FILE (default none)")
	return cmd
}
