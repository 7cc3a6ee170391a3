package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/sip/ua"
)

// presenceFlags are the details of `presence set` and `p2p serve`.
type presenceFlags struct {
	note, device, location, caps, custom string
	expires                              time.Duration // 0: the SDK's default
}

func (f *presenceFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.note, "note", "", `a note, e.g. "in a meeting"`)
	fs.StringVar(&f.device, "device", "", "the device ID, a URI such as urn:uuid:…")
	fs.StringVar(&f.location, "location", "", "where you are (free text)")
	fs.StringVar(&f.caps, "caps", "", "capabilities: audio, video, text, message joined by + or ,")
	fs.StringVar(&f.custom, "custom", "", `the text of status "custom"`)
}

// statuses lists the status names, for help and errors.
const statuses = "available, busy, away, dnd, offline, in-call, custom"

// peerOptions are the peer options the flags ask for: the publication's
// lifetime.
func (f presenceFlags) peerOptions() []ua.Option {
	if f.expires > 0 {
		return []ua.Option{ua.WithPublishExpires(f.expires)}
	}
	return nil
}

// parsePresence turns a status name and the flags into what SetPresence
// takes.
func parsePresence(name string, f presenceFlags) (pidf.Status, []ua.PresenceOption, error) {
	st, ok := pidf.ParseStatus(strings.ToLower(name))
	if !ok || st == pidf.StatusUnknown {
		return 0, nil, usagef("unknown status %q: want one of %s", name, statuses)
	}
	if (st == pidf.StatusCustom) != (f.custom != "") {
		return 0, nil, usagef(`--custom TEXT goes with status "custom", and only with it`)
	}
	var opts []ua.PresenceOption
	if f.custom != "" {
		opts = append(opts, ua.WithCustom(f.custom))
	}
	if f.note != "" {
		opts = append(opts, ua.WithNote(f.note))
	}
	if f.device != "" {
		if !strings.Contains(f.device, ":") {
			return 0, nil, usagef("--device %q: want a URI such as urn:uuid:…", f.device)
		}
		opts = append(opts, ua.WithDevice(f.device))
	}
	if f.location != "" {
		opts = append(opts, ua.WithLocation(f.location))
	}
	if f.caps != "" {
		c, err := parseCaps(f.caps)
		if err != nil {
			return 0, nil, usageError{err}
		}
		opts = append(opts, ua.WithCaps(c))
	}
	if f.expires < 0 {
		return 0, nil, usagef("--expires must not be negative")
	}
	return st, opts, nil
}

// parseCaps reads "audio+video" (or "audio,video", or "none").
func parseCaps(s string) (pidf.Caps, error) {
	names := map[string]pidf.Caps{"audio": pidf.CapAudio, "video": pidf.CapVideo, "text": pidf.CapText, "message": pidf.CapMessage}
	var c pidf.Caps
	if strings.TrimSpace(s) == "none" {
		return 0, nil
	}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '+' || r == ',' || r == ' ' }) {
		bit, ok := names[strings.ToLower(part)]
		if !ok {
			return 0, fmt.Errorf("--caps: unknown capability %q: want audio, video, text or message", part)
		}
		c |= bit
	}
	if c == 0 {
		return 0, errors.New("--caps: no capability")
	}
	return c, nil
}

func newPresenceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "presence", Short: "Publish your presence; decide who may watch it", Args: noArgs}
	cmd.AddCommand(newPresenceSetCmd(g), newPendingCmd(g), newDecideCmd(g, "approve"), newDecideCmd(g, "block"))
	return cmd
}

func newPresenceSetCmd(g *globals) *cobra.Command {
	var f presenceFlags
	var once bool
	cmd := &cobra.Command{
		Use:   "set STATUS",
		Short: "Publish your status and keep it published until Ctrl-C",
		Long: "set publishes STATUS (" + statuses + ") with its details at --server (PUBLISH,\n" +
			"RFC 3903) and keeps the publication alive, refreshing it before it expires, until Ctrl-C, which\n" +
			"withdraws it (PUBLISH Expires: 0): watchers then see what the server composes without it.\n\n" +
			"--once publishes and exits: a publication lives Expires seconds (--expires; the SDK asks for an\n" +
			"hour and the server may grant less), so the status stays that long unless published again.",
		Example: `  sipua presence set busy --note "in a meeting" --caps audio+video
  sipua presence set available --once`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("want one status: %s", statuses)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, opts, err := parsePresence(args[0], f)
			if err != nil {
				return err
			}
			p, _, err := g.serverPeer(false, f.peerOptions()...)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			rctx, cancel := g.requestCtx(ctx)
			err = p.SetPresence(rctx, st, opts...)
			cancel()
			if err != nil {
				g.closePeer(p)
				return fail("presence", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "published", describeState(st, f))
			if once {
				return nil // no Close: the publication lives until it expires
			}
			<-ctx.Done()
			g.closePeer(p)
			fmt.Fprintln(out, "withdrawn")
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&once, "once", false, "publish and exit; the publication lives until it expires")
	cmd.Flags().DurationVar(&f.expires, "expires", 0, "publication lifetime asked for (default: the SDK's, 1h)")
	return cmd
}

// describeState is the confirmation of a publication: `busy "in a meeting"`.
func describeState(st pidf.Status, f presenceFlags) string {
	s := st.String()
	if f.custom != "" {
		s = fmt.Sprintf("%q", f.custom)
	}
	if f.note != "" {
		s += fmt.Sprintf(" %q", f.note)
	}
	return s
}

func newPendingCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pending",
		Short: "List who asked to watch you and waits for your decision",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withPeer(func(ctx context.Context, p *ua.Peer) error {
				ws, err := p.PendingWatchers(ctx)
				if err != nil {
					return fail("pending", err)
				}
				for _, w := range ws {
					fmt.Fprintln(cmd.OutOrStdout(), w.At.Local().Format("2006-01-02 15:04:05"), w.AOR)
				}
				return nil
			})
		},
	}
}

// newDecideCmd is `presence approve` or `presence block`.
func newDecideCmd(g *globals, verb string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " WATCHER",
		Short: map[string]string{"approve": "Let WATCHER see your presence", "block": "Refuse WATCHER"}[verb],
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("want one watcher, e.g. sip:bob@example.com")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withPeer(func(ctx context.Context, p *ua.Peer) error {
				decide := p.Approve
				if verb == "block" {
					decide = p.Block
				}
				if err := decide(ctx, args[0]); err != nil {
					return fail(verb, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", map[string]string{"approve": "approved", "block": "blocked"}[verb], args[0])
				return nil
			})
		},
	}
}

// withPeer runs one request of f on a peer through the server, bounded by
// --timeout, and closes the peer.
func (g *globals) withPeer(f func(ctx context.Context, p *ua.Peer) error) error {
	p, _, err := g.serverPeer(false)
	if err != nil {
		return err
	}
	defer g.closePeer(p)
	ctx, stop := signalContext()
	defer stop()
	rctx, cancel := g.requestCtx(ctx)
	defer cancel()
	return f(rctx, p)
}
