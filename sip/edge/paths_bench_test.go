package edge_test

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/actors/call"
	"github.com/b2bua/b2bua/actors/presence"
)

// The benchmarks of this file measure the paths other than REGISTER the
// way BenchmarkRegisterEndToEnd does: real UDP on loopback into a real
// edge, the real actors and a bbolt store in a temp dir, a window of
// requests in flight, and clients (ua) that allocate nothing, so
// allocs/op is the server's cost per request (per call for INVITE). The
// README ("Other paths") has the figures.
//
//	go test ./sip/edge -run '^$' -bench 'EndToEnd' -benchtime 2000x -count 3 -benchmem

// ua is a client socket: a reader goroutine hands each datagram to handle,
// which may answer through reply (its own scratch buffer), without
// allocating.
type ua struct {
	c      *net.UDPConn
	local  string         // host:port, for Via and Contact
	to     netip.AddrPort // the server's UDP listener
	out    []byte         // the reader's scratch for answers
	failed chan string    // the first unexpected message
	done   chan struct{}
}

func newUA(b *testing.B, s *server, handle func(u *ua, msg []byte)) *ua {
	b.Helper()
	to, err := netip.ParseAddrPort(s.udp)
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	u := &ua{c: c, local: c.LocalAddr().String(), to: to, out: make([]byte, 0, 2048),
		failed: make(chan string, 1), done: make(chan struct{})}
	go func() {
		defer close(u.done)
		buf := make([]byte, 64<<10)
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed
			}
			handle(u, buf[:n])
		}
	}()
	b.Cleanup(func() { _ = c.Close(); <-u.done })
	return u
}

func (u *ua) send(b *testing.B, msg []byte) {
	if _, err := u.c.WriteToUDPAddrPort(msg, u.to); err != nil {
		b.Fatal(err)
	}
}

// fail records msg as the first unexpected message (it allocates, but
// only on failure).
func (u *ua) fail(msg []byte) {
	select {
	case u.failed <- string(msg):
	default:
	}
}

// check fails b when a message went wrong.
func (u *ua) check(b *testing.B) {
	select {
	case m := <-u.failed:
		b.Fatalf("unexpected:\n%s", m)
	default:
	}
}

// reply answers the request msg with status, extra header lines (each
// ending in CRLF) and body.
func (u *ua) reply(msg []byte, status, extra, body string) {
	u.out = appendReply(u.out[:0], msg, status, extra, body)
	_, _ = u.c.WriteToUDPAddrPort(u.out, u.to)
}

// inflight is a window of requests in flight, waited for with one reused
// timer (a time.After per wait would allocate).
type inflight struct {
	sem   chan struct{}
	timer *time.Timer
}

func newInflight(n int) *inflight {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &inflight{sem: make(chan struct{}, n), timer: t}
}

func (w *inflight) acquire(b *testing.B, u *ua, i int) {
	select {
	case w.sem <- struct{}{}:
		return
	default:
	}
	w.timer.Reset(5 * time.Second)
	defer w.timer.Stop()
	select {
	case w.sem <- struct{}{}:
	case m := <-u.failed:
		b.Fatalf("unexpected after %d requests:\n%s", i, m)
	case <-w.timer.C:
		b.Fatalf("no answer in 5 s (lost datagram?) after %d requests", i)
	}
}

func (w *inflight) release() { <-w.sem }

// drain waits until every request in flight was answered.
func (w *inflight) drain(b *testing.B, u *ua) {
	for range cap(w.sem) {
		w.acquire(b, u, -1)
	}
	for range cap(w.sem) {
		w.release()
	}
}

// waitFor waits until n reaches want.
func waitFor(b *testing.B, what string, n *atomic.Int64, want int64) {
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d, want %d", what, n.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// header is the value of the first header field named name (full form,
// any case) in msg, nil when there is none.
func header(msg []byte, name string) []byte {
	_, msg, _ = bytes.Cut(msg, crlf) // the start line
	for {
		line, rest, ok := bytes.Cut(msg, crlf)
		if !ok || len(line) == 0 {
			return nil
		}
		msg = rest
		if c := bytes.IndexByte(line, ':'); c > 0 && equalFold(bytes.TrimSpace(line[:c]), name) {
			return bytes.TrimSpace(line[c+1:])
		}
	}
}

var crlf = []byte("\r\n")

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i]|0x20, s[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

// appendReply appends to dst a UAS's answer with status ("200 OK") to the
// request msg: its Via lines, From, To (with a tag when it had none),
// Call-ID and CSeq, then extra and body.
func appendReply(dst, msg []byte, status, extra, body string) []byte {
	dst = append(dst, "SIP/2.0 "...)
	dst = append(dst, status...)
	dst = append(dst, crlf...)
	_, msg, _ = bytes.Cut(msg, crlf)
	for {
		line, rest, ok := bytes.Cut(msg, crlf)
		if !ok || len(line) == 0 {
			break
		}
		msg = rest
		c := bytes.IndexByte(line, ':')
		if c < 0 {
			continue
		}
		k, v := bytes.TrimSpace(line[:c]), line[c+1:]
		if !equalFold(k, "Via") && !equalFold(k, "From") && !equalFold(k, "To") && !equalFold(k, "Call-ID") && !equalFold(k, "CSeq") {
			continue
		}
		dst = append(dst, line...)
		if equalFold(k, "To") && !bytes.Contains(v, []byte("tag=")) {
			dst = append(dst, ";tag=uas"...)
		}
		dst = append(dst, crlf...)
	}
	dst = append(dst, extra...)
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// status is the status code of the response msg, 0 for a request.
func status(msg []byte) int {
	if len(msg) < 11 || !bytes.HasPrefix(msg, []byte("SIP/2.0 ")) {
		return 0
	}
	n, _ := atoi(msg[8:11])
	return n
}

// atoi is strconv.Atoi of a small decimal number without the string
// conversion (which escapes in Atoi's error).
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// appendRequest appends the start line, Via and Max-Forwards of a
// request of method to user@localhost from local, with branch
// z9hG4bK-<kind>-<n>.
func appendRequest(dst []byte, method, user string, n int, local, kind string) []byte {
	dst = append(dst, method...)
	dst = append(dst, " sip:"...)
	dst = append(dst, user...)
	dst = append(dst, "@localhost SIP/2.0\r\nVia: SIP/2.0/UDP "...)
	dst = append(dst, local...)
	dst = append(dst, ";branch=z9hG4bK-"...)
	dst = append(dst, kind...)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, ";rport\r\nMax-Forwards: 70\r\n"...)
}

// appendUser appends prefix and n: the user part of a numbered AOR.
func appendUser(dst []byte, prefix string, n int) []byte {
	return strconv.AppendInt(append(dst, prefix...), int64(n), 10)
}

// registerUsers registers users prefix0..prefix<n-1> with contacts at u, which
// must count the 200s in regs.
func registerUsers(b *testing.B, u *ua, prefix string, n int, regs *atomic.Int64) {
	b.Helper()
	base := regs.Load()
	var req []byte
	var user []byte
	for j := range n {
		user = appendUser(user[:0], prefix, j)
		req = appendRequest(req[:0], "REGISTER", "", j, u.local, "reg")
		req = bytes.Replace(req, []byte("sip:@localhost"), []byte("sip:localhost"), 1)
		req = append(req, "From: <sip:"...)
		req = append(append(req, user...), "@localhost>;tag=r\r\nTo: <sip:"...)
		req = append(append(req, user...), "@localhost>\r\nCall-ID: reg-"...)
		req = append(append(req, user...), "\r\nCSeq: 1 REGISTER\r\nContact: <sip:"...)
		req = append(append(req, user...), '@')
		req = append(req, u.local...)
		req = append(req, ">\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"...)
		u.send(b, req)
	}
	waitFor(b, "REGISTER answered", regs, base+int64(n))
}

// plugPort connects the actors' outbound port to the edge (NOTIFY,
// relayed MESSAGE, the B2BUA's legs).
func plugPort(b *testing.B, s *server) {
	s.sys.Outbound.Set(s.edge.Port(s.sys.Actors))
	b.Cleanup(func() { s.sys.Outbound.Set(nil) })
}

// pidfOf appends a PIDF document for sip:user@localhost, open or closed.
func appendPIDF(dst, user []byte, open bool) []byte {
	dst = append(dst, `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:`...)
	dst = append(dst, user...)
	dst = append(dst, `@localhost"><tuple id="t1"><status><basic>`...)
	if open {
		dst = append(dst, "open"...)
	} else {
		dst = append(dst, "closed"...)
	}
	return append(dst, `</basic></status></tuple></presence>`...)
}

// appendSubscribe appends a SUBSCRIBE to presence of presentity from
// watcher, a new dialog (Call-ID sub-<n>) whose Contact is at local.
func appendSubscribe(dst []byte, presentity, watcher []byte, n int, local string) []byte {
	dst = appendRequest(dst, "SUBSCRIBE", string(presentity), n, local, "sub") // string(): no escape, no allocation
	dst = append(dst, "From: <sip:"...)
	dst = append(append(dst, watcher...), "@localhost>;tag=w"...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, "\r\nTo: <sip:"...)
	dst = append(append(dst, presentity...), "@localhost>\r\nCall-ID: sub-"...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, "\r\nCSeq: 1 SUBSCRIBE\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nContact: <sip:"...)
	dst = append(append(dst, watcher...), '@')
	dst = append(dst, local...)
	return append(dst, ">\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"...)
}

// watcherUA answers every NOTIFY 200 and counts them in notified (and
// hands it to each, when not nil, once answered), and counts the 2xx to
// SUBSCRIBE in subscribed (releasing w when set).
func watcherUA(b *testing.B, s *server, notified, subscribed *atomic.Int64, w *inflight, each func(notify []byte)) *ua {
	return newUA(b, s, func(u *ua, msg []byte) {
		switch {
		case bytes.HasPrefix(msg, []byte("NOTIFY ")):
			u.reply(msg, "200 OK", "", "")
			notified.Add(1)
			if each != nil {
				each(msg)
			}
		case status(msg) == 200 || status(msg) == 202:
			subscribed.Add(1)
			if w != nil {
				w.release()
			}
		default:
			u.fail(msg)
		}
	})
}

// BenchmarkPublishEndToEnd: a PUBLISH that modifies the one publication of
// a presentity watched by W watchers, until its 200 and the W NOTIFYs it
// causes were answered. 32 presentities take turns (one PUBLISH in flight
// each: the next needs the last one's SIP-ETag); the state toggles
// open/closed so each PUBLISH changes what the watchers see. The publish
// rate limit is lifted and NOTIFY rate control is off (MinNotifyInterval
// 0): otherwise both would drop or merge work and flatter the figures.
func BenchmarkPublishEndToEnd(b *testing.B) {
	for _, watchers := range []int{1, 4} { // at most maxWatchers
		b.Run("watchers="+strconv.Itoa(watchers), func(b *testing.B) { benchPublish(b, watchers) })
	}
}

// take takes a free presentity, or fails b after 5 s or on an
// unexpected message (the timer allocates, but only when it waits).
func take(b *testing.B, slots chan int, pub, wu *ua) int {
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case j := <-slots:
		return j
	case m := <-pub.failed:
		b.Fatalf("publisher got:\n%s", m)
	case m := <-wu.failed:
		b.Fatalf("watcher got:\n%s", m)
	case <-timer.C:
		b.Fatalf("a PUBLISH or its NOTIFYs unanswered in 5 s (lost datagram?)")
	}
	return 0
}

// maxWatchers bounds the watchers of BenchmarkPublishEndToEnd.
const maxWatchers = 8

// numberAfter is the number that follows prefix in b, up to '@'.
func numberAfter(b []byte, prefix string) (int, bool) {
	i := bytes.Index(b, []byte(prefix))
	if i < 0 {
		return 0, false
	}
	b = b[i+len(prefix):]
	at := bytes.IndexByte(b, '@')
	if at <= 0 {
		return 0, false
	}
	return atoi(b[:at])
}

func benchPublish(b *testing.B, watchers int) {
	s := startServerOpts(b, options{deps: func(d *actors.Deps) {
		d.Presence = presence.DefaultConfig()
		d.Presence.MaxPublishRate = 1e9
		d.Presence.MinNotifyInterval = 0
	}})
	plugPort(b, s)
	const k = 32
	var notified, subscribed atomic.Int64
	// left[j] counts what presentity j's PUBLISH waits for: its 200 and
	// one NOTIFY per watcher. The slot is free again at 0, so the next
	// PUBLISH finds no NOTIFY of the last one out, which it would merge
	// into its own, and every PUBLISH costs its W NOTIFYs.
	var left [k]atomic.Int64
	slots := make(chan int, k)
	done := func(j int) {
		if left[j].Add(-1) == 0 {
			slots <- j
		}
	}
	var lastCSeq [k][maxWatchers]int // the reader's only
	wu := watcherUA(b, s, &notified, &subscribed, nil, func(notify []byte) {
		j, ok := numberAfter(header(notify, "From"), "sip:p") // <sip:p<j>@localhost>;tag=...
		w, ok2 := numberAfter(notify, "NOTIFY sip:w")         // the Request-URI: sip:w<w>@...
		seq, _, _ := bytes.Cut(header(notify, "CSeq"), []byte(" "))
		n, ok3 := atoi(seq)
		if !ok || !ok2 || !ok3 || j >= k || w >= maxWatchers {
			return
		}
		if n <= lastCSeq[j][w] {
			return // a retransmission (our 200 was slow): counted once
		}
		lastCSeq[j][w] = n
		done(j)
	})
	var req, user, watcher []byte
	for j := range k {
		user = appendUser(user[:0], "p", j)
		for w := range watchers {
			watcher = appendUser(watcher[:0], "w", w)
			req = appendSubscribe(req[:0], user, watcher, j*watchers+w, wu.local)
			wu.send(b, req)
		}
		waitFor(b, "SUBSCRIBE answered", &subscribed, int64((j+1)*watchers)) // no burst: loopback drops datagrams
	}
	wu.check(b)
	waitFor(b, "first NOTIFYs", &notified, k*int64(watchers))

	var etags [k][64]byte
	var etagLen [k]int
	pub := newUA(b, s, func(u *ua, msg []byte) {
		cid := header(msg, "Call-ID") // pub-<j>
		j, ok := atoi(bytes.TrimPrefix(cid, []byte("pub-")))
		etag := header(msg, "SIP-ETag")
		if status(msg) != 200 || !ok || j < 0 || j >= k || len(etag) == 0 || len(etag) > 64 {
			u.fail(msg)
			return
		}
		etagLen[j] = copy(etags[j][:], etag)
		done(j)
	})
	var cseq [k]int
	publish := func(j, n int) {
		cseq[j]++
		user = appendUser(user[:0], "p", j)
		var body [256]byte
		pidf := appendPIDF(body[:0], user, cseq[j]%2 == 0)
		req = appendRequest(req[:0], "PUBLISH", string(user), n, pub.local, "pub")
		req = append(req, "From: <sip:"...)
		req = append(append(req, user...), "@localhost>;tag=f\r\nTo: <sip:"...)
		req = append(append(req, user...), "@localhost>\r\nCall-ID: pub-"...)
		req = strconv.AppendInt(req, int64(j), 10)
		req = append(req, "\r\nCSeq: "...)
		req = strconv.AppendInt(req, int64(cseq[j]), 10)
		req = append(req, " PUBLISH\r\nEvent: presence\r\nExpires: 3600\r\n"...)
		if etagLen[j] > 0 {
			req = append(req, "SIP-If-Match: "...)
			req = append(append(req, etags[j][:etagLen[j]]...), crlf...)
		}
		req = append(req, "Content-Type: application/pidf+xml\r\nContent-Length: "...)
		req = strconv.AppendInt(req, int64(len(pidf)), 10)
		req = append(append(req, "\r\n\r\n"...), pidf...)
		left[j].Store(int64(1 + watchers))
		pub.send(b, req)
	}
	for j := range k { // the initial PUBLISHes: each presentity gets its publication
		publish(j, -1-j)
	}
	for range k {
		take(b, slots, pub, wu)
	}
	for j := range k {
		slots <- j
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var j int
		select {
		case j = <-slots:
		default:
			j = take(b, slots, pub, wu)
		}
		publish(j, i)
		pub.check(b)
		wu.check(b)
	}
	for range k {
		take(b, slots, pub, wu)
	}
	b.StopTimer()
	base := 2 * k * int64(watchers)
	b.ReportMetric(float64(notified.Load()-base)/float64(b.N), "notify/op")
}

// BenchmarkSubscribeEndToEnd: an initial SUBSCRIBE to presence by a new
// watcher each time (of one of 64 presentities with no publication), until
// its 200 and the first NOTIFY were answered.
func BenchmarkSubscribeEndToEnd(b *testing.B) {
	s := startServer(b)
	plugPort(b, s)
	var notified, subscribed atomic.Int64
	w := newInflight(32)
	u := watcherUA(b, s, &notified, &subscribed, w, nil)
	var req, user, watcher []byte
	subscribe := func(n int) {
		user = appendUser(user[:0], "p", n&63)
		watcher = appendUser(watcher[:0], "sw", n)
		req = appendSubscribe(req[:0], user, watcher, n, u.local)
		u.send(b, req)
	}
	w.acquire(b, u, -1)
	subscribe(-1) // spawns the shards
	w.drain(b, u)
	waitFor(b, "first NOTIFY", &notified, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		w.acquire(b, u, i)
		subscribe(i)
		u.check(b)
	}
	w.drain(b, u)
	waitFor(b, "NOTIFYs", &notified, int64(b.N)+1)
	b.StopTimer()
}

// allKnown knows every AOR: MESSAGEs to a user without a contact are
// stored without registering it first.
type allKnown struct{}

func (allKnown) Known(string) bool { return true }

// BenchmarkMessageEndToEnd: an out-of-dialog MESSAGE with a short text
// body. online: to one of 64 registered users whose contact (a socket of
// the benchmark) answers 200, until the sender got the 200; offline: to a
// known user without a contact, a new one each time (a new box), until the
// sender got the 202 after the store's commit.
func BenchmarkMessageEndToEnd(b *testing.B) {
	b.Run("online", func(b *testing.B) { benchMessage(b, true) })
	b.Run("offline", func(b *testing.B) { benchMessage(b, false) })
}

func benchMessage(b *testing.B, online bool) {
	s := startServerOpts(b, options{deps: func(d *actors.Deps) { d.Users = allKnown{} }})
	plugPort(b, s)
	const users = 64
	if online {
		var regs atomic.Int64
		uas := newUA(b, s, func(u *ua, msg []byte) {
			switch {
			case bytes.HasPrefix(msg, []byte("MESSAGE ")):
				u.reply(msg, "200 OK", "", "")
			case status(msg) == 200:
				regs.Add(1)
			default:
				u.fail(msg)
			}
		})
		registerUsers(b, uas, "u", users, &regs)
	}
	want := 202
	if online {
		want = 200
	}
	w := newInflight(32)
	sender := newUA(b, s, func(u *ua, msg []byte) {
		if status(msg) != want {
			u.fail(msg)
			return
		}
		w.release()
	})
	var req, user []byte
	message := func(n int) {
		if online {
			user = appendUser(user[:0], "u", n&(users-1))
		} else {
			user = appendUser(user[:0], "off", n)
		}
		req = appendRequest(req[:0], "MESSAGE", string(user), n, sender.local, "msg")
		req = append(req, "From: \"Carol\" <sip:carol@localhost>;tag=c"...)
		req = strconv.AppendInt(req, int64(n), 10)
		req = append(req, "\r\nTo: <sip:"...)
		req = append(append(req, user...), "@localhost>\r\nCall-ID: msg-"...)
		req = strconv.AppendInt(req, int64(n), 10)
		req = append(req, "@bench\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\nhello, are you there"...)
		sender.send(b, req)
	}
	w.acquire(b, sender, -1)
	message(-1)
	w.drain(b, sender)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		w.acquire(b, sender, i)
		message(i)
		sender.check(b)
	}
	w.drain(b, sender)
	b.StopTimer()
}

// BenchmarkCallEndToEnd: a whole call through the B2BUA with media
// passthrough: alice's INVITE with SDP, relayed to bob's contact (a
// socket of the benchmark), bob's 200 with SDP relayed back, alice's ACK
// (relayed to bob), alice's BYE (relayed, answered 200 by bob, then to
// alice), until alice got the 200 to her BYE. 16 calls in flight.
func BenchmarkCallEndToEnd(b *testing.B) {
	s := startServerOpts(b, options{deps: func(d *actors.Deps) {
		d.Calls = call.DefaultConfig()
		d.Calls.Media = call.MediaPassthrough
	}})
	plugPort(b, s)
	var regs atomic.Int64
	var bobContact string
	bob := newUA(b, s, func(u *ua, msg []byte) {
		switch {
		case bytes.HasPrefix(msg, []byte("INVITE ")):
			u.reply(msg, "200 OK", bobContact, sdpBody)
		case bytes.HasPrefix(msg, []byte("BYE ")):
			u.reply(msg, "200 OK", "", "")
		case bytes.HasPrefix(msg, []byte("ACK ")):
		case status(msg) == 200:
			regs.Add(1)
		default:
			u.fail(msg)
		}
	})
	bobContact = "Contact: <sip:bob@" + bob.local + ">\r\nContent-Type: application/sdp\r\n"
	registerUsers(b, bob, "bob", 1, &regs)

	w := newInflight(16)
	var acked [1024]int // call n's BYE went out: acked[(n+1)%1024] == n+2 (the reader's only)
	alice := newUA(b, s, func(u *ua, msg []byte) {
		code := status(msg)
		cseq := header(msg, "CSeq")
		switch {
		case code >= 100 && code < 200:
		case code == 200 && bytes.HasSuffix(cseq, []byte("INVITE")):
			n, ok := atoi(bytes.TrimPrefix(header(msg, "Call-ID"), []byte("call-")))
			if !ok {
				n = -1 // the warm-up call
			}
			u.out = appendInDialog(u.out[:0], "ACK", "1", msg, u.local)
			_, _ = u.c.WriteToUDPAddrPort(u.out, u.to)
			if acked[(n+1)%len(acked)] == n+2 {
				return // a retransmitted 2xx (a slow run): ACK it again, but one BYE is enough
			}
			acked[(n+1)%len(acked)] = n + 2
			u.out = appendInDialog(u.out[:0], "BYE", "2", msg, u.local)
			_, _ = u.c.WriteToUDPAddrPort(u.out, u.to)
		case code == 200 && bytes.HasSuffix(cseq, []byte("BYE")):
			w.release()
		default:
			u.fail(msg)
		}
	})
	var req []byte
	invite := func(n int) {
		req = appendRequest(req[:0], "INVITE", "bob0", n, alice.local, "inv")
		req = append(req, "From: <sip:alice@localhost>;tag=a"...)
		req = strconv.AppendInt(req, int64(n), 10)
		req = append(req, "\r\nTo: <sip:bob0@localhost>\r\nCall-ID: call-"...)
		req = strconv.AppendInt(req, int64(n), 10)
		req = append(req, "\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@"...)
		req = append(req, alice.local...)
		req = append(req, ">\r\nContent-Type: application/sdp\r\nContent-Length: "...)
		req = strconv.AppendInt(req, int64(len(sdpBody)), 10)
		req = append(append(req, "\r\n\r\n"...), sdpBody...)
		alice.send(b, req)
	}
	w.acquire(b, alice, -1)
	invite(-1)
	w.drain(b, alice)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		w.acquire(b, alice, i)
		invite(i)
		alice.check(b)
		bob.check(b)
	}
	w.drain(b, alice)
	b.StopTimer()
}

// appendInDialog appends alice's ACK or BYE (method, CSeq number seq) in
// the dialog of the 2xx res: its From, To and Call-ID.
func appendInDialog(dst []byte, method, seq string, res []byte, local string) []byte {
	cid := header(res, "Call-ID")
	dst = append(dst, method...)
	dst = append(dst, " sip:bob0@localhost SIP/2.0\r\nVia: SIP/2.0/UDP "...)
	dst = append(dst, local...)
	dst = append(dst, ";branch=z9hG4bK-"...)
	dst = append(dst, method...)
	dst = append(dst, '-')
	dst = append(dst, cid...)
	dst = append(dst, ";rport\r\nMax-Forwards: 70\r\nFrom: "...)
	dst = append(dst, header(res, "From")...)
	dst = append(dst, "\r\nTo: "...)
	dst = append(dst, header(res, "To")...)
	dst = append(dst, "\r\nCall-ID: "...)
	dst = append(dst, cid...)
	dst = append(dst, "\r\nCSeq: "...)
	dst = append(dst, seq...)
	dst = append(dst, ' ')
	dst = append(dst, method...)
	return append(dst, "\r\nContent-Length: 0\r\n\r\n"...)
}
