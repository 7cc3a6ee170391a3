package bench

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
)

// UASConfig configures a UAS.
type UASConfig struct {
	// Sockets is the number of UDP sockets, each on its own port and
	// reader; 0 means 1.
	Sockets int
	// SocketBuffer is SO_RCVBUF/SO_SNDBUF; 0 means 4 MB.
	SocketBuffer int
	// Log receives diagnostics; nil for none.
	Log *zap.Logger
}

// UASCounts are the requests a UAS received, by method.
type UASCounts struct {
	Invites, Acks, Byes, Others uint64
}

// UAS is the callees' user agent of the call scenario: a stateless UDP
// responder that answers INVITE with 180 and 200 (a To tag, its Contact
// and an SDP answer), absorbs ACK, and answers BYE and anything else with
// 200. It keeps no state per call: the To tag is a hash of the Call-ID and
// From tag, so a retransmitted INVITE gets the very same answer, and a BYE
// needs nothing to be looked up. It does not retransmit its 200 (RFC 3261
// §13.3.1.4 would until the ACK): on loopback the generator's INVITE
// retransmission, answered again, recovers a lost 200 just as well.
type UAS struct {
	cfg   UASConfig
	conns []*net.UDPConn
	addrs []string
	wg    sync.WaitGroup

	invites, acks, byes, others atomic.Uint64
}

// ListenUAS starts a UAS with cfg.Sockets UDP sockets: the first at addr
// ("127.0.0.1:0" picks a free port), the others on free ports of the same
// host. Close stops it.
func ListenUAS(addr string, cfg UASConfig) (*UAS, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	setIfZero(&cfg.Sockets, 1)
	setIfZero(&cfg.SocketBuffer, 4<<20)
	u := &UAS{cfg: cfg}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("uas: %w", err)
	}
	for i := range cfg.Sockets {
		if i > 0 {
			ua = &net.UDPAddr{IP: ua.IP, Zone: ua.Zone}
		}
		c, err := net.ListenUDP("udp", ua)
		if err != nil {
			_ = u.Close()
			return nil, fmt.Errorf("uas: %w", err)
		}
		setBuffers(c, cfg.SocketBuffer, cfg.Log)
		u.conns = append(u.conns, c)
		u.addrs = append(u.addrs, c.LocalAddr().String())
	}
	for i, c := range u.conns {
		a := newUASAnswers(u.addrs[i])
		u.wg.Go(func() { // an INVITE takes two answers (180, 200)
			serveBatches(ipv4.NewPacketConn(c), 2, u.cfg.Log, "uas", func(r *replies, req []byte) { u.answer(r, req, a) })
		})
	}
	return u, nil
}

// Addrs returns the host:port of every socket.
func (u *UAS) Addrs() []string { return u.addrs }

// Counts returns the requests received so far.
func (u *UAS) Counts() UASCounts {
	return UASCounts{Invites: u.invites.Load(), Acks: u.acks.Load(), Byes: u.byes.Load(), Others: u.others.Load()}
}

// Close stops the UAS and waits for its readers.
func (u *UAS) Close() error {
	var errs []error
	for _, c := range u.conns {
		errs = append(errs, c.Close())
	}
	u.wg.Wait()
	return errors.Join(errs...)
}

// uasAnswers is what one socket puts in its answers: its Contact line and
// the SDP answer with Content-Type and Content-Length.
type uasAnswers struct {
	contact string
	sdp     string
}

// uasSDP is the answer to the generator's PCMU offer (RFC 3264 §6): one
// audio stream, PCMU, on a port nobody sends to.
const uasSDP = "v=0\r\no=uas 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"

func newUASAnswers(addr string) uasAnswers {
	return uasAnswers{
		contact: "Contact: <sip:uas@" + addr + ">\r\n",
		sdp: "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(uasSDP)) + "\r\n\r\n" +
			uasSDP,
	}
}

// answer queues the answers to req in r.
func (u *UAS) answer(r *replies, req []byte, a uasAnswers) {
	sp := bytes.IndexByte(req, ' ')
	if sp <= 0 || bytes.HasPrefix(req, []byte("SIP/")) {
		return // a response or garbage: nothing to answer
	}
	queue := func(status int) {
		if b, err := AppendUASResponse(r.buf(), req, status, a); err == nil {
			r.add(b)
		}
	}
	switch string(req[:sp]) {
	case "INVITE":
		u.invites.Add(1)
		queue(180)
		queue(200)
	case "ACK":
		u.acks.Add(1)
	case "BYE":
		u.byes.Add(1)
		queue(200)
	default:
		u.others.Add(1)
		queue(200)
	}
}

// AppendUASResponse appends the UAS's response with status to the request
// req: Via, From, To, Call-ID and CSeq copied (RFC 3261 §8.2.6.2) with a
// To tag added when the request has none, derived from the Call-ID and
// From tag so that a retransmission gets the same; to INVITE also the
// Record-Route headers (RFC 3261 §12.1.1), and from 101 to 299 a's Contact,
// and with 2xx the SDP answer. ACK and responses give ErrNotSIP.
func AppendUASResponse(dst, req []byte, status int, a uasAnswers) ([]byte, error) {
	var r IncomingRequest
	if err := ParseRequest(req, &r); err != nil {
		return dst, err
	}
	method := string(r.Method)
	if method == "ACK" {
		return dst, ErrNotSIP
	}
	invite := method == "INVITE"
	dst = append(dst, "SIP/2.0 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, reasonPhrase(status)...)
	dst = append(dst, "\r\n"...)
	it := headerIter{b: req, pos: bytes.IndexByte(req, '\n') + 1, end: -1}
	for {
		name, value, ok := it.next()
		if !ok {
			break
		}
		switch {
		case headerIs(name, "via", "v"), headerIs(name, "from", "f"),
			headerIs(name, "call-id", "i"), headerIs(name, "cseq", ""):
			dst = appendHeader(dst, name, value, "")
		case invite && headerIs(name, "record-route", ""):
			dst = appendHeader(dst, name, value, "")
		case headerIs(name, "to", "t"):
			dst = appendHeader(dst, name, value, "")
			if status > 100 && !hasTag(value) {
				dst = dst[:len(dst)-2]
				dst = append(dst, ";tag="...)
				dst = appendUASTag(dst, r.CallID, fromTag(req))
				dst = append(dst, "\r\n"...)
			}
		}
	}
	dst = append(dst, "Server: b2bua-bench-uas\r\n"...)
	if invite && status > 100 && status < 300 {
		dst = append(dst, a.contact...)
	}
	if invite && status >= 200 && status < 300 {
		return append(dst, a.sdp...), nil
	}
	return append(dst, "Content-Length: 0\r\n\r\n"...), nil
}

// appendUASTag appends 'u' and 8 hex digits of the FNV-1a hash of the
// Call-ID and From tag: the same request gets the same To tag.
func appendUASTag(dst, callID, from []byte) []byte {
	sum := uint32(2166136261) // FNV-1a, inline: hash/fnv's Hash allocates
	for _, b := range [2][]byte{callID, from} {
		for _, c := range b {
			sum = (sum ^ uint32(c)) * 16777619
		}
	}
	dst = append(dst, 'u')
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, "0123456789abcdef"[sum>>uint(shift)&15])
	}
	return dst
}

// fromTag returns the From tag of a request, nil if absent.
func fromTag(req []byte) []byte {
	it := headerIter{b: req, pos: bytes.IndexByte(req, '\n') + 1, end: -1}
	for {
		name, value, ok := it.next()
		if !ok {
			return nil
		}
		if headerIs(name, "from", "f") {
			return tagParam(value)
		}
	}
}
