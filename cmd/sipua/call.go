package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/b2bua/b2bua/sip/ua"
)

// callFlags are the flags of `call` and `p2p call`.
type callFlags struct {
	duration time.Duration
	dtmf     string
}

func (f *callFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.duration, "duration", 0, "hang up after this long once answered (default: until Ctrl-C or the other side hangs up)")
	cmd.Flags().StringVar(&f.dtmf, "dtmf", "", "digits (0-9, *, #, A-D) to send once answered, by INFO")
}

func (f callFlags) validate() error {
	if f.duration < 0 {
		return usagef("--duration must not be negative")
	}
	for _, r := range f.dtmf {
		if !strings.ContainsRune("0123456789*#ABCDabcd", r) {
			return usagef("--dtmf %q: %q is not a DTMF digit", f.dtmf, r)
		}
	}
	return nil
}

// answerFlags are the flags of `answer` and `p2p answer`.
type answerFlags struct {
	after  time.Duration
	reject int
}

func (f *answerFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.after, "after", 0, "let the call ring this long before answering")
	cmd.Flags().IntVar(&f.reject, "reject", 0, "reject the call with this status (486 busy, 603 decline, …) instead of answering")
}

func (f answerFlags) validate() error {
	if f.after < 0 {
		return usagef("--after must not be negative")
	}
	if f.reject != 0 && (f.reject < 300 || f.reject > 699) {
		return usagef("--reject %d: want a status from 300 to 699", f.reject)
	}
	return nil
}

func newCallCmd(g *globals) *cobra.Command {
	var f callFlags
	cmd := &cobra.Command{
		Use:   "call TARGET",
		Short: "Call TARGET through the server; hang up after --duration or at Ctrl-C",
		Long: "call places a call (INVITE, signalling only: no audio) to TARGET through --server and prints\n" +
			`"ringing", "answered" and "ended". Once answered it sends the --dtmf digits, then hangs up after` + "\n" +
			"--duration, at Ctrl-C, or when the other side hangs up. Ctrl-C while it rings cancels the call.\n" +
			"A refusal (486 busy, 480, 404, …) is an error.",
		Example: "  sipua call bob --duration 30s --dtmf 123",
		Args:    exactTarget,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			p, _, err := g.serverPeer(false)
			if err != nil {
				return err
			}
			defer g.closePeer(p)
			return g.placeCall(cmd.OutOrStdout(), p, args[0], f)
		},
	}
	f.register(cmd)
	return cmd
}

func newAnswerCmd(g *globals) *cobra.Command {
	var f answerFlags
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "answer",
		Short: "Register and answer (or reject) the first incoming call",
		Long: "answer registers --id at --server and waits for a call. It prints the caller, answers after\n" +
			"--after (or rejects with --reject CODE and exits), prints each DTMF digit received and \"ended\"\n" +
			"when the call ends. Ctrl-C hangs up and unregisters.",
		Example: "  sipua answer --after 2s",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			p, c, err := g.serverPeer(true)
			if err != nil {
				return err
			}
			defer g.closePeer(p)
			ctx, stop := signalContext()
			defer stop()
			if err := g.register(ctx, p, c, expires); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "registered %s at %s; waiting for a call\n", p.AOR(), g.server)
			return g.answerCall(ctx, out, p, f)
		},
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&expires, "expires", time.Hour, "registration lifetime asked for")
	return cmd
}

func newP2PCallCmd(g *globals) *cobra.Command {
	var f callFlags
	cmd := &cobra.Command{
		Use:     "call URI",
		Short:   "Call a peer directly",
		Long:    "call is `sipua call` without a server: the INVITE goes to the peer's address.",
		Example: "  sipua p2p call --id sip:alice@127.0.0.1 sip:bob@127.0.0.1:5070 --duration 10s",
		Args:    p2pTargets(1, "URI to call"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("unexpected argument %q", args[1])
			}
			if err := f.validate(); err != nil {
				return err
			}
			p, err := g.newPeer(peerToPeer, creds{desc: "peer to peer"}, false)
			if err != nil {
				return fail("start", err)
			}
			defer g.closePeer(p)
			return g.placeCall(cmd.OutOrStdout(), p, args[0], f)
		},
	}
	f.register(cmd)
	return cmd
}

func newP2PAnswerCmd(g *globals) *cobra.Command {
	var f answerFlags
	cmd := &cobra.Command{
		Use:     "answer",
		Short:   "Answer (or reject) the first call that comes to --listen directly",
		Example: "  sipua p2p answer --id sip:bob@127.0.0.1:5070 --listen udp:127.0.0.1:5070",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			p, err := g.newPeer(peerToPeer, creds{desc: "peer to peer"}, false)
			if err != nil {
				return fail("start", err)
			}
			defer g.closePeer(p)
			ctx, stop := signalContext()
			defer stop()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "waiting for a call to %s on %s:%s\n", p.AOR(), p.Network(), p.Addr())
			return g.answerCall(ctx, out, p, f)
		},
	}
	f.register(cmd)
	return cmd
}

// exactTarget wants exactly one argument, the target.
func exactTarget(cmd *cobra.Command, args []string) error {
	if err := minArgs(1, "target")(cmd, args); err != nil {
		return err
	}
	if len(args) > 1 {
		return usagef("unexpected argument %q", args[1])
	}
	return nil
}

// placeCall calls target and stays in the call as f says.
func (g *globals) placeCall(out io.Writer, p *ua.Peer, target string, f callFlags) error {
	ctx, stop := signalContext()
	defer stop()
	var once sync.Once
	c, err := p.Call(ctx, target, ua.WithProgress(func(code int, _ string) {
		if code == 180 || code == 183 {
			once.Do(func() { fmt.Fprintln(out, "ringing") })
		}
	}))
	if err != nil {
		if ctx.Err() != nil { // Ctrl-C while ringing: cancelled, as asked
			fmt.Fprintln(out, "cancelled")
			return nil
		}
		return fail("call "+target, err)
	}
	fmt.Fprintln(out, "answered")
	if f.dtmf != "" {
		rctx, cancel := g.requestCtx(ctx)
		err := c.SendDTMF(rctx, f.dtmf)
		cancel()
		if err != nil {
			g.hangup(c)
			return fail("dtmf", err)
		}
		fmt.Fprintln(out, "sent dtmf "+strings.ToUpper(f.dtmf))
	}
	var limit <-chan time.Time
	if f.duration > 0 {
		t := time.NewTimer(f.duration)
		defer t.Stop()
		limit = t.C
	}
	return g.stayInCall(ctx, out, c, limit)
}

// answerCall answers (or rejects) the first call to p.
func (g *globals) answerCall(ctx context.Context, out io.Writer, p *ua.Peer, f answerFlags) error {
	var ic *ua.IncomingCall
	select {
	case ic = <-p.IncomingCalls():
	case <-ctx.Done():
		return nil
	}
	fmt.Fprintln(out, "call from "+ic.From)
	if f.after > 0 {
		t := time.NewTimer(f.after)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ic.Cancelled():
			fmt.Fprintln(out, "cancelled by the caller")
			return nil
		case <-ctx.Done():
			_ = ic.Reject(480)
			return nil
		}
	}
	if f.reject != 0 {
		if err := ic.Reject(f.reject); err != nil {
			return fail("reject", err)
		}
		fmt.Fprintf(out, "rejected %d\n", f.reject)
		return nil
	}
	c, err := ic.Answer(ctx)
	switch {
	case errors.Is(err, ua.ErrCallCancelled):
		fmt.Fprintln(out, "cancelled by the caller")
		return nil
	case err != nil && ctx.Err() != nil:
		return nil
	case err != nil:
		return fail("answer", err)
	}
	fmt.Fprintln(out, "answered")
	return g.stayInCall(ctx, out, c, nil)
}

// stayInCall prints the digits received until the call ends, Ctrl-C or
// limit (both hang up).
func (g *globals) stayInCall(ctx context.Context, out io.Writer, c *ua.Call, limit <-chan time.Time) error {
	for {
		select {
		case d := <-c.DTMF():
			fmt.Fprintf(out, "dtmf %c\n", d)
		case <-c.Done():
			fmt.Fprintln(out, "ended")
			return nil
		case <-limit:
			g.hangup(c)
			fmt.Fprintln(out, "ended")
			return nil
		case <-ctx.Done():
			g.hangup(c)
			fmt.Fprintln(out, "ended")
			return nil
		}
	}
}

// hangup ends c, bounded by --timeout.
func (g *globals) hangup(c *ua.Call) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	_ = c.Hangup(ctx)
}
