package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/sip/ua"
)

func TestAuthMode(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    globals
		want authMode
		err  string
	}{
		{"none", globals{}, authNone, ""},
		{"bearer", globals{token: "t"}, authBearer, ""},
		{"password grant", globals{tokenURL: "http://127.0.0.1:8080/oauth/token"}, authPassword, ""},
		{"password grant with user", globals{tokenURL: "https://h/oauth/token", user: "a", password: "p"}, authPassword, ""},
		{"digest by user", globals{user: "alice"}, authDigest, ""},
		{"digest by password", globals{password: "pw"}, authDigest, ""},
		{"token and token url", globals{token: "t", tokenURL: "http://h/"}, 0, "exclude each other"},
		{"token and digest", globals{token: "t", user: "a"}, 0, "--token excludes"},
		{"token url not http", globals{tokenURL: "ftp://h/"}, 0, "want an http://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.g.authMode()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestCredentialsAskPasswordOnlyWhenMissing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		g       globals
		asked   string // the prompt, "" when not asked
		desc    string
		wantErr bool
	}{
		{"none", globals{id: "sip:alice@x"}, "", "no credentials", false},
		{"bearer", globals{id: "sip:alice@x", token: "t"}, "", "bearer token", false},
		{"grant asks for alice's password", globals{id: "sip:alice@x", tokenURL: "http://h/t"}, "password for alice: ", "password grant at http://h/t as alice", false},
		{"grant with --user", globals{id: "sip:alice@x", tokenURL: "http://h/t", user: "al"}, "password for al: ", "password grant at http://h/t as al", false},
		{"grant with --password", globals{id: "sip:alice@x", tokenURL: "http://h/t", password: "pw"}, "", "password grant at http://h/t as alice", false},
		{"digest asks", globals{id: "sips:bob@x", user: "bob"}, "password for bob: ", "digest as bob", false},
		{"conflict", globals{id: "sip:a@x", token: "t", tokenURL: "http://h/"}, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := ""
			c, err := tc.g.credentials(func(prompt string) (string, error) { asked = prompt; return "secret", nil })
			if tc.wantErr {
				var u usageError
				if !errors.As(err, &u) {
					t.Fatalf("err %v, want a usage error", err)
				}
				return
			}
			if err != nil || asked != tc.asked || c.desc != tc.desc {
				t.Fatalf("err %v, asked %q, desc %q; want asked %q, desc %q", err, asked, c.desc, tc.asked, tc.desc)
			}
			if (c.peer == nil) != (len(c.reg) == 0) || (tc.desc == "no credentials") != (c.peer == nil) {
				t.Fatalf("peer credentials %v and register options %d disagree", c.peer, len(c.reg))
			}
		})
	}
}

func TestAPIURL(t *testing.T) {
	for _, tc := range []struct {
		g    globals
		want string
	}{
		{globals{}, ""},
		{globals{api: "http://h:1"}, "http://h:1"},
		{globals{tokenURL: "http://127.0.0.1:8080/oauth/token"}, "http://127.0.0.1:8080"},
		{globals{api: "http://h:1", tokenURL: "http://127.0.0.1:8080/oauth/token"}, "http://h:1"},
	} {
		if got := tc.g.apiURL(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.g, got, tc.want)
		}
	}
}

func TestCredentialsEmptyPasswordFails(t *testing.T) {
	g := globals{id: "sip:alice@x", user: "alice"}
	if _, err := g.credentials(func(string) (string, error) { return "", nil }); err == nil || !strings.Contains(err.Error(), "empty password") {
		t.Fatalf("err %v", err)
	}
}

func TestReadLine(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"s3cret\n", "s3cret", ""},
		{"s3cret\r\nnext\n", "s3cret", ""},
		{"no newline", "no newline", ""},
		{"", "", "no password on stdin"},
	} {
		got, err := readLine(strings.NewReader(tc.in))
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("readLine(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParsePresence(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status string
		f      presenceFlags
		want   pidf.State
		err    string
	}{
		{"busy with note", "busy", presenceFlags{note: "in a meeting"}, pidf.State{Status: pidf.StatusBusy, Note: "in a meeting"}, ""},
		{"upper case", "DND", presenceFlags{}, pidf.State{Status: pidf.StatusDoNotDisturb}, ""},
		{"everything", "available", presenceFlags{device: "urn:uuid:1", location: "office", caps: "audio+video"},
			pidf.State{Status: pidf.StatusAvailable, Device: "urn:uuid:1", Location: "office", Caps: pidf.CapAudio | pidf.CapVideo}, ""},
		{"custom", "custom", presenceFlags{custom: "on the train"}, pidf.State{Status: pidf.StatusCustom, Custom: "on the train"}, ""},
		{"custom without text", "custom", presenceFlags{}, pidf.State{}, "--custom TEXT"},
		{"text without custom", "busy", presenceFlags{custom: "x"}, pidf.State{}, "--custom TEXT"},
		{"unknown status", "happy", presenceFlags{}, pidf.State{}, `unknown status "happy"`},
		{"unknown is not settable", "unknown", presenceFlags{}, pidf.State{}, "unknown status"},
		{"bad caps", "busy", presenceFlags{caps: "audio+smell"}, pidf.State{}, `unknown capability "smell"`},
		{"negative expires", "busy", presenceFlags{expires: -1}, pidf.State{}, "--expires"},
		{"device not a URI", "busy", presenceFlags{device: "phone"}, pidf.State{}, "want a URI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, opts, err := parsePresence(tc.status, tc.f)
			if tc.err != "" {
				var u usageError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &u) {
					t.Fatalf("err %v, want usage error %q", err, tc.err)
				}
				return
			}
			got := pidf.State{Status: st}
			for _, o := range opts {
				o(&got)
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseCaps(t *testing.T) {
	for in, want := range map[string]pidf.Caps{"audio": pidf.CapAudio, "audio+video": pidf.CapAudio | pidf.CapVideo,
		"text,message": pidf.CapText | pidf.CapMessage, "none": 0} {
		if got, err := parseCaps(in); err != nil || got != want {
			t.Errorf("parseCaps(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseCaps("+"); err == nil {
		t.Error(`parseCaps("+") accepted no capability`)
	}
}

// statusErr is the SDK's error for a refusing final response.
func statusErr(code int, reason string) error {
	return &ua.StatusError{Method: "REGISTER", Code: code, Reason: reason}
}

func TestErrorsAndExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		line string
		code int
	}{
		{"forbidden", fail("register", statusErr(403, "Forbidden")), "register: 403 Forbidden", exitAuth},
		{"unauthorized", fail("watch bob", fmt.Errorf("subscribe: %w", statusErr(401, "Unauthorized"))), "watch bob: 401 Unauthorized", exitAuth},
		{"auth sentinel", fail("register", fmt.Errorf("%w: the bearer token was refused", ua.ErrAuth)), "register: not authorized: the bearer token was refused", exitAuth},
		{"not found", fail("message", statusErr(404, "Not Found")), "message: 404 Not Found", exitError},
		{"plain", fail("start", errors.New("ua: listen udp 1.2.3.4:5: bind: cannot assign")), "start: listen udp 1.2.3.4:5: bind: cannot assign", exitError},
		{"usage", usagef("missing %s", "target"), "missing target", exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(tc.err); got != tc.line {
				t.Errorf("describe = %q, want %q", got, tc.line)
			}
			if got := exitCode(tc.err); got != tc.code {
				t.Errorf("exit code %d, want %d", got, tc.code)
			}
		})
	}
}

// TestCommandLineUsage runs the whole command line for mistakes caught
// before anything is sent: exit code 2 and one line on stderr.
func TestCommandLineUsage(t *testing.T) {
	t.Setenv("SIPUA_ID", "")
	t.Setenv("SIPUA_TOKEN", "")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no identity", []string{"register"}, "sipua: no identity: set --id"},
		{"unknown command", []string{"--id", "sip:a@x", "dial"}, `sipua: unknown command "dial"`},
		{"unknown flag", []string{"--id", "sip:a@x", "register", "--loud"}, "sipua: unknown flag: --loud"},
		{"bad timeout", []string{"--id", "sip:a@x", "--timeout", "0s", "register"}, "sipua: --timeout must be positive"},
		{"register takes no arguments", []string{"--id", "sip:a@x", "register", "bob"}, `sipua: unexpected argument "bob"`},
		{"presence without status", []string{"--id", "sip:a@x", "presence", "set"}, "sipua: want one status"},
		{"bad status", []string{"--id", "sip:a@x", "presence", "set", "happy"}, `sipua: unknown status "happy"`},
		{"watch nobody", []string{"--id", "sip:a@x", "watch"}, "sipua: missing target to watch"},
		{"message without text", []string{"--id", "sip:a@x", "message", "bob"}, "sipua: missing target and text"},
		{"p2p needs a URI", []string{"--id", "sip:a@x", "p2p", "message", "bob", "hi"}, "peer to peer wants a SIP URI"},
		{"call nobody", []string{"--id", "sip:a@x", "call"}, "sipua: missing target"},
		{"call two", []string{"--id", "sip:a@x", "call", "bob", "carol"}, `sipua: unexpected argument "carol"`},
		{"bad dtmf", []string{"--id", "sip:a@x", "call", "bob", "--dtmf", "12x"}, `'x' is not a DTMF digit`},
		{"negative duration", []string{"--id", "sip:a@x", "call", "bob", "--duration", "-1s"}, "--duration must not be negative"},
		{"reject 200", []string{"--id", "sip:a@x", "answer", "--reject", "200"}, "--reject 200: want a status from 300 to 699"},
		{"answer takes no arguments", []string{"--id", "sip:a@x", "answer", "bob"}, `sipua: unexpected argument "bob"`},
		{"p2p call needs a URI", []string{"--id", "sip:a@x", "p2p", "call", "bob"}, "peer to peer wants a SIP URI"},
		{"token conflict", []string{"--id", "sip:a@x", "--token", "t", "--token-url", "http://h/", "register"}, "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &out, &errOut)
			lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			if code != exitUsage || len(lines) != 1 || !strings.HasPrefix(lines[0], "sipua: ") || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and one line with %q", code, errOut.String(), tc.want)
			}
		})
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	t.Setenv("SIPUA_ID", "sip:env@example.com")
	t.Setenv("SIPUA_SERVER", "10.0.0.1:5080")
	t.Setenv("SIPUA_TOKEN", "tok")
	g := &globals{}
	root := newRootCmd(g)
	if err := root.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if g.id != "sip:env@example.com" || g.server != "10.0.0.1:5080" || g.token != "tok" || g.clientID != "sipua" {
		t.Fatalf("env defaults not applied: %+v", g)
	}
	if err := root.ParseFlags([]string{"--id", "sip:flag@example.com"}); err != nil || g.id != "sip:flag@example.com" {
		t.Fatalf("a flag does not override the environment: %v %q", err, g.id)
	}
}
