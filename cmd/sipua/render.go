package main

import (
	"bytes"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/sip/ua"
)

// Everything here is pure: the commands feed it SDK events and write what
// it returns, so the output is tested with golden files (render_test.go).

// row is one target of the watch table.
type row struct {
	Name   string    // as the user typed it: "bob", "sip:bob@127.0.0.1:5070"
	AOR    string    // the SDK's AOR of the target, once an update named it
	Status string    // statusText of the last update; "" before the first
	Note   string    //
	Since  time.Time // when Status last changed; zero before the first update
}

// board is the watch table: one row per target, in the order given.
type board struct{ rows []row }

func newBoard(targets []string) *board {
	b := &board{}
	for _, t := range targets {
		b.rows = append(b.rows, row{Name: t})
	}
	return b
}

// apply records u and returns the name of its row and whether anything
// shown changed. An update of a target not on the board adds a row.
func (b *board) apply(u ua.Update) (string, bool) {
	i := b.find(u.Target)
	if i < 0 {
		b.rows = append(b.rows, row{Name: u.Target})
		i = len(b.rows) - 1
	}
	r := &b.rows[i]
	r.AOR = u.Target
	status, note := statusText(u), u.State.Note
	if status == r.Status && note == r.Note && !r.Since.IsZero() {
		return r.Name, false
	}
	if status != r.Status || r.Since.IsZero() {
		r.Since = u.At
	}
	r.Status, r.Note = status, note
	return r.Name, true
}

// fail marks the row of name as not watched, with why as its note.
func (b *board) fail(name, why string) {
	for i := range b.rows {
		if b.rows[i].Name == name {
			b.rows[i].Status, b.rows[i].Note = "error", why
			return
		}
	}
	b.rows = append(b.rows, row{Name: name, Status: "error", Note: why})
}

// find returns the row of the target aor, or -1: the row already bound to
// aor, else the first unbound row whose name means aor ("bob" means
// sip:bob@any-domain, "bob@example.com" means sip:bob@example.com).
func (b *board) find(aor string) int {
	for i, r := range b.rows {
		if r.AOR == aor {
			return i
		}
	}
	for i, r := range b.rows {
		if r.AOR == "" && sameTarget(r.Name, aor) {
			return i
		}
	}
	return -1
}

func sameTarget(name, aor string) bool {
	n := strings.TrimPrefix(name, "sip:")
	a := strings.TrimPrefix(aor, "sip:")
	if strings.EqualFold(n, a) {
		return true
	}
	if !strings.Contains(n, "@") {
		user, _, _ := strings.Cut(a, "@")
		return user == n
	}
	return false
}

// statusText is how a status reads: "busy", "pending", "ended (rejected)",
// the custom text of StatusCustom.
func statusText(u ua.Update) string {
	switch u.Sub {
	case ua.SubPending:
		return "pending"
	case ua.SubTerminated:
		if u.Reason != "" {
			return "ended (" + u.Reason + ")"
		}
		return "ended"
	}
	if u.State.Status == pidf.StatusCustom && u.State.Custom != "" {
		return u.State.Custom
	}
	return u.State.Status.String()
}

// maxNote is the widest note the table shows; longer ones end with "…".
const maxNote = 40

// table renders the board as aligned columns, one line per row.
func (b *board) table() string {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TARGET\tSTATUS\tNOTE\tSINCE")
	for _, r := range b.rows {
		status, since := r.Status, "-"
		if status == "" {
			status = "…"
		}
		if !r.Since.IsZero() {
			since = r.Since.Format("15:04:05")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Name, status, clip(r.Note, maxNote), since)
	}
	_ = w.Flush()
	return buf.String()
}

// frame is what a terminal is sent to show the table in place of the one
// drawn before, which had prev lines: the cursor goes up prev lines
// (CSI n A), the screen below is cleared (CSI J), and the table is
// written. It returns the text and the number of lines drawn.
func (b *board) frame(prev int) (string, int) {
	t := b.table()
	var s strings.Builder
	if prev > 0 {
		fmt.Fprintf(&s, "\r\x1b[%dA\x1b[J", prev)
	}
	s.WriteString(t)
	return s.String(), strings.Count(t, "\n")
}

// updateLine is one change as a line, for output that is not a terminal:
// time, target, status and the note, quoted when there is one.
func updateLine(name string, u ua.Update) string {
	line := u.At.Format("15:04:05") + " " + name + " " + statusText(u)
	if u.State.Note != "" {
		line += " " + fmt.Sprintf("%q", u.State.Note)
	}
	return line
}

// messageLine is one received message; a body of several lines continues
// indented.
func messageLine(m ua.Message, at time.Time) string {
	if !m.Date.IsZero() {
		at = m.Date
	}
	body := strings.ReplaceAll(strings.TrimRight(m.Text(), "\r\n"), "\n", "\n    ")
	return at.Format("15:04:05") + " message from " + m.From + ": " + body
}

// regLine is one registration state change.
func regLine(e ua.RegEvent) string {
	at := e.At.Format("15:04:05") + " "
	switch e.State {
	case ua.Registering:
		return at + "registering"
	case ua.Registered:
		if e.Expires > 0 {
			return at + fmt.Sprintf("registered (expires in %s)", e.Expires.Round(time.Second))
		}
		return at + "registered"
	case ua.RegFailed:
		if e.Err != nil {
			return at + "registration failed: " + describe(e.Err)
		}
		return at + "registration failed"
	case ua.Unregistered:
		return at + "unregistered"
	}
	return at + fmt.Sprintf("registration state %d", e.State)
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
