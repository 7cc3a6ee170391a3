package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// run runs the binary with args and stdin, in dir, and returns its output.
func run(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// flagLine is a flag in cobra's help: "  -x, --name type   usage".
var flagLine = regexp.MustCompile(`^\s+(-\w, )?--([\w-]+)`)

// TestHelpShowsEveryDefault: every flag of every command says its default,
// and none shows a zero that stands for another value.
func TestHelpShowsEveryDefault(t *testing.T) {
	commands := [][]string{{"serve"}, {"user"}, {"user", "add"}, {"user", "list"}, {"user", "passwd"}, {"user", "del"},
		{"user", "disable"}, {"user", "enable"}, {"token"}, {"keys"}, {"keys", "rotate"},
		{"bench", "register"}, {"bench", "options"}, {"bench", "message"}, {"bench", "echo-server"},
		{"bench", "call"}, {"bench", "uas-server"}, {"bench", "media"}}
	for _, c := range commands {
		t.Run(strings.Join(c, " "), func(t *testing.T) {
			out, err := run(t, t.TempDir(), "", append(c, "--help")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, line := range strings.Split(out, "\n") {
				m := flagLine.FindStringSubmatch(line)
				if m == nil || m[2] == "help" {
					continue
				}
				if !strings.Contains(line, "default") || strings.Contains(line, "(default 0)") {
					t.Errorf("--%s does not show its default:\n%s", m[2], line)
				}
			}
		})
	}
	out, _ := run(t, t.TempDir(), "", "serve", "--help")
	for _, want := range []string{"--max-inflight int", "(default 5000)", "--idle duration", "(default 30s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out)
		}
	}
}

// TestRootHelpDescribesWhatExists: the root help lists the commands that
// are built and claims no feature that is not.
func TestRootHelpDescribesWhatExists(t *testing.T) {
	out, err := run(t, t.TempDir(), "", "--help")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, c := range []string{"serve", "user", "token", "keys", "bench"} {
		if !regexp.MustCompile(`(?m)^\s+` + c + `\s`).MatchString(out) {
			t.Errorf("root help does not list %s:\n%s", c, out)
		}
	}
	for _, built := range []string{"registrar", "presence", "MESSAGE", "B2BUA calls", "media relay"} {
		if !strings.Contains(out, built) {
			t.Errorf("root help does not say %q is built:\n%s", built, out)
		}
	}
	for _, claim := range []string{"cluster", "The RTP relay"} { // the relay is built: no "comes later"
		if strings.Contains(out, claim) {
			t.Errorf("root help claims %q, which is not built:\n%s", claim, out)
		}
	}
}

// TestAdminCommandsNeedAStore: on a data directory that does not exist,
// every admin command but user add fails and creates nothing.
func TestAdminCommandsNeedAStore(t *testing.T) {
	for _, args := range [][]string{{"user", "list"}, {"user", "del", "x"}, {"user", "disable", "x"}, {"user", "enable", "x"},
		{"user", "passwd", "x", "--password-stdin"}, {"token", "x"}, {"keys", "rotate"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "nope")
			out, err := run(t, t.TempDir(), "pw\n", append(args, "--data", dir, "--http", "127.0.0.1:1")...)
			if err == nil || !strings.Contains(out, "no store at "+filepath.Join(dir, "b2bua.db")) {
				t.Fatalf("b2bua %v on a missing data directory: %v\n%s", args, err, out)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("b2bua %v created %s", args, dir)
			}
		})
	}
}

// TestUserCommandsConfirm: each user command that changes something says
// what it did and where.
func TestUserCommandsConfirm(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := filepath.Join(dir, "b2bua.db")
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"pw\n", []string{"user", "add", "frank", "--password-stdin"}, "added user frank with scopes sip:register sip:presence sip:call in the store " + db},
		{"pw\n", []string{"user", "add", "gina", "--password-stdin", "--scopes", "sip:presence"}, "added user gina with scopes sip:presence in the store " + db},
		{"pw\n", []string{"user", "add", "hugo", "--password-stdin", "--scopes", ""}, "added user hugo with the default scopes in the store " + db},
		{"pw2\n", []string{"user", "passwd", "frank", "--password-stdin"}, "changed the password of user frank in the store " + db},
		{"", []string{"user", "disable", "frank"}, "disabled user frank in the store " + db},
		{"", []string{"user", "enable", "frank"}, "enabled user frank in the store " + db},
		{"", []string{"user", "del", "frank"}, "deleted user frank in the store " + db},
	} {
		out, err := run(t, t.TempDir(), tc.stdin, append(tc.args, "--data", dir)...)
		if err != nil || strings.TrimSpace(out) != tc.want {
			t.Fatalf("b2bua %v: %v\n%s\nwant %q", tc.args, err, out, tc.want)
		}
	}
	out, err := run(t, t.TempDir(), "", "user", "list", "--data", dir)
	if err != nil || !regexp.MustCompile(`(?m)^hugo\s+sip:call sip:presence sip:register\s`).MatchString(out) {
		t.Fatalf("user list: %v\n%s", err, out)
	}
}
