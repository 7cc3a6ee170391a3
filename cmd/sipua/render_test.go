package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/sip/ua"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/render")

var t0 = time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC)

func upd(target string, sec int, st pidf.Status, note string) ua.Update {
	return ua.Update{Target: target, State: pidf.State{Status: st, Note: note}, Sub: ua.SubActive, At: t0.Add(time.Duration(sec) * time.Second)}
}

// renderCases are watch sessions: the targets typed and the updates the
// SDK delivers. Each is rendered as a terminal table and as lines, and
// compared with testdata/render/<name>.{table,lines}.golden (ESC is
// written \e there).
var renderCases = []struct {
	name    string
	targets []string
	failed  []string // targets that could not be watched, before the updates
	updates []ua.Update
}{
	{"nothing yet", []string{"bob", "alice"}, nil, nil},
	{"unreachable target", []string{"bob", "sip:carol@127.0.0.1:5392"}, []string{"sip:carol@127.0.0.1:5392"}, []ua.Update{
		upd("sip:bob@localhost", 1, pidf.StatusAvailable, ""),
	}},
	{"one change", []string{"bob", "alice"}, nil, []ua.Update{
		upd("sip:bob@localhost", 0, pidf.StatusAvailable, ""),
		upd("sip:bob@localhost", 5, pidf.StatusBusy, "in a meeting"),
	}},
	{"repeat is not a change", []string{"bob"}, nil, []ua.Update{
		upd("sip:bob@localhost", 0, pidf.StatusBusy, "x"),
		upd("sip:bob@localhost", 3, pidf.StatusBusy, "x"),
	}},
	{"note change keeps since", []string{"bob"}, nil, []ua.Update{
		upd("sip:bob@localhost", 0, pidf.StatusBusy, "a"),
		upd("sip:bob@localhost", 60, pidf.StatusBusy, "b"),
	}},
	{"full uri and unknown target", []string{"sip:bob@127.0.0.1:5070"}, nil, []ua.Update{
		upd("sip:bob@127.0.0.1:5070", 0, pidf.StatusInCall, ""),
		upd("sip:carol@localhost", 1, pidf.StatusAway, "lunch"),
	}},
	{"pending custom terminated", []string{"bob", "carol", "dave"}, nil, []ua.Update{
		{Target: "sip:bob@localhost", Sub: ua.SubPending, At: t0},
		{Target: "sip:carol@localhost", State: pidf.State{Status: pidf.StatusCustom, Custom: "on the train"}, Sub: ua.SubActive, At: t0.Add(time.Second)},
		{Target: "sip:dave@localhost", Sub: ua.SubTerminated, Reason: "rejected", At: t0.Add(2 * time.Second)},
	}},
	{"long note is clipped", []string{"bob"}, nil, []ua.Update{
		upd("sip:bob@localhost", 0, pidf.StatusDoNotDisturb, strings.Repeat("very long note ", 5)),
	}},
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range renderCases {
		for _, mode := range []string{"table", "lines"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				var out bytes.Buffer
				v := newView(&out, mode == "table", tc.targets)
				v.loc = time.UTC
				for _, f := range tc.failed {
					v.fail(f, "no answer in time (--timeout)", t0)
				}
				for _, u := range tc.updates {
					v.update(u)
				}
				golden(t, filepath.Join("testdata", "render", strings.ReplaceAll(tc.name, " ", "_")+"."+mode+".golden"),
					visible(out.String()))
			})
		}
	}
}

// visible writes the control characters of a frame as \e and \r.
func visible(s string) string {
	return strings.NewReplacer("\x1b", `\e`, "\r", `\r`).Replace(s)
}

// golden compares got with the file, or rewrites it with -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs:\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

func TestFrameRedrawsInPlace(t *testing.T) {
	b := newBoard([]string{"bob", "alice"})
	first, n := b.frame(0)
	if strings.Contains(first, "\x1b") || n != 3 {
		t.Fatalf("first frame: %d lines, %q", n, first)
	}
	b.apply(upd("sip:bob@localhost", 0, pidf.StatusBusy, ""))
	next, m := b.frame(n)
	if !strings.HasPrefix(next, "\r\x1b[3A\x1b[J") || m != 3 {
		t.Fatalf("redraw does not go up 3 lines and clear: %d lines, %q", m, next)
	}
}

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"message", messageLine(ua.Message{From: "sip:bob@localhost", Body: []byte("hi\n")}, t0), "09:30:00 message from sip:bob@localhost: hi"},
		{"stored message keeps its date", messageLine(ua.Message{From: "sip:bob@localhost", Body: []byte("a"), Date: t0.Add(-time.Hour)}, t0),
			"08:30:00 message from sip:bob@localhost: a"},
		{"multi-line message", messageLine(ua.Message{From: "b", Body: []byte("one\ntwo")}, t0), "09:30:00 message from b: one\n    two"},
		{"registered", regLine(ua.RegEvent{State: ua.Registered, Expires: 3600 * time.Second, At: t0}), "09:30:00 registered (expires in 1h0m0s)"},
		{"registering", regLine(ua.RegEvent{State: ua.Registering, At: t0}), "09:30:00 registering"},
		{"failed", regLine(ua.RegEvent{State: ua.RegFailed, Err: errors.New("ua: timeout"), At: t0}), "09:30:00 registration failed: timeout"},
		{"unregistered", regLine(ua.RegEvent{State: ua.Unregistered, At: t0}), "09:30:00 unregistered"},
		{"delivered", deliveryText(ua.Delivered), "delivered"},
		{"stored", deliveryText(ua.Stored), "stored for later delivery"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}
