package bench

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePresence is a minimal presence server on UDP for the scenario's
// tests (RFC 3903, RFC 6665): SUBSCRIBE is answered 202 and followed by a
// NOTIFY without body to the Contact; PUBLISH is answered 200 with a new
// SIP-ETag (412 for an unknown SIP-If-Match) and followed by a NOTIFY with
// its body to every subscriber of the presentity.
type fakePresence struct {
	conn *net.UDPConn
	wg   sync.WaitGroup
	opt  fakeOptions

	mu       sync.Mutex
	subs     map[string][]*fakeSub // by presentity AOR
	etags    map[string]string     // presentity → current entity-tag
	nextTag  int
	initial  int // PUBLISHes without SIP-If-Match
	ifMatch  int // PUBLISHes with a valid SIP-If-Match
	notified int // NOTIFYs sent
	answered int // 200 OKs to NOTIFYs received
}

// fakeOptions make the fake server misbehave.
type fakeOptions struct {
	// dupNotify sends every NOTIFY twice, as after a lost 200 OK.
	dupNotify bool
	// rejectIfMatch answers every PUBLISH with SIP-If-Match 412.
	rejectIfMatch bool
}

// fakeSub is one subscription: where to NOTIFY and the dialog to use.
type fakeSub struct {
	contact        *net.UDPAddr
	from, to, call string
	cseq           int
}

func newFakePresence(t *testing.T, opt fakeOptions) *fakePresence {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePresence{conn: conn, opt: opt, subs: map[string][]*fakeSub{}, etags: map[string]string{}}
	f.wg.Go(f.serve)
	t.Cleanup(func() { _ = conn.Close(); f.wg.Wait() })
	return f
}

func (f *fakePresence) addr() string { return f.conn.LocalAddr().String() }

func (f *fakePresence) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		msg := buf[:n]
		if bytes.HasPrefix(msg, []byte("SIP/2.0 200")) {
			f.mu.Lock()
			f.answered++
			f.mu.Unlock()
			continue
		}
		var r IncomingRequest
		if ParseRequest(msg, &r) != nil {
			continue
		}
		switch string(r.Method) {
		case "SUBSCRIBE":
			f.subscribe(msg, from)
		case "PUBLISH":
			f.publish(msg, &r, from)
		}
	}
}

// reply answers req with status and extra header lines.
func (f *fakePresence) reply(req []byte, to *net.UDPAddr, status int, extra string) {
	b, _, err := AppendEchoResponse(nil, req, status, extra)
	if err == nil {
		_, _ = f.conn.WriteToUDP(b, to)
	}
}

func (f *fakePresence) subscribe(req []byte, from *net.UDPAddr) {
	contact := header(req, "Contact")
	i, j := strings.IndexByte(contact, '@'), strings.IndexByte(contact, '>')
	addr, err := net.ResolveUDPAddr("udp", contact[i+1:j])
	if i < 0 || j < i || err != nil || header(req, "Event") != "presence" {
		f.reply(req, from, 400, "")
		return
	}
	s := &fakeSub{contact: addr, from: header(req, "To") + ";tag=fake", to: header(req, "From"),
		call: header(req, "Call-ID"), cseq: 1}
	pres := uriUser(header(req, "To"))
	f.mu.Lock()
	f.subs[pres] = append(f.subs[pres], s)
	f.mu.Unlock()
	f.reply(req, from, 202, "Expires: "+header(req, "Expires")+"\r\nContact: <sip:"+f.addr()+">\r\n")
	f.notify(s, "")
}

func (f *fakePresence) publish(req []byte, r *IncomingRequest, from *net.UDPAddr) {
	pres := uriUser(header(req, "To"))
	match := header(req, "SIP-If-Match")
	f.mu.Lock()
	if match != "" && (f.opt.rejectIfMatch || f.etags[pres] != match) {
		f.mu.Unlock()
		f.reply(req, from, 412, "")
		return
	}
	if match == "" {
		f.initial++
	} else {
		f.ifMatch++
	}
	f.nextTag++
	etag := fmt.Sprintf("e%d", f.nextTag)
	f.etags[pres] = etag
	subs := append([]*fakeSub(nil), f.subs[pres]...)
	f.mu.Unlock()
	f.reply(req, from, 200, "SIP-ETag: "+etag+"\r\nExpires: 3600\r\n")
	for _, s := range subs {
		f.notify(s, string(r.Body))
	}
}

// notify sends a NOTIFY in the subscription's dialog (RFC 6665 §4.2.2).
func (f *fakePresence) notify(s *fakeSub, body string) {
	f.mu.Lock()
	s.cseq++
	cseq := s.cseq
	f.notified++
	f.mu.Unlock()
	msg := sipMsg("NOTIFY sip:w@"+s.contact.String()+" SIP/2.0",
		fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bKfake%d", f.addr(), cseq),
		"From: "+s.from, "To: "+s.to, "Call-ID: "+s.call, fmt.Sprintf("CSeq: %d NOTIFY", cseq),
		"Event: presence", "Subscription-State: active;expires=3600",
		"Content-Type: application/pidf+xml", fmt.Sprintf("Content-Length: %d", len(body)))
	msg = append(msg, body...)
	for range 1 + btoi(f.opt.dupNotify) {
		_, _ = f.conn.WriteToUDP(msg, s.contact)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// uriUser returns the user part of the first sip: URI in a header value.
func uriUser(v string) string {
	i := strings.Index(v, "sip:")
	if i < 0 {
		return ""
	}
	v = v[i+4:]
	if j := strings.IndexByte(v, '@'); j >= 0 {
		return v[:j]
	}
	return ""
}

// counts returns what the fake server saw, under its lock.
func (f *fakePresence) counts() (initial, ifMatch, notified, answered int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.initial, f.ifMatch, f.notified, f.answered
}

// answers waits up to d for an answer to every NOTIFY copy sent, and
// returns the copies and the answers read. When Run returns the generator
// has sent its last 200 OKs, but serve may not have read them yet.
func (f *fakePresence) answers(d time.Duration) (copies, answered int) {
	deadline := time.Now().Add(d)
	for {
		_, _, notified, answered := f.counts()
		copies = notified * (1 + btoi(f.opt.dupNotify))
		if answered >= copies || time.Now().After(deadline) {
			return copies, answered
		}
		time.Sleep(time.Millisecond)
	}
}
