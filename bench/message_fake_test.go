package bench

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// fakeMessaging is a minimal registrar and MESSAGE server on UDP for the
// message scenario's tests, answering as ours is to (RFC 3428): REGISTER
// binds or (Expires: 0) removes the Contact and makes the user known;
// MESSAGE to a user with a contact is forwarded there as a new request and
// the contact's 2xx is answered 200; to a known user without contacts it
// is answered 202 (stored); to an unknown user 404.
type fakeMessaging struct {
	conn *net.UDPConn
	wg   sync.WaitGroup
	opt  fakeMessagingOptions

	mu       sync.Mutex
	contacts map[string]*net.UDPAddr // user → contact, nil when known without one
	pending  map[string]pendingMessage
	next     int
	relayed  int
	stored   int
}

// fakeMessagingOptions make the fake server misbehave.
type fakeMessagingOptions struct {
	// noBind answers REGISTER 200 but keeps no contact: every MESSAGE is
	// stored (202), even to a recipient meant to be online.
	noBind bool
	// forget answers REGISTER 200 and forgets the user: MESSAGE gets 404.
	forget bool
}

// pendingMessage is a MESSAGE waiting for its forwarded copy's answer.
type pendingMessage struct {
	req  []byte
	from *net.UDPAddr
}

func newFakeMessaging(t *testing.T, opt fakeMessagingOptions) *fakeMessaging {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeMessaging{conn: conn, opt: opt, contacts: map[string]*net.UDPAddr{}, pending: map[string]pendingMessage{}}
	f.wg.Go(f.serve)
	t.Cleanup(func() { _ = conn.Close(); f.wg.Wait() })
	return f
}

func (f *fakeMessaging) addr() string { return f.conn.LocalAddr().String() }

func (f *fakeMessaging) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		msg := bytes.Clone(buf[:n])
		if bytes.HasPrefix(msg, []byte("SIP/2.0 ")) {
			f.answered(msg)
			continue
		}
		var r IncomingRequest
		if ParseRequest(msg, &r) != nil {
			continue
		}
		switch string(r.Method) {
		case "REGISTER":
			f.register(msg, from)
		case "MESSAGE":
			f.message(msg, from)
		}
	}
}

func (f *fakeMessaging) reply(req []byte, to *net.UDPAddr, status int) {
	b, _, err := AppendEchoResponse(nil, req, status, "")
	if err == nil {
		_, _ = f.conn.WriteToUDP(b, to)
	}
}

func (f *fakeMessaging) register(req []byte, from *net.UDPAddr) {
	user := uriUser(header(req, "To"))
	contact := header(req, "Contact")
	i, j := strings.IndexByte(contact, '@'), strings.IndexByte(contact, '>')
	if i < 0 || j < i {
		f.reply(req, from, 400)
		return
	}
	addr, err := net.ResolveUDPAddr("udp", contact[i+1:j])
	if err != nil {
		f.reply(req, from, 400)
		return
	}
	f.mu.Lock()
	switch {
	case f.opt.forget:
	case header(req, "Expires") == "0" || f.opt.noBind:
		f.contacts[user] = nil
	default:
		f.contacts[user] = addr
	}
	f.mu.Unlock()
	f.reply(req, from, 200)
}

func (f *fakeMessaging) message(req []byte, from *net.UDPAddr) {
	user := uriUser(string(req[:bytes.IndexByte(req, '\r')]))
	f.mu.Lock()
	contact, known := f.contacts[user]
	switch {
	case !known:
		f.mu.Unlock()
		f.reply(req, from, 404)
		return
	case contact == nil:
		f.stored++
		f.mu.Unlock()
		f.reply(req, from, 202)
		return
	}
	f.next++
	branch := fmt.Sprintf("z9hG4bKfwd%d", f.next)
	f.pending[branch] = pendingMessage{req: req, from: from}
	f.mu.Unlock()
	body := req[bytes.Index(req, []byte("\r\n\r\n"))+4:]
	fwd := sipMsg("MESSAGE sip:"+user+"@"+contact.String()+" SIP/2.0",
		"Via: SIP/2.0/UDP "+f.addr()+";branch="+branch,
		"From: <sip:fake@"+f.addr()+">;tag=fake", "To: "+header(req, "To"),
		"Call-ID: fwd-"+header(req, "Call-ID"), "CSeq: 1 MESSAGE",
		"Content-Type: text/plain", fmt.Sprintf("Content-Length: %d", len(body)))
	_, _ = f.conn.WriteToUDP(append(fwd, body...), contact)
}

// answered completes a forwarded MESSAGE: its 2xx becomes the 200 to the
// sender (RFC 3428 §7).
func (f *fakeMessaging) answered(msg []byte) {
	var r Response
	if ParseResponse(msg, &r) != nil || r.Status < 200 {
		return
	}
	f.mu.Lock()
	p, ok := f.pending[string(r.Branch)]
	delete(f.pending, string(r.Branch))
	if ok && r.Status < 300 {
		f.relayed++
	}
	f.mu.Unlock()
	if !ok {
		return
	}
	status := 200
	if r.Status >= 300 {
		status = r.Status // the contact refused it
	}
	f.reply(p.req, p.from, status)
}

// counts returns the MESSAGEs relayed and stored, under the lock.
func (f *fakeMessaging) counts() (relayed, stored int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.relayed, f.stored
}
