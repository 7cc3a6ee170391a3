package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"

	"github.com/b2bua/b2bua/auth/users"
	"github.com/b2bua/b2bua/sip/siplog"
	"github.com/b2bua/b2bua/sip/ua"
)

// globals are the flags every command shares, and what the process gives
// the commands (stdin for a password, stderr for logs).
type globals struct {
	id, server, listen string
	token              string
	tokenURL, clientID string
	api                string
	user, password     string
	timeout            time.Duration
	verbose            bool

	stdin   io.Reader
	stderr  io.Writer
	started bool // a command's own code began (errors before it are usage errors)
}

func (g *globals) addFlags(root *cobra.Command) {
	fs := root.PersistentFlags()
	fs.StringVar(&g.id, "id", os.Getenv("SIPUA_ID"), "your identity, e.g. sip:alice@example.com (env SIPUA_ID)")
	fs.StringVar(&g.server, "server", envOr("SIPUA_SERVER", "127.0.0.1:5060"), "the server as host:port (env SIPUA_SERVER)")
	fs.StringVar(&g.listen, "listen", "udp:127.0.0.1:0", "local listener: udp:HOST:PORT or tcp:HOST:PORT (port 0: any)")
	fs.StringVar(&g.token, "token", os.Getenv("SIPUA_TOKEN"), "OAuth 2.0 bearer access token (env SIPUA_TOKEN)")
	fs.StringVar(&g.tokenURL, "token-url", "", "log in at this token endpoint with the password grant, e.g. http://127.0.0.1:8080/oauth/token")
	fs.StringVar(&g.api, "api", os.Getenv("SIPUA_API"), "the server's HTTP API for presence approve/block/pending, e.g. http://127.0.0.1:8080 (env SIPUA_API; default: the origin of --token-url)")
	fs.StringVar(&g.clientID, "client-id", users.PublicClientID, "OAuth client_id for --token-url")
	fs.StringVar(&g.user, "user", "", "user name for --token-url or Digest (default: the user part of --id)")
	fs.StringVar(&g.password, "password", "", "password for --token-url or Digest (default: asked on the terminal, or one line of stdin)")
	fs.DurationVar(&g.timeout, "timeout", 10*time.Second, "how long one request, and the clean-up at exit, may take")
	fs.BoolVarP(&g.verbose, "verbose", "v", false, "debug logs on stderr (default: warnings only)")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// validate checks the flags that every command needs.
func (g *globals) validate(cmd *cobra.Command) error {
	if cmd.Name() == "help" || cmd.Name() == "completion" {
		return nil
	}
	if g.id == "" {
		return errors.New("no identity: set --id sip:you@domain (or SIPUA_ID)")
	}
	if g.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	if _, err := g.authMode(); err != nil {
		return err
	}
	return nil
}

// authMode is how the commands authenticate.
type authMode int

const (
	authNone     authMode = iota
	authBearer            // --token
	authPassword          // --token-url: OAuth 2.0 password grant
	authDigest            // --user and/or --password without --token-url
)

// authMode picks the authentication from the flags; conflicting flags are
// an error.
func (g *globals) authMode() (authMode, error) {
	switch {
	case g.token != "" && g.tokenURL != "":
		return 0, errors.New("--token and --token-url exclude each other")
	case g.token != "" && (g.user != "" || g.password != ""):
		return 0, errors.New("--token excludes --user and --password")
	case g.token != "":
		return authBearer, nil
	case g.tokenURL != "":
		if !strings.HasPrefix(g.tokenURL, "http://") && !strings.HasPrefix(g.tokenURL, "https://") {
			return 0, fmt.Errorf("--token-url %q: want an http:// or https:// URL", g.tokenURL)
		}
		return authPassword, nil
	case g.user != "" || g.password != "":
		return authDigest, nil
	}
	return authNone, nil
}

// apiURL is --api, else the origin of --token-url (the token endpoint and
// the API are served by the same HTTP listener), else "".
func (g *globals) apiURL() string {
	if g.api != "" || g.tokenURL == "" {
		return g.api
	}
	u, err := url.Parse(g.tokenURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// userName is --user, or the user part of --id.
func (g *globals) userName() string {
	if g.user != "" {
		return g.user
	}
	s := strings.TrimPrefix(strings.TrimPrefix(g.id, "sips:"), "sip:")
	user, _, _ := strings.Cut(s, "@")
	return user
}

// creds is one authentication in the two forms the SDK takes: for the
// peer's requests (ua.WithCredentials) and for Register.
type creds struct {
	peer ua.Credentials      // nil: none
	reg  []ua.RegisterOption // empty: none
	desc string              // for -v: "bearer token", "password grant at …"
}

// credentials builds the authentication of the flags, asking for the
// password with ask when it is needed and not given.
func (g *globals) credentials(ask func(prompt string) (string, error)) (creds, error) {
	mode, err := g.authMode()
	if err != nil {
		return creds{}, usageError{err}
	}
	password := func() (string, error) {
		if g.password != "" {
			return g.password, nil
		}
		pw, err := ask("password for " + g.userName() + ": ")
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if pw == "" {
			return "", errors.New("read password: empty password")
		}
		return pw, nil
	}
	switch mode {
	case authBearer:
		return creds{peer: ua.Bearer(g.token), reg: []ua.RegisterOption{ua.WithBearer(g.token)}, desc: "bearer token"}, nil
	case authPassword:
		pw, err := password()
		if err != nil {
			return creds{}, err
		}
		src := ua.PasswordGrant(g.tokenURL, g.clientID, g.userName(), pw)
		return creds{peer: ua.Tokens(src), reg: []ua.RegisterOption{ua.WithTokenSource(src)},
			desc: "password grant at " + g.tokenURL + " as " + g.userName()}, nil
	case authDigest:
		pw, err := password()
		if err != nil {
			return creds{}, err
		}
		return creds{peer: ua.Digest(g.userName(), pw), reg: []ua.RegisterOption{ua.WithDigest(g.userName(), pw)},
			desc: "digest as " + g.userName()}, nil
	}
	return creds{desc: "no credentials"}, nil
}

// askPassword reads a password: without echo when stdin is a terminal
// (the prompt goes to stderr), else one line of stdin.
func (g *globals) askPassword(prompt string) (string, error) {
	if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(g.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.stderr)
		return string(b), err
	}
	return readLine(g.stdin)
}

// readLine reads one line of r, without its line ending.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password on stdin")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// logger is the process's logger: console lines on stderr, warnings and
// above unless -v.
func (g *globals) logger() *zap.Logger {
	level := zapcore.WarnLevel
	if g.verbose {
		level = zapcore.DebugLevel
	}
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(g.stderr), level)
	return zap.New(core)
}

// peerMode says whether a peer talks through the server or peer to peer.
type peerMode int

const (
	viaServer peerMode = iota
	peerToPeer
)

// newPeer starts the peer of the flags. With forRegister the credentials
// are left to Register (c.reg) so that a token source logs in once.
func (g *globals) newPeer(mode peerMode, c creds, forRegister bool, extra ...ua.Option) (*ua.Peer, error) {
	log := g.logger()
	// What sipgo logs on its package-wide logger (a TCP connection's
	// reference count, a late response) goes through ours too, never raw
	// to stderr: an error stays one line.
	sip.SetDefaultLogger(siplog.New(log))
	opts := []ua.Option{ua.WithUserAgent("sipua"), ua.WithTransactionTimeout(g.timeout)}
	if mode == viaServer {
		opts = append(opts, ua.WithServer(g.server))
		if c.peer != nil && !forRegister {
			opts = append(opts, ua.WithCredentials(c.peer))
		}
		if api := g.apiURL(); api != "" {
			opts = append(opts, ua.WithAPI(api))
		}
	}
	p, err := ua.New(g.id, g.listen, log, append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	log.Debug("peer started", zap.String("addr", p.Network()+":"+p.Addr()), zap.String("auth", c.desc))
	return p, nil
}

// closePeer ends the peer cleanly (unREGISTER, unSUBSCRIBE, PUBLISH
// Expires: 0), bounded by --timeout.
func (g *globals) closePeer(p *ua.Peer) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	_ = p.Close(ctx)
}

// requestCtx bounds one step of a command by --timeout.
func (g *globals) requestCtx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, g.timeout)
}

// serverPeer asks for the credentials and starts a peer through the
// server (see newPeer); its errors are ready to print.
func (g *globals) serverPeer(forRegister bool, extra ...ua.Option) (*ua.Peer, creds, error) {
	c, err := g.credentials(g.askPassword)
	if err != nil {
		return nil, c, err
	}
	p, err := g.newPeer(viaServer, c, forRegister, extra...)
	if err != nil {
		return nil, c, fail("start", err)
	}
	return p, c, nil
}
