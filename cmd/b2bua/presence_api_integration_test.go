package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/b2bua/b2bua/sip/siptest"
)

// watcherClient is a raw SIP watcher on UDP: it subscribes and reads the
// NOTIFYs, answering each 200 as a phone does.
type watcherClient struct {
	t    *testing.T
	c    *siptest.Client
	user string
}

func newWatcher(t *testing.T, server, user string) *watcherClient {
	t.Helper()
	c, err := siptest.Dial("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &watcherClient{t: t, c: c, user: user}
}

// subscribe sends SUBSCRIBE for target and returns the response.
func (w *watcherClient) subscribe(target string, cseq int, toTag, authz string, expires int) string {
	w.t.Helper()
	to := "To: <sip:" + target + ">"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	lines := []string{
		"SUBSCRIBE sip:" + target + " SIP/2.0",
		"Via: SIP/2.0/UDP " + w.c.LocalAddr() + ";branch=z9hG4bK-w" + w.user + itoa(cseq) + ";rport",
		"From: <sip:" + w.user + "@localhost>;tag=f" + w.user,
		to,
		"Call-ID: sub-" + w.user + "-" + target,
		"CSeq: " + itoa(cseq) + " SUBSCRIBE",
		"Contact: <sip:" + w.user + "@" + w.c.LocalAddr() + ">",
		"Event: presence",
		"Accept: application/pidf+xml",
		"Expires: " + itoa(expires),
	}
	if authz != "" {
		lines = append(lines, "Authorization: "+authz)
	}
	lines = append(lines, "Content-Length: 0")
	if err := w.c.Send(siptest.Lines(lines...)); err != nil {
		w.t.Fatal(err)
	}
	return w.read("response to SUBSCRIBE", func(m string) bool { return strings.HasPrefix(m, "SIP/2.0 ") })
}

// notify waits for the next NOTIFY, answers it 200 and returns it.
func (w *watcherClient) notify() string {
	w.t.Helper()
	return w.read("NOTIFY", func(m string) bool { return strings.HasPrefix(m, "NOTIFY ") })
}

func (w *watcherClient) read(what string, want func(string) bool) string {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m, err := w.c.Read(time.Until(deadline))
		if err != nil {
			break
		}
		if strings.HasPrefix(m, "NOTIFY ") {
			w.ok(m)
		}
		if want(m) {
			return m
		}
	}
	w.t.Fatalf("%s: no %s", w.user, what)
	return ""
}

// ok answers a request 200, copying what RFC 3261 §8.2.6.2 says to copy.
func (w *watcherClient) ok(req string) {
	lines := []string{"SIP/2.0 200 OK"}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		for _, v := range siptest.Header(req, name) {
			lines = append(lines, name+": "+v)
		}
	}
	lines = append(lines, "Content-Length: 0")
	_ = w.c.Send(siptest.Lines(lines...))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func apiDo(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

// TestPresenceApproveThroughTheAdminAPI runs the real binary under the
// approve policy: a watcher waits pending (202, NOTIFY pending), the owner
// sees it through the HTTP API and allows it, and the watcher's next
// NOTIFY is active with the state.
func TestPresenceApproveThroughTheAdminAPI(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "--presence-policy", "approve")
	raw, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(raw))
	bob := newWatcher(t, p.udp, "bob")
	res := bob.subscribe("alice@localhost", 1, "", "", 600)
	if siptest.Status(res) != 202 {
		t.Fatalf("SUBSCRIBE under approve:\n%s", res)
	}
	if n := bob.notify(); !strings.Contains(n, "Subscription-State: pending") {
		t.Fatalf("first NOTIFY:\n%s", n)
	}
	base := "http://" + p.http + "/api/v1/presence/alice@localhost"
	if code, _ := apiDo(t, "GET", base+"/watchers", "", ""); code != 401 {
		t.Fatalf("GET watchers without a token: %d", code)
	}
	if code, _ := apiDo(t, "GET", base+"/watchers", "wrong", ""); code != 401 {
		t.Fatalf("GET watchers with a wrong token: %d", code)
	}
	code, body := apiDo(t, "GET", base+"/watchers", admin, "")
	if code != 200 || !strings.Contains(body, `"watcher":"sip:bob@localhost"`) || !strings.Contains(body, `"state":"pending"`) {
		t.Fatalf("GET watchers: %d %s", code, body)
	}
	if code, body := apiDo(t, "PUT", base+"/watchers/bob@localhost", admin, `{"decision":"maybe"}`); code != 400 {
		t.Fatalf("PUT a bad decision: %d %s", code, body)
	}
	if code, body := apiDo(t, "PUT", base+"/watchers/bob@localhost", admin, `{"decision":"allow"}`); code != 204 {
		t.Fatalf("PUT allow: %d %s", code, body)
	}
	if n := bob.notify(); !strings.Contains(n, "Subscription-State: active") || !strings.Contains(n, "<basic>closed</basic>") {
		t.Fatalf("NOTIFY after allow (alice is offline):\n%s", n)
	}
	if code, body := apiDo(t, "PUT", base+"/policy", admin, `{"mode":"sometimes"}`); code != 400 {
		t.Fatalf("PUT a bad policy: %d %s", code, body)
	}
	if code, body := apiDo(t, "PUT", base+"/policy", admin, `{"mode":"open","block":["sip:bob@localhost"]}`); code != 204 {
		t.Fatalf("PUT policy: %d %s", code, body)
	}
	if n := bob.notify(); !strings.Contains(n, "Subscription-State: terminated;reason=rejected") {
		t.Fatalf("NOTIFY after block:\n%s", n)
	}
	if code, body := apiDo(t, "GET", base+"/policy", admin, ""); code != 200 || !strings.Contains(body, `"mode":"open"`) {
		t.Fatalf("GET policy: %d %s", code, body)
	}
}

// TestPresenceAPIOwnerToken: with bearer auth on, the owner's own token
// reads its watchers; someone else's token gets 403.
func TestPresenceAPIOwnerToken(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "--auth", "bearer,digest")
	cli(t, dir, p.http, "pw-alice\n", "user", "add", "alice", "--password-stdin")
	cli(t, dir, p.http, "pw-bob\n", "user", "add", "bob", "--password-stdin")
	_, a := passwordGrant(t, p.http, "alice", "pw-alice", "sip:presence")
	_, b := passwordGrant(t, p.http, "bob", "pw-bob", "sip:presence")
	base := "http://" + p.http + "/api/v1/presence/alice@localhost/watchers"
	if code, body := apiDo(t, "GET", base, a["access_token"].(string), ""); code != 200 {
		t.Fatalf("owner's token: %d %s", code, body)
	}
	if code, body := apiDo(t, "GET", base, b["access_token"].(string), ""); code != 403 {
		t.Fatalf("another user's token: %d %s", code, body)
	}
	// bob watches alice with his token over SIP; same domain: allowed.
	bob := newWatcher(t, p.udp, "bob")
	if res := bob.subscribe("alice@localhost", 1, "", "", 600); siptest.Status(res) != 401 {
		t.Fatalf("SUBSCRIBE without credentials:\n%s", res)
	}
	res := bob.subscribe("alice@localhost", 2, "", "Bearer "+b["access_token"].(string), 600)
	if siptest.Status(res) != 200 {
		t.Fatalf("SUBSCRIBE with bob's token:\n%s", res)
	}
	bob.notify()
}

// unregisterAll removes every binding of user (Contact: *, Expires: 0).
func unregisterAll(t *testing.T, addr, user string) {
	t.Helper()
	c, err := siptest.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Do(siptest.Lines(
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP "+c.LocalAddr()+";branch=z9hG4bK-unreg-"+user,
		"From: <sip:"+user+"@localhost>;tag=u",
		"To: <sip:"+user+"@localhost>",
		"Call-ID: unreg-"+user,
		"CSeq: 1 REGISTER",
		"Contact: *",
		"Expires: 0",
		"Content-Length: 0"), 3*time.Second)
	if err != nil || siptest.Status(res) != 200 {
		t.Fatalf("unregister %s: %v\n%s", user, err, res)
	}
}

// TestPresenceFollowsRegistration: a user nobody publishes for is closed
// while unregistered, open once registered, and closed again after
// unregistering; the registrar tells the presentity, and the watcher gets
// a NOTIFY each time.
func TestPresenceFollowsRegistration(t *testing.T) {
	p := start(t, t.TempDir())
	bob := newWatcher(t, p.udp, "bob")
	if res := bob.subscribe("carol@localhost", 1, "", "", 600); siptest.Status(res) != 200 {
		t.Fatalf("SUBSCRIBE:\n%s", res)
	}
	if n := bob.notify(); !strings.Contains(n, "<basic>closed</basic>") {
		t.Fatalf("unregistered user not closed:\n%s", n)
	}
	expectStatus(t, registerWith(t, p.udp, "carol"), 200)
	if n := bob.notify(); !strings.Contains(n, "<basic>open</basic>") {
		t.Fatalf("registered user not open:\n%s", n)
	}
	unregisterAll(t, p.udp, "carol")
	if n := bob.notify(); !strings.Contains(n, "<basic>closed</basic>") {
		t.Fatalf("unregistered user not closed again:\n%s", n)
	}
}

// TestPresenceSurvivesKill9: a publication and a subscription that were
// acknowledged survive kill -9: after the restart the ETag still
// refreshes, the watcher is still listed, and its in-dialog refresh is
// answered 200 with a NOTIFY carrying the published note.
func TestPresenceSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir)
	alice := newWatcher(t, p.udp, "alice")
	etag := publishRaw(t, alice, "alice@localhost", 1, "", "before the crash")
	bob := newWatcher(t, p.udp, "bob")
	res := bob.subscribe("alice@localhost", 1, "", "", 600)
	if siptest.Status(res) != 200 {
		t.Fatalf("SUBSCRIBE:\n%s", res)
	}
	toTag := tagOf(siptest.Header(res, "To")[0])
	bob.notify()
	if err := p.stop(t, syscall.SIGKILL); err == nil {
		t.Fatal("kill -9 reported a clean exit")
	}

	p = start(t, dir)
	alice = newWatcher(t, p.udp, "alice")
	publishRaw(t, alice, "alice@localhost", 2, etag, "")
	raw, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	if code, body := apiDo(t, "GET", "http://"+p.http+"/api/v1/presence/alice@localhost/watchers", strings.TrimSpace(string(raw)), ""); code != 200 || !strings.Contains(body, "sip:bob@localhost") {
		t.Fatalf("watchers after the restart: %d %s", code, body)
	}
	bob = newWatcher(t, p.udp, "bob")
	if res := bob.subscribe("alice@localhost", 2, toTag, "", 600); siptest.Status(res) != 200 {
		t.Fatalf("in-dialog refresh after the restart:\n%s", res)
	}
	if n := bob.notify(); !strings.Contains(n, "before the crash") {
		t.Fatalf("NOTIFY after the restart lost the publication:\n%s", n)
	}
}

// publishRaw sends a PUBLISH from w (initial with note, or a refresh of
// etag without a body) and returns the new SIP-ETag.
func publishRaw(t *testing.T, w *watcherClient, target string, cseq int, etag, note string) string {
	t.Helper()
	lines := []string{
		"PUBLISH sip:" + target + " SIP/2.0",
		"Via: SIP/2.0/UDP " + w.c.LocalAddr() + ";branch=z9hG4bK-pub" + itoa(cseq) + ";rport",
		"From: <sip:" + target + ">;tag=pub",
		"To: <sip:" + target + ">",
		"Call-ID: pub-" + target,
		"CSeq: " + itoa(cseq) + " PUBLISH",
		"Event: presence",
		"Expires: 600",
	}
	var body string
	if etag != "" {
		lines = append(lines, "SIP-If-Match: "+etag)
	} else {
		body = `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:` + target + `"><tuple id="t"><status><basic>open</basic></status><note>` + note + `</note></tuple></presence>`
		lines = append(lines, "Content-Type: application/pidf+xml")
	}
	lines = append(lines, "Content-Length: "+itoa(len(body)), "", body)
	res, err := w.c.Do([]byte(strings.Join(lines, "\r\n")), 3*time.Second)
	if err != nil || siptest.Status(res) != 200 || len(siptest.Header(res, "SIP-ETag")) == 0 {
		t.Fatalf("PUBLISH: %v\n%s", err, res)
	}
	return siptest.Header(res, "SIP-ETag")[0]
}

func tagOf(h string) string {
	_, tag, _ := strings.Cut(h, ";tag=")
	tag, _, _ = strings.Cut(tag, ";")
	return tag
}
