package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/b2bua/b2bua/sip/ua"
)

func newWatchCmd(g *globals) *cobra.Command {
	var lines bool
	cmd := &cobra.Command{
		Use:   "watch TARGET...",
		Short: "Show buddies' presence live until Ctrl-C",
		Long: "watch subscribes to the presence of each TARGET (bob, bob@example.com, sip:bob@example.com)\n" +
			"through --server. On a terminal it shows a table updated in place (target, status, note, since);\n" +
			"otherwise, or with --lines, it prints one line per change: time, target, status, note.\n" +
			"Ctrl-C ends the subscriptions (SUBSCRIBE Expires: 0).",
		Example: "  sipua watch bob alice\n  sipua watch bob --lines | grep busy",
		Args:    minArgs(1, "target to watch"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, err := g.serverPeer(false)
			if err != nil {
				return err
			}
			defer g.closePeer(p)
			return g.watch(cmd.OutOrStdout(), p, args, lines)
		},
	}
	cmd.Flags().BoolVar(&lines, "lines", false, "one line per change even on a terminal")
	return cmd
}

// watch shows the presence of targets on out until Ctrl-C. A target that
// cannot be watched (no answer, 404) shows as an error; if none can, watch
// fails with the first error.
func (g *globals) watch(out io.Writer, p *ua.Peer, targets []string, lines bool) error {
	ctx, stop := signalContext()
	defer stop()
	buddies, failed, err := g.addBuddies(ctx, p, targets)
	if err != nil && len(failed) == len(targets) {
		return err
	}
	v := newView(out, !lines && isTerminal(out), targets)
	for _, f := range failed {
		v.fail(f.target, describe(f.err), time.Now())
	}
	events := buddies.Events()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-events:
			if !ok {
				return nil
			}
			v.update(u)
		}
	}
}

// failure is a target that could not be watched.
type failure struct {
	target string
	err    error
}

// addBuddies watches every target on a new buddy list of p. It returns the
// targets it could not watch, and the first error (as a command error).
func (g *globals) addBuddies(ctx context.Context, p *ua.Peer, targets []string) (*ua.BuddyList, []failure, error) {
	buddies := p.NewBuddyList()
	var failed []failure
	var first error
	for _, t := range targets {
		rctx, cancel := g.requestCtx(ctx)
		err := buddies.Add(rctx, t)
		cancel()
		if err != nil {
			failed = append(failed, failure{t, err})
			if first == nil {
				first = fail("watch "+t, err)
			}
		}
	}
	return buddies, failed, first
}

// view writes presence updates: a table redrawn in place on a terminal,
// else lines.
type view struct {
	out   io.Writer
	tty   bool
	board *board
	drawn int            // lines of the table on screen
	loc   *time.Location // times are shown in it: time.Local
}

func newView(out io.Writer, tty bool, targets []string) *view {
	v := &view{out: out, tty: tty, board: newBoard(targets), loc: time.Local}
	if tty {
		v.draw()
	}
	return v
}

func (v *view) update(u ua.Update) {
	u.At = u.At.In(v.loc)
	name, changed := v.board.apply(u)
	if !changed {
		return
	}
	if v.tty {
		v.draw()
		return
	}
	fmt.Fprintln(v.out, updateLine(name, u))
}

// fail shows that target could not be watched.
func (v *view) fail(target, why string, at time.Time) {
	v.board.fail(target, why)
	if v.tty {
		v.draw()
		return
	}
	fmt.Fprintln(v.out, at.In(v.loc).Format("15:04:05")+" "+target+" error "+fmt.Sprintf("%q", why))
}

func (v *view) draw() {
	s, n := v.board.frame(v.drawn)
	v.drawn = n
	_, _ = io.WriteString(v.out, s)
}

// isTerminal says whether w is a terminal (then the watch table is
// redrawn in place).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// splitList reads "a,b" and "a b" lists of a flag.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	return out
}
