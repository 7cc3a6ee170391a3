// Package siptest has what SIP tests share: raw messages written as lines,
// golden files of request and expected response, and a raw UDP/TCP client
// that sends bytes exactly as given (so tests can send what no SIP stack
// would).
package siptest

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// Update rewrites golden expectations with what the code produces now:
// go test ./sip/edge -run Golden -update.
var Update = flag.Bool("update", false, "rewrite golden files")

// Lines joins header lines with CRLF and ends the header block, as on the
// wire (sipgo's tests write raw messages the same way).
func Lines(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
}

// CRLF turns a message written with LF line ends into one with CRLF.
func CRLF(s string) []byte {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

// Separator divides request and expected response in a golden file.
const Separator = "----------"

// Golden is one golden case: a request to send and the response expected.
type Golden struct {
	Name     string
	Path     string
	Request  []byte // CRLF line ends
	Response string // LF line ends, masked
}

// LoadGoldens reads every *.txt in dir, sorted by name.
func LoadGoldens(t testing.TB, dir string) []Golden {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden files in %s: %v", dir, err)
	}
	sort.Strings(paths)
	out := make([]Golden, 0, len(paths))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		req, res, ok := strings.Cut(string(raw), "\n"+Separator+"\n")
		if !ok {
			t.Fatalf("%s: no %q line", p, Separator)
		}
		req = strings.TrimRight(req, "\n") + "\n\n"
		out = append(out, Golden{Name: strings.TrimSuffix(filepath.Base(p), ".txt"), Path: p, Request: CRLF(req), Response: res})
	}
	return out
}

// Check compares a response with the golden expectation after masking
// what changes from run to run; with -update it rewrites the file instead.
func (g Golden) Check(t testing.TB, got string) {
	t.Helper()
	got = Mask(got)
	if *Update {
		req := strings.ReplaceAll(string(g.Request), "\r\n", "\n")
		body := strings.TrimRight(req, "\n") + "\n" + Separator + "\n" + got
		if err := os.WriteFile(g.Path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != g.Response {
		t.Errorf("%s: response differs\n--- got\n%s\n--- want\n%s", g.Name, got, g.Response)
	}
}

var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?m)^Date: .*$`), "Date: <date>"},
	{regexp.MustCompile(`received=[0-9a-fA-F.:]+`), "received=<ip>"},
	{regexp.MustCompile(`rport=[0-9]+`), "rport=<port>"},
	{regexp.MustCompile(`(?m)^SIP-ETag: .*$`), "SIP-ETag: <etag>"},
}

// Mask turns CRLF into LF and replaces what differs between runs (Date,
// received, rport).
func Mask(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, m := range masks {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return s
}

// Client sends raw bytes to a SIP server and reads raw responses.
type Client struct {
	conn    net.Conn
	network string
	buf     []byte
	pending []byte // TCP: bytes read past the last message
}

// Dial connects to addr over network ("udp" or "tcp") from 127.0.0.1.
func Dial(network, addr string) (*Client, error) {
	c, err := net.DialTimeout(network, addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if u, ok := c.(*net.UDPConn); ok {
		// Bursts of answers (hundreds at once in the overload tests) overflow
		// the default buffer: the kernel charges ~2 KB per datagram.
		_ = u.SetReadBuffer(4 << 20)
	}
	return &Client{conn: c, network: network, buf: make([]byte, 65535)}, nil
}

// LocalAddr is where responses come back to.
func (c *Client) LocalAddr() string { return c.conn.LocalAddr().String() }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Send writes raw as it is.
func (c *Client) Send(raw []byte) error {
	_, err := c.conn.Write(raw)
	return err
}

// ErrNoResponse is returned by Read when nothing came within the timeout.
var ErrNoResponse = errors.New("siptest: no response")

// Read returns the next message, or ErrNoResponse after timeout.
func (c *Client) Read(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	_ = c.conn.SetReadDeadline(deadline)
	if c.network == "udp" {
		n, err := c.conn.Read(c.buf)
		if err != nil {
			return "", noResponse(err)
		}
		return string(c.buf[:n]), nil
	}
	for {
		if msg, rest, ok := splitMessage(c.pending); ok {
			c.pending = rest
			return msg, nil
		}
		n, err := c.conn.Read(c.buf)
		if err != nil {
			return "", noResponse(err)
		}
		c.pending = append(c.pending, c.buf[:n]...)
	}
}

// Do sends raw and returns the first response.
func (c *Client) Do(raw []byte, timeout time.Duration) (string, error) {
	if err := c.Send(raw); err != nil {
		return "", err
	}
	return c.Read(timeout)
}

func noResponse(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrNoResponse
	}
	return err
}

// splitMessage cuts one message off a TCP stream: headers, blank line and
// Content-Length bytes of body.
func splitMessage(b []byte) (string, []byte, bool) {
	head, _, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		return "", b, false
	}
	n := len(head) + 4 + contentLength(string(head))
	if len(b) < n {
		return "", b, false
	}
	return string(b[:n]), b[n:], true
}

func contentLength(head string) int {
	for _, line := range strings.Split(head, "\r\n") {
		name, v, ok := strings.Cut(line, ":")
		if ok && (strings.EqualFold(strings.TrimSpace(name), "Content-Length") || strings.EqualFold(strings.TrimSpace(name), "l")) {
			n := 0
			for _, ch := range strings.TrimSpace(v) {
				if ch < '0' || ch > '9' {
					break
				}
				n = n*10 + int(ch-'0')
			}
			return n
		}
	}
	return 0
}

// Status returns the status code of a raw response, 0 when it is none.
func Status(res string) int {
	var code int
	if len(res) < 12 || !strings.HasPrefix(res, "SIP/2.0 ") {
		return 0
	}
	for _, ch := range res[8:11] {
		if ch < '0' || ch > '9' {
			return 0
		}
		code = code*10 + int(ch-'0')
	}
	return code
}

// Header returns the values of every header name in a raw message.
func Header(msg, name string) []string {
	var out []string
	head, _, _ := strings.Cut(strings.ReplaceAll(msg, "\r\n", "\n"), "\n\n")
	for _, line := range strings.Split(head, "\n")[1:] {
		n, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(n), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}
