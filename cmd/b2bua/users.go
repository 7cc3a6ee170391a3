package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/term"

	"github.com/b2bua/b2bua/auth/users"
	"github.com/b2bua/b2bua/config"
	"github.com/b2bua/b2bua/store"
)

// admin is what the user, token and keys commands do, either directly on a
// stopped server's store or through a running server's admin API.
type admin interface {
	Add(name, password string, scopes []string) error
	List() ([]users.User, error)
	Passwd(name, password string) error
	Del(name string) error
	SetDisabled(name string, disabled bool) error
	Token(name string, scopes []string) (string, time.Time, error)
	RotateKeys() (string, error)
	Close() error
	// Where says what the command acted on, for its confirmation.
	Where() string
}

// adminFlags are the flags every admin command shares: where the server's
// data and HTTP listener are, and the same config file as serve.
type adminFlags struct {
	file    string
	overlay func(*config.Config)
}

func (f *adminFlags) register(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	fs.StringVar(&f.file, "config", "", "YAML configuration file, as for serve (default none)")
	f.overlay = config.AddFlags(fs, config.Default(), "data", "domain", "http")
}

// errNoStore is returned by commands that need an existing store.
var errNoStore = errors.New("no store")

// open opens the store directly, or, when a running server holds it, talks
// to that server's admin API. Only create (user add) may make a new store:
// every other command on a data directory without one is an error, not an
// empty answer.
func (f *adminFlags) open(create bool) (admin, error) {
	c, err := loadConfig(f.file, f.overlay)
	if err != nil {
		return nil, err
	}
	sc := c.Store
	sc.Path = c.StorePath()
	if _, err := os.Stat(sc.Path); !create && errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: is --data the server's data directory? (serve or user add creates it)", errNoStore, sc.Path)
	}
	sc.OpenTimeout = 300 * time.Millisecond // a running server holds the lock: ask its admin API soon
	st, err := store.OpenBolt(sc, zap.NewNop())
	if errors.Is(err, store.ErrLocked) {
		tok, err := readAdminToken(c.Data)
		if err != nil {
			return nil, err
		}
		return &remoteAdmin{base: "http://" + c.HTTP, token: tok, client: &http.Client{Timeout: 10 * time.Second}}, nil
	}
	if err != nil {
		return nil, err
	}
	svc, err := openUsers(c, st, zap.NewNop())
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return &localAdmin{svc: svc, st: st, path: sc.Path}, nil
}

type localAdmin struct {
	svc  *users.Service
	st   *store.Bolt
	path string
}

func (l *localAdmin) Add(n, p string, s []string) error  { return l.svc.AddUser(n, p, s) }
func (l *localAdmin) List() ([]users.User, error)        { return l.svc.Users() }
func (l *localAdmin) Passwd(n, p string) error           { return l.svc.SetPassword(n, p) }
func (l *localAdmin) Del(n string) error                 { return l.svc.DeleteUser(n) }
func (l *localAdmin) SetDisabled(n string, d bool) error { return l.svc.SetDisabled(n, d) }
func (l *localAdmin) Token(n string, s []string) (string, time.Time, error) {
	return l.svc.IssueAccessToken(n, s)
}
func (l *localAdmin) RotateKeys() (string, error) { return l.svc.RotateKeys() }
func (l *localAdmin) Close() error                { return l.st.Close() }
func (l *localAdmin) Where() string               { return "in the store " + l.path }

type remoteAdmin struct {
	base, token string
	client      *http.Client
}

func (r *remoteAdmin) Add(n, p string, s []string) error {
	return r.do("POST", "/admin/users", adminUser{Name: n, Password: p, Scopes: s}, nil)
}

func (r *remoteAdmin) List() ([]users.User, error) {
	var out []users.User
	return out, r.do("GET", "/admin/users", nil, &out)
}

func (r *remoteAdmin) Passwd(n, p string) error {
	return r.do("PUT", "/admin/users/"+n+"/password", adminUser{Password: p}, nil)
}

func (r *remoteAdmin) Del(n string) error { return r.do("DELETE", "/admin/users/"+n, nil, nil) }

func (r *remoteAdmin) SetDisabled(n string, d bool) error {
	return r.do("PUT", "/admin/users/"+n+"/disabled", map[string]bool{"disabled": d}, nil)
}

func (r *remoteAdmin) Token(n string, s []string) (string, time.Time, error) {
	var out adminToken
	err := r.do("POST", "/admin/tokens", adminUser{Name: n, Scopes: s}, &out)
	return out.AccessToken, out.ExpiresAt, err
}

func (r *remoteAdmin) RotateKeys() (string, error) {
	var out map[string]string
	err := r.do("POST", "/admin/keys/rotate", nil, &out)
	return out["kid"], err
}

func (r *remoteAdmin) Close() error { return nil }

func (r *remoteAdmin) Where() string { return "through the server at " + r.base }

func (r *remoteAdmin) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("the data directory is in use and its server's admin API did not answer: %w", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode >= 300 {
		var e adminError
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("admin API: %s", res.Status)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// adminLong explains, in every admin command's help, where it acts.
const adminLong = "On a stopped server it opens the store in --data itself. A running server holds the store's lock:\n" +
	"then it goes through that server's admin API on --http, so give the server's --http (and --data)\n" +
	"when they are not the defaults."

func newUserCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{Use: "user", Short: "Manage users (on a stopped server's data, or through a running server)", Long: "Manage users. " + adminLong}
	f.register(cmd)
	cmd.AddCommand(userAddCmd(&f), userPasswdCmd(&f), userListCmd(&f),
		userCmd(&f, "del", "Delete a user", "deleted user", func(a admin, n string) error { return a.Del(n) }),
		userCmd(&f, "disable", "Disable a user: no new tokens, Digest refused, refresh tokens revoked", "disabled user",
			func(a admin, n string) error { return a.SetDisabled(n, true) }),
		userCmd(&f, "enable", "Enable a disabled user", "enabled user", func(a admin, n string) error { return a.SetDisabled(n, false) }))
	return cmd
}

func userAddCmd(f *adminFlags) *cobra.Command {
	var stdin bool
	var scopes string
	add := &cobra.Command{
		Use: "add NAME", Short: "Add a user (creates the data directory and store when missing)", Args: cobra.ExactArgs(1),
		RunE: withAdmin(f, true, func(cmd *cobra.Command, a admin, args []string) error {
			pw, err := readPassword(cmd, stdin)
			if err != nil {
				return err
			}
			sc := scopeList(scopes)
			if err := a.Add(args[0], pw, sc); err != nil {
				return err
			}
			what := "the default scopes"
			if sc != nil {
				what = "scopes " + strings.Join(sc, " ")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added user %s with %s %s\n", args[0], what, a.Where())
			return nil
		}),
	}
	add.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from the first line of standard input (default: ask on the terminal)")
	add.Flags().StringVar(&scopes, "scopes", "sip:register sip:presence sip:call", "space-separated scopes")
	return add
}

func userPasswdCmd(f *adminFlags) *cobra.Command {
	var stdin bool
	passwd := &cobra.Command{
		Use: "passwd NAME", Short: "Set a user's password", Args: cobra.ExactArgs(1),
		RunE: withAdmin(f, false, func(cmd *cobra.Command, a admin, args []string) error {
			pw, err := readPassword(cmd, stdin)
			if err != nil {
				return err
			}
			if err := a.Passwd(args[0], pw); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "changed the password of user %s %s\n", args[0], a.Where())
			return nil
		}),
	}
	passwd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from the first line of standard input (default: ask on the terminal)")
	return passwd
}

func userListCmd(f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: withAdmin(f, false, func(cmd *cobra.Command, a admin, _ []string) error {
			us, err := a.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCOPES\tDISABLED\tCREATED")
			for _, u := range us {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", u.Name, strings.Join(u.Scopes, " "), u.Disabled, u.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
}

// userCmd is a user command that takes a name, does one thing and says so.
func userCmd(f *adminFlags, use, short, done string, do func(admin, string) error) *cobra.Command {
	return &cobra.Command{
		Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1),
		RunE: withAdmin(f, false, func(cmd *cobra.Command, a admin, args []string) error {
			if err := do(a, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s\n", done, args[0], a.Where())
			return nil
		}),
	}
}

func newTokenCmd() *cobra.Command {
	var f adminFlags
	var scopes string
	cmd := &cobra.Command{
		Use: "token NAME", Short: "Print an access token for a user (for scripts and SIPp)", Args: cobra.ExactArgs(1),
		Long: "Print an access token for a user, signed with the server's key. Its iss is http://<--http> unless\n" +
			"--config or B2BUA_TOKEN_ISSUER say otherwise: give the same --http as the server.\n" + adminLong,
		RunE: withAdmin(&f, false, func(cmd *cobra.Command, a admin, args []string) error {
			tok, _, err := a.Token(args[0], scopeList(scopes))
			if err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), tok)
			}
			return err
		}),
	}
	f.register(cmd)
	cmd.Flags().StringVar(&scopes, "scopes", "", "space-separated scopes (default: all of the user's)")
	return cmd
}

func newKeysCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{Use: "keys", Short: "Manage the token signing keys", Long: "Manage the token signing keys. " + adminLong}
	f.register(cmd)
	cmd.AddCommand(&cobra.Command{
		Use: "rotate", Short: "Add a signing key and print its kid; the old one stays in the JWKS until its tokens expire", Args: cobra.NoArgs,
		RunE: withAdmin(&f, false, func(cmd *cobra.Command, a admin, _ []string) error {
			kid, err := a.RotateKeys()
			if err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), kid)
			}
			return err
		}),
	})
	return cmd
}

// scopeList splits space-separated scopes. No scopes is nil, never an empty
// slice: users.Service grants all of the user's scopes (a token) or the
// default scopes (a new user) for nil, but none for an empty list. The admin
// API's JSON drops an empty list, so the offline path used to differ.
func scopeList(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}

// withAdmin opens the admin (create: a missing store may be created) for
// run and closes it after.
func withAdmin(f *adminFlags, create bool, run func(*cobra.Command, admin, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := f.open(create)
		if err != nil {
			return err
		}
		defer a.Close()
		return run(cmd, a, args)
	}
}

// readPassword reads a password from standard input (--password-stdin) or
// asks on the terminal, twice.
func readPassword(cmd *cobra.Command, stdin bool) (string, error) {
	if stdin {
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		if pw := strings.TrimRight(line, "\r\n"); pw != "" {
			return pw, nil
		}
		return "", errors.New("empty password on standard input")
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", errors.New("no terminal to ask the password on: use --password-stdin")
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", err
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Again: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", err
	}
	if !bytes.Equal(a, b) || len(a) == 0 {
		return "", errors.New("the passwords differ or are empty")
	}
	return string(a), nil
}

// usersDirectory tells the message boxes which AORs are users of the
// users service: sip:NAME@DOMAIN with NAME an enabled user.
type usersDirectory struct {
	svc    *users.Service
	domain string
}

// Known implements messaging.Directory.
func (d usersDirectory) Known(aor string) bool {
	name, ok := strings.CutPrefix(aor, "sip:")
	if !ok {
		return false
	}
	name, host, ok := strings.Cut(name, "@")
	return ok && strings.EqualFold(host, d.domain) && d.svc.Has(name)
}
