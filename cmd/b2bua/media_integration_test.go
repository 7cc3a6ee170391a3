package main

import (
	"context"
	"encoding/base64"
	be "encoding/binary" // binary is the server under test
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"

	"github.com/b2bua/b2bua/sip/siptest"
	"github.com/b2bua/b2bua/sip/ua"
)

// The media relay (--media relay) end to end: the real binary between
// two parties whose RTP the tests send and check. One side is SIPp
// (RFC 4733 events played from a pcap, and SIPp's RTP echo), the others
// are Go peers: the sip/ua SDK for signalling with an SDP of their own
// (ua.WithSDP), and an RTP socket that speaks plain RTP or SDES-SRTP
// (pion/rtp, pion/srtp). Each test runs its own server on a port range
// of its own (--rtp-ports, in 19000-19999: below the default 20000-30000
// that the other tests' servers relay on), so they run in parallel.

// rtpPeer is a Go media endpoint on loopback: an RTP socket and an RTCP
// one (named by a=rtcp, RFC 3605, since port+1 may be taken), plain RTP
// or, with a key, SDES-SRTP (AES_CM_128_HMAC_SHA1_80 unless
// newSuitePeer chose another suite).
type rtpPeer struct {
	t    *testing.T
	conn *net.UDPConn
	rtcp *net.UDPConn
	// sdpPort is the port its SDP names: conn's, or another one (a peer
	// behind NAT whose packets come from elsewhere).
	sdpPort int
	key     []byte // our master key||salt; nil: plain RTP
	suite   string // of key, srtpSuite unless newSuitePeer chose another
	tag     int    // a=crypto tag of our line (an answer repeats the offer's)
	ssrc    uint32
	seq     uint16

	remote     netip.AddrPort // where its media goes: the other side's SDP
	remoteRTCP netip.AddrPort // its a=rtcp, else port+1
	enc        *srtp.Context  // with key
	dec        *srtp.Context  // with the other side's key
}

const (
	srtpSuite   = "AES_CM_128_HMAC_SHA1_80"
	payloadSize = 160 // 20 ms of G.711
)

// newRTPPeer binds an RTP socket on 127.0.0.1; secure peers speak SRTP.
func newRTPPeer(t *testing.T, secure bool) *rtpPeer {
	t.Helper()
	conn := listenUDP(t)
	r := &rtpPeer{t: t, conn: conn, rtcp: listenUDP(t), sdpPort: conn.LocalAddr().(*net.UDPAddr).Port, tag: 1,
		ssrc: uint32(time.Now().UnixNano()) | 1, seq: uint16(time.Now().UnixNano() >> 8)}
	if secure {
		r.setSuite(srtpSuite)
	}
	return r
}

// srtpProfiles are the SDES suites the Go peers speak (RFC 4568 §6.2,
// RFC 7714 §12) and pion's profile of each.
var srtpProfiles = map[string]srtp.ProtectionProfile{
	srtpSuite:                 srtp.ProtectionProfileAes128CmHmacSha1_80,
	"AES_CM_128_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
	"AEAD_AES_128_GCM":        srtp.ProtectionProfileAeadAes128Gcm,
}

// newSuitePeer is an SRTP peer that offers and accepts suite only.
func newSuitePeer(t *testing.T, suite string) *rtpPeer {
	t.Helper()
	r := newRTPPeer(t, false)
	r.setSuite(suite)
	return r
}

// setSuite gives the peer a key of suite and its encrypt context.
func (r *rtpPeer) setSuite(suite string) {
	r.t.Helper()
	prof := srtpProfiles[suite]
	kl, err := prof.KeyLen()
	if err != nil {
		r.t.Fatal(err)
	}
	sl, err := prof.SaltLen()
	if err != nil {
		r.t.Fatal(err)
	}
	r.suite, r.key = suite, make([]byte, kl+sl)
	for i := range r.key {
		r.key[i] = byte(r.ssrc>>(i%4*8)) + byte(i)
	}
	if r.enc, err = srtp.CreateContext(r.key[:kl], r.key[kl:], prof); err != nil {
		r.t.Fatal(err)
	}
}

func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// sdp is the peer's offer, or its answer once it learned an offer.
func (r *rtpPeer) sdp() []byte {
	proto := "RTP/AVP"
	crypto := ""
	if r.key != nil {
		proto = "RTP/SAVP"
		crypto = fmt.Sprintf("a=crypto:%d %s inline:%s\r\n", r.tag, r.suite, base64.StdEncoding.EncodeToString(r.key))
	}
	return []byte(fmt.Sprintf("v=0\r\no=- %d 1 IN IP4 127.0.0.1\r\ns=go\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d %s 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"+
		"a=rtcp:%d\r\n%sa=sendrecv\r\n",
		r.ssrc, r.sdpPort, proto, r.rtcp.LocalAddr().(*net.UDPAddr).Port, crypto))
}

// remoteMedia is what an SDP says of its first audio stream.
type remoteMedia struct {
	addr   netip.AddrPort
	rtcp   netip.AddrPort // a=rtcp, else addr's port+1
	proto  string
	dir    string
	tag    int
	key    []byte // of its AES_CM_128_HMAC_SHA1_80 line, else of its first
	suite  string // key's
	crypto int    // a=crypto lines
}

func parseMedia(t *testing.T, body []byte) remoteMedia {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil || len(sd.MediaDescriptions) == 0 {
		t.Fatalf("SDP: %v\n%s", err, body)
	}
	m := sd.MediaDescriptions[0]
	c := m.ConnectionInformation
	if c == nil {
		c = sd.ConnectionInformation
	}
	if c == nil || c.Address == nil {
		t.Fatalf("SDP without c=:\n%s", body)
	}
	ip, err := netip.ParseAddr(c.Address.Address)
	if err != nil {
		t.Fatalf("SDP c= %q: %v", c.Address.Address, err)
	}
	rm := remoteMedia{addr: netip.AddrPortFrom(ip, uint16(m.MediaName.Port.Value)), proto: strings.Join(m.MediaName.Protos, "/"), dir: "sendrecv"}
	rm.rtcp = netip.AddrPortFrom(ip, rm.addr.Port()+1)
	for _, a := range m.Attributes {
		switch a.Key {
		case "rtcp":
			f := strings.Fields(a.Value)
			port, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatalf("a=rtcp %q", a.Value)
			}
			at := ip
			if len(f) == 4 {
				if at, err = netip.ParseAddr(f[3]); err != nil {
					t.Fatalf("a=rtcp %q", a.Value)
				}
			}
			rm.rtcp = netip.AddrPortFrom(at, uint16(port))
		case "sendrecv", "sendonly", "recvonly", "inactive":
			rm.dir = a.Key
		case "crypto":
			rm.crypto++
			f := strings.Fields(a.Value)
			if len(f) < 3 || rm.suite == srtpSuite {
				continue
			}
			if _, ok := srtpProfiles[f[1]]; !ok || (rm.key != nil && f[1] != srtpSuite) {
				continue
			}
			inline, _, _ := strings.Cut(strings.TrimPrefix(f[2], "inline:"), "|")
			key, err := base64.StdEncoding.DecodeString(inline)
			if err != nil || len(key) < 28 {
				t.Fatalf("a=crypto %q: bad key", a.Value)
			}
			rm.tag, _ = strconv.Atoi(f[0])
			rm.key, rm.suite = key, f[1]
		}
	}
	return rm
}

// learn takes the other side's SDP: where to send, and its key.
func (r *rtpPeer) learn(body []byte) remoteMedia {
	r.t.Helper()
	rm := parseMedia(r.t, body)
	r.remote, r.remoteRTCP = rm.addr, rm.rtcp
	if r.key != nil {
		if rm.key == nil || rm.suite != r.suite {
			r.t.Fatalf("an SRTP peer got no %s key:\n%s", r.suite, body)
		}
		r.tag = rm.tag // an answer repeats the offer's tag (RFC 4568 §5.1.2)
		var err error
		if r.dec, err = srtp.CreateContext(rm.key[:16], rm.key[16:], srtpProfiles[r.suite],
			srtp.SRTPReplayProtection(64), srtp.SRTCPReplayProtection(64)); err != nil {
			r.t.Fatal(err)
		}
	}
	return rm
}

// payload is what packet seq of ssrc carries: the test checks each byte.
func payload(ssrc uint32, seq uint16) []byte {
	p := make([]byte, payloadSize)
	be.BigEndian.PutUint32(p, ssrc)
	be.BigEndian.PutUint16(p[4:], seq)
	for i := 6; i < len(p); i++ {
		p[i] = byte(int(seq) + i)
	}
	return p
}

// send sends n packets from the peer's socket; it returns the first
// sequence number.
func (r *rtpPeer) send(n int) uint16 { return r.sendFrom(r.conn, n) }

// sendFrom sends n packets of the peer's stream from conn.
func (r *rtpPeer) sendFrom(conn *net.UDPConn, n int) uint16 {
	r.t.Helper()
	first := r.seq
	for i := 0; i < n; i++ {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: r.seq,
			Timestamp: uint32(r.seq) * payloadSize, SSRC: r.ssrc}, Payload: payload(r.ssrc, r.seq)}
		b, err := pkt.Marshal()
		if err != nil {
			r.t.Fatal(err)
		}
		if r.enc != nil {
			if b, err = r.enc.EncryptRTP(nil, b, nil); err != nil {
				r.t.Fatal(err)
			}
		}
		if _, err := conn.WriteToUDPAddrPort(b, r.remote); err != nil {
			r.t.Fatal(err)
		}
		r.seq++
		time.Sleep(time.Millisecond) // a paced stream, not a burst into one socket buffer
	}
	return first
}

// receive reads packets on conn until n came or within passed; an SRTP
// peer decrypts them (a packet that does not authenticate fails the test).
func (r *rtpPeer) receive(conn *net.UDPConn, n int, within time.Duration) []rtp.Packet {
	r.t.Helper()
	var got []rtp.Packet
	buf := make([]byte, 1500)
	deadline := time.Now().Add(within)
	for len(got) < n {
		_ = conn.SetReadDeadline(deadline)
		k, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			r.t.Fatal(err)
		}
		b := buf[:k]
		if r.dec != nil {
			if b, err = r.dec.DecryptRTP(nil, b, nil); err != nil {
				r.t.Fatalf("SRTP from the relay does not decrypt with the key of its SDP: %v", err)
			}
		}
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), b...)); err != nil {
			r.t.Fatalf("not RTP: %v", err)
		}
		got = append(got, p)
	}
	return got
}

// expect receives from's next n packets on r and checks them: the
// sender's SSRC, consecutive sequence numbers from first, every payload
// byte as sent.
func (r *rtpPeer) expect(from *rtpPeer, first uint16, n int) {
	r.t.Helper()
	got := r.receive(r.conn, n, 3*time.Second)
	checkStream(r.t, got, from.ssrc, first, n)
}

func checkStream(t *testing.T, got []rtp.Packet, ssrc uint32, first uint16, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d packets of %d came through the relay", len(got), n)
	}
	for i, p := range got {
		want := first + uint16(i)
		switch {
		case p.SSRC != ssrc:
			t.Fatalf("packet %d: SSRC %#x, want %#x", i, p.SSRC, ssrc)
		case p.SequenceNumber != want:
			t.Fatalf("packet %d: sequence %d, want %d (lost, reordered or renumbered)", i, p.SequenceNumber, want)
		case string(p.Payload) != string(payload(ssrc, want)):
			t.Fatalf("packet %d (seq %d): payload changed on the way", i, want)
		}
	}
}

// sendReports sends n RTCP sender reports (SRTCP for an SRTP peer) from
// the peer's RTCP socket to the other side's RTCP address.
func (r *rtpPeer) sendReports(n int) {
	r.t.Helper()
	for i := 0; i < n; i++ {
		sr := rtcp.SenderReport{SSRC: r.ssrc, NTPTime: uint64(i) << 32, RTPTime: uint32(i) * payloadSize, PacketCount: uint32(i), OctetCount: uint32(i) * payloadSize}
		b, err := sr.Marshal()
		if err != nil {
			r.t.Fatal(err)
		}
		if r.enc != nil {
			if b, err = r.enc.EncryptRTCP(nil, b, nil); err != nil {
				r.t.Fatal(err)
			}
		}
		if _, err := r.rtcp.WriteToUDPAddrPort(b, r.remoteRTCP); err != nil {
			r.t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

// expectReports receives from's n sender reports on the RTCP socket:
// decrypted (SRTCP) with the key of the relay's SDP, each from's SSRC
// with its packet count in order.
func (r *rtpPeer) expectReports(from *rtpPeer, n int) {
	r.t.Helper()
	buf := make([]byte, 1500)
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; i < n; i++ {
		_ = r.rtcp.SetReadDeadline(deadline)
		k, _, err := r.rtcp.ReadFromUDPAddrPort(buf)
		if err != nil {
			r.t.Fatalf("%d RTCP reports of %d came through the relay: %v", i, n, err)
		}
		b := buf[:k]
		if r.dec != nil {
			if b, err = r.dec.DecryptRTCP(nil, b, nil); err != nil {
				r.t.Fatalf("SRTCP from the relay does not decrypt with the key of its SDP: %v", err)
			}
		}
		pkts, err := rtcp.Unmarshal(b)
		if err != nil || len(pkts) != 1 {
			r.t.Fatalf("report %d: %d RTCP packets, %v", i, len(pkts), err)
		}
		sr, ok := pkts[0].(*rtcp.SenderReport)
		if !ok || sr.SSRC != from.ssrc || sr.PacketCount != uint32(i) {
			r.t.Fatalf("report %d: %#v, want a sender report of SSRC %#x with packet count %d", i, pkts[0], from.ssrc, i)
		}
	}
}

// silent fails the test when a packet reaches conn within d.
func (r *rtpPeer) silent(conn *net.UDPConn, d time.Duration, what string) {
	r.t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 1500)
	if n, from, err := conn.ReadFromUDPAddrPort(buf); err == nil {
		r.t.Fatalf("%s: a packet of %d bytes came from %v", what, n, from)
	}
}

// mediaServer starts the server with the relay on ports lo-hi.
func mediaServer(t *testing.T, lo, hi int, args ...string) *proc {
	t.Helper()
	return start(t, t.TempDir(), append([]string{"--media", "relay", "--rtp-ports", fmt.Sprintf("%d-%d", lo, hi),
		"--media-address", "127.0.0.1"}, args...)...)
}

// mediaConfig is a configuration file with the media settings only a
// file can give (media.quarantine, media.latch).
func mediaConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b2bua.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// atRelay checks that an SDP points at the relay: c=127.0.0.1 and an even
// port of lo-hi.
func atRelay(t *testing.T, rm remoteMedia, lo, hi int, who string) {
	t.Helper()
	port := int(rm.addr.Port())
	if rm.addr.Addr() != netip.MustParseAddr("127.0.0.1") || port < lo || port > hi || port%2 != 0 {
		t.Fatalf("%s got media at %v, not the relay's (127.0.0.1, an even port of %d-%d)", who, rm.addr, lo, hi)
	}
}

// mediaParties are a caller and a callee with their calls, bob
// registered at the server.
type mediaParties struct {
	alice, bob *ua.Peer
	ca, cb     *ua.Call
	offer      []byte // what bob got
}

// newParties registers bob (user) and makes alice's peer.
func newParties(t *testing.T, p *proc, user string) *mediaParties {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bob := uaPeer(t, "udp", user, ua.WithKeepalive(0))
	if err := bob.Register(ctx, p.udp); err != nil {
		t.Fatal(err)
	}
	return &mediaParties{alice: uaPeer(t, "udp", "alice-"+user, ua.WithServer(p.udp), ua.WithKeepalive(0)), bob: bob}
}

// connect has alice call bob with caller's SDP and bob answer with
// callee's, each peer learning the SDP it got.
func (mp *mediaParties) connect(t *testing.T, caller, callee *rtpPeer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type placed struct {
		c   *ua.Call
		err error
	}
	done := make(chan placed, 1)
	go func() {
		c, err := mp.alice.Call(ctx, mp.bob.AOR(), ua.WithSDP(caller.sdp()))
		done <- placed{c, err}
	}()
	var ic *ua.IncomingCall
	select {
	case ic = <-mp.bob.IncomingCalls():
	case r := <-done:
		t.Fatalf("the call ended before it rang: %v", r.err)
	case <-ctx.Done():
		t.Fatal("no incoming call")
	}
	mp.offer = ic.Offer
	callee.learn(ic.Offer)
	cb, err := ic.Answer(ctx, ua.WithSDP(callee.sdp()))
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	mp.ca, mp.cb = r.c, cb
	caller.learn(r.c.RemoteSDP())
}

// hangup ends the call from alice's side and waits for bob's to end.
func (mp *mediaParties) hangup(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mp.ca.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-mp.cb.Done():
	case <-ctx.Done():
		t.Fatal("the callee got no BYE")
	}
}

// metric is the value of a Prometheus series (name with its labels, as
// /metrics writes it); 0 when it is absent.
func metric(t *testing.T, p *proc, series string) float64 {
	t.Helper()
	res, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// metricAtLeast waits (the media legs report once a second) until series
// reaches min.
func metricAtLeast(t *testing.T, p *proc, series string, min float64) {
	t.Helper()
	deadline := time.Now().Add(4 * time.Second)
	for {
		v := metric(t, p, series)
		if v >= min {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want at least %v", series, v, min)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// mediaClean fails the test when the server logged an error or a panic
// (serverClean), or when port pairs stay handed out 3 s after every call
// ended (b2bua_media_ports_in_use; pairs in quarantine are not in use).
func mediaClean(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := metric(t, p, "b2bua_media_ports_in_use")
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v port pairs still in use after every call ended", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	serverClean(t, p)
}

// TestMediaSIPpThroughRelay: SIPp calls SIPp through the relay. Each
// scenario checks that the SDP it got points at the relay (127.0.0.1, a
// port of --rtp-ports) and not at the other SIPp; the caller plays RFC
// 4733 events from a pcap (30 packets), the callee echoes every packet
// (-rtp_echo). Both ways cross the relay, so it receives and sends each
// packet twice. The offer comes in the INVITE, or late: in the callee's
// 200, with the caller's answer in the ACK (RFC 3264 §2).
func TestMediaSIPpThroughRelay(t *testing.T) {
	t.Parallel()
	needPcap(t)
	p := mediaServer(t, 19100, 19199)
	const played = 30
	for i, tc := range []struct{ name, uac, uas string }{
		{"offer in the INVITE", "media_uac.xml", "media_uas.xml"},
		{"offer in the 200, answer in the ACK", "media_late_uac.xml", "media_late_uas.xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := fmt.Sprintf("bob%d", i)
			bob := callee(t, p, user, tc.uas, "-rtp_echo", "-mp", strconv.Itoa(freeUDPPort(t)))
			call(t, p, tc.uac, user, "-s", user, "-mp", strconv.Itoa(freeUDPPort(t)))
			bob.wait(t, "callee")
			// The counters are the server's: each call adds its packets.
			metricAtLeast(t, p, `b2bua_media_packets_total{dir="in"}`, float64(2*played*(i+1)))
			metricAtLeast(t, p, `b2bua_media_packets_total{dir="out"}`, float64(2*played*(i+1)))
		})
	}
	mediaClean(t, p)
}

// TestMediaTransfer: after a blind transfer (bob REFERs alice to carol,
// refer_uas.xml), alice's media reaches carol through the relay: alice's
// re-INVITE still points at the relay, she plays 30 RFC 4733 packets and
// carol (-rtp_echo) echoes them back, so the relay takes in and sends out
// at least twice that.
func TestMediaTransfer(t *testing.T) {
	t.Parallel()
	needPcap(t)
	p := mediaServer(t, 19500, 19599)
	carol := callee(t, p, "carol", "call_uas.xml", "-rtp_echo", "-mp", strconv.Itoa(freeUDPPort(t)))
	bob := callee(t, p, "bob", "refer_uas.xml", "-inf", injection(t, "carol"))
	call(t, p, "media_transferee.xml", "bob", "-mp", strconv.Itoa(freeUDPPort(t)))
	bob.wait(t, "transferor")
	carol.wait(t, "transfer target")
	const played = 30
	metricAtLeast(t, p, `b2bua_media_packets_total{dir="in"}`, 2*played)
	metricAtLeast(t, p, `b2bua_media_packets_total{dir="out"}`, 2*played)
	mediaClean(t, p)
}

// TestMediaEarlyMedia: the callee's 183 with SDP bridges the media before
// the answer: a Go caller gets the 30 RFC 4733 packets the callee (SIPp,
// media_early_uas.xml) plays while the call still rings, at the address
// of its own offer, and the 200 that follows points at the relay.
func TestMediaEarlyMedia(t *testing.T) {
	t.Parallel()
	needPcap(t)
	const lo, hi = 19600, 19699
	p := mediaServer(t, lo, hi)
	bob := callee(t, p, "bob", "media_early_uas.xml", "-mp", strconv.Itoa(freeUDPPort(t)))
	alice := uaPeer(t, "udp", "alice", ua.WithServer(p.udp), ua.WithKeepalive(0))
	caller := newRTPPeer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	type placed struct {
		c   *ua.Call
		err error
	}
	done := make(chan placed, 1)
	go func() {
		c, err := alice.Call(ctx, "bob", ua.WithSDP(caller.sdp()))
		done <- placed{c, err}
	}()
	got := caller.receive(caller.conn, 30, 5*time.Second)
	select {
	case r := <-done:
		t.Fatalf("the call was answered (%v) before the early media came: %d packets", r.err, len(got))
	default:
	}
	if len(got) != 30 {
		t.Fatalf("%d of the callee's 30 early media packets reached the caller", len(got))
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	atRelay(t, parseMedia(t, r.c.RemoteSDP()), lo, hi, "the caller")
	if err := r.c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	bob.wait(t, "callee")
	mediaClean(t, p)
}

// TestMediaSRTPToRTP: with --srtp rtp an SRTP caller reaches a plain
// callee. The callee is offered RTP/AVP without keys, at the relay; the
// caller's answer is RTP/SAVP with the relay's key. Each way, every packet
// arrives once, in order, with its payload intact: decrypted toward the
// callee, encrypted with the relay's key toward the caller; RTCP sender
// reports likewise (SRTCP). With --srtp srtp the roles swap: a plain
// caller, an SRTP callee. No key, the parties' or the relay's, appears in
// the server's logs, even at debug level.
func TestMediaSRTPToRTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                       string
		policy                     string
		lo                         int
		callerSecure, calleeSecure bool
	}{
		{"SRTP caller, RTP callee", "rtp", 19200, true, false},
		{"RTP caller, SRTP callee", "srtp", 19220, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mediaServer(t, tc.lo, tc.lo+19, "--srtp", tc.policy, "--log-level", "debug")
			mp := newParties(t, p, "bob")
			caller, callee := newRTPPeer(t, tc.callerSecure), newRTPPeer(t, tc.calleeSecure)
			mp.connect(t, caller, callee)

			offer, answer := parseMedia(t, mp.offer), parseMedia(t, mp.ca.RemoteSDP())
			atRelay(t, offer, tc.lo, tc.lo+19, "the callee")
			atRelay(t, answer, tc.lo, tc.lo+19, "the caller")
			for _, c := range []struct {
				who    string
				rm     remoteMedia
				secure bool
			}{{"the callee's offer", offer, tc.calleeSecure}, {"the caller's answer", answer, tc.callerSecure}} {
				want := map[bool]string{false: "RTP/AVP", true: "RTP/SAVP"}[c.secure]
				if c.rm.proto != want || (c.rm.key != nil) != c.secure {
					t.Fatalf("%s: %s with %d a=crypto, want %s", c.who, c.rm.proto, c.rm.crypto, want)
				}
			}
			if tc.callerSecure && (answer.tag != 1 || string(answer.key) == string(caller.key)) {
				t.Fatalf("the caller's answer: tag %d (want 1, the offer's), its own key echoed: %v", answer.tag, string(answer.key) == string(caller.key))
			}

			first := caller.send(50)
			callee.expect(caller, first, 50)
			first = callee.send(50)
			caller.expect(callee, first, 50)
			caller.sendReports(5)
			callee.expectReports(caller, 5)
			callee.sendReports(5)
			caller.expectReports(callee, 5)
			mp.hangup(t)
			mediaClean(t, p)
			for _, k := range [][]byte{caller.key, callee.key, offer.key, answer.key} {
				if k != nil && strings.Contains(p.logs.String(), base64.StdEncoding.EncodeToString(k)) {
					t.Fatalf("an SRTP key is in the server's logs (debug level)")
				}
			}
		})
	}
}

// TestMediaHoldResume: one party holds (re-INVITE a=sendonly) and
// resumes (a=sendrecv). Each SDP crosses with its direction and the
// relay's address: the other party is offered sendonly and the holder
// gets its recvonly. On hold, RFC 3264 §6.1: the holder (sendonly) does
// not receive, so nothing the other party sends reaches it
// (relay.Remote.Send false), while what the holder sends still goes
// through. Once resumed, media flows both ways again. Alice (leg A) holds,
// or bob (leg B: his re-INVITE crosses the other way). With SRTP on both
// legs (--srtp mirror, each leg its own keys) the re-INVITEs keep the
// keys: the packets after them still decrypt with the first SDP's.
func TestMediaHoldResume(t *testing.T) {
	t.Parallel()
	const lo, hi = 19240, 19259
	p := mediaServer(t, lo, hi)
	for i, tc := range []struct {
		name        string
		secure      bool
		calleeHolds bool
	}{{"RTP, the caller holds", false, false}, {"SRTP both legs, the caller holds", true, false}, {"RTP, the callee holds", false, true}} {
		user := fmt.Sprintf("bob%d", i)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mp := newParties(t, p, user)
			caller, callee := newRTPPeer(t, tc.secure), newRTPPeer(t, tc.secure)
			mp.connect(t, caller, callee)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			first := caller.send(10)
			callee.expect(caller, first, 10)
			first = callee.send(10)
			caller.expect(callee, first, 10)

			holder, other := mp.ca, mp.cb
			hp, op := caller, callee
			if tc.calleeHolds {
				holder, other, hp, op = mp.cb, mp.ca, callee, caller
			}
			if err := holder.Hold(ctx); err != nil {
				t.Fatal(err)
			}
			offer, answer := parseMedia(t, other.RemoteSDP()), parseMedia(t, holder.RemoteSDP())
			atRelay(t, offer, lo, hi, "the held party")
			atRelay(t, answer, lo, hi, "the holder")
			if offer.dir != "sendonly" || answer.dir != "recvonly" || !other.Held() {
				t.Fatalf("hold: the held party was offered %s (held: %v), the holder's answer says %s", offer.dir, other.Held(), answer.dir)
			}
			op.send(20)
			hp.silent(hp.conn, 500*time.Millisecond, "the holder (sendonly)")
			first = hp.send(20)
			op.expect(hp, first, 20)

			if err := holder.Resume(ctx); err != nil {
				t.Fatal(err)
			}
			offer, answer = parseMedia(t, other.RemoteSDP()), parseMedia(t, holder.RemoteSDP())
			atRelay(t, offer, lo, hi, "the held party (resume)")
			atRelay(t, answer, lo, hi, "the holder (resume)")
			if offer.dir != "sendrecv" || answer.dir != "sendrecv" || other.Held() {
				t.Fatalf("resume: the held party was offered %s (held: %v), the holder's answer says %s", offer.dir, other.Held(), answer.dir)
			}
			first = callee.send(20)
			caller.expect(callee, first, 20)
			first = caller.send(20)
			callee.expect(caller, first, 20)
			mp.hangup(t)
		})
	}
	t.Cleanup(func() { mediaClean(t, p) })
}

// TestMediaNATLatching: bob's SDP names port P but his packets come from
// port Q (a NAT). Once his first packets arrived, what alice sends goes
// to Q, and nothing to P.
func TestMediaNATLatching(t *testing.T) {
	t.Parallel()
	p := mediaServer(t, 19260, 19279)
	mp := newParties(t, p, "bob")
	caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
	advertised := listenUDP(t) // P: in the SDP, never sent from
	callee.sdpPort = advertised.LocalAddr().(*net.UDPAddr).Port
	mp.connect(t, caller, callee)

	first := callee.send(5) // from Q
	caller.expect(callee, first, 5)
	first = caller.send(30)
	callee.expect(caller, first, 30)
	callee.silent(advertised, 200*time.Millisecond, "the SDP's port after latching")
	mp.hangup(t)
	mediaClean(t, p)
}

// TestMediaHijack: a third party sends RTP (an SSRC of its own) to the
// relay port bob's media comes from. Its packets are dropped (counted as
// b2bua_media_dropped_total{reason="hijack"}) and alice's keep going to
// bob: when bob is latched to his SDP address (at once, the relay never
// leaves it), and when he is latched to a NAT address and the latching
// window (media.latch, 500 ms here) is over.
func TestMediaHijack(t *testing.T) {
	t.Parallel()
	p := mediaServer(t, 19280, 19299, "--config", mediaConfig(t, "media:\n  latch: 500ms\n"))
	hijacked := 0
	for i, tc := range []struct {
		name string
		nat  bool
	}{{"latched to the SDP address", false}, {"latched behind NAT, after the window", true}} {
		t.Run(tc.name, func(t *testing.T) {
			mp := newParties(t, p, "bob"+strconv.Itoa(i))
			caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
			if tc.nat {
				callee.sdpPort = listenUDP(t).LocalAddr().(*net.UDPAddr).Port
			}
			mp.connect(t, caller, callee)
			first := callee.send(5)
			caller.expect(callee, first, 5)
			if tc.nat {
				time.Sleep(700 * time.Millisecond) // past media.latch
			}

			attacker := newRTPPeer(t, false)
			attacker.remote = callee.remote // the relay's port facing bob
			attacker.send(20)
			hijacked += 20
			caller.silent(caller.conn, 300*time.Millisecond, "alice, while a third party sends to bob's relay port")
			first = caller.send(20)
			callee.expect(caller, first, 20)
			attacker.silent(attacker.conn, 200*time.Millisecond, "the third party")
			first = callee.send(5) // bob still gets through
			caller.expect(callee, first, 5)
			mp.hangup(t)
		})
	}
	metricAtLeast(t, p, `b2bua_media_dropped_total{reason="hijack"}`, float64(hijacked))
	mediaClean(t, p)
}

// TestMediaInactivity: with --media-timeout 2s an answered call whose
// parties send no RTP ends with a BYE to both. A call where only one party
// talks stays up (the timeout is silence from both sides), and so does a
// silent call on hold (RFC 3264 §8.4: a held party may send nothing).
func TestMediaInactivity(t *testing.T) {
	t.Parallel()
	p := mediaServer(t, 19300, 19319, "--media-timeout", "2s")
	for i, tc := range []struct {
		name  string
		talk  bool // alice sends RTP all along
		hold  bool // alice holds the call at once
		ended bool
	}{
		{"silent: BYE to both", false, false, true},
		{"one party talks: up", true, false, false},
		{"silent on hold: up", false, true, false},
	} {
		user := fmt.Sprintf("bob%d", i) // a callee of its own per case
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mp := newParties(t, p, user)
			caller := newRTPPeer(t, false)
			mp.connect(t, caller, newRTPPeer(t, false))
			answered := time.Now()
			if tc.hold {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := mp.ca.Hold(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.ended {
				deadline := time.Now().Add(4 * time.Second) // twice the timeout
				for time.Now().Before(deadline) {
					if tc.talk {
						caller.send(1)
					}
					select {
					case <-mp.ca.Done():
						t.Fatalf("the call ended after %v", time.Since(answered))
					case <-mp.cb.Done():
						t.Fatalf("the call ended after %v", time.Since(answered))
					case <-time.After(100 * time.Millisecond):
					}
				}
				mp.hangup(t)
				return
			}
			for who, c := range map[string]*ua.Call{"alice": mp.ca, "bob": mp.cb} {
				select {
				case <-c.Done():
				case <-time.After(8 * time.Second):
					t.Fatalf("%s got no BYE 8 s into a silent call", who)
				}
			}
			if d := time.Since(answered); d < time.Second {
				t.Fatalf("the silent call ended after %v, before the 2 s timeout", d)
			}
		})
	}
	t.Cleanup(func() { mediaClean(t, p) })
}

// TestMediaPortsExhausted: --rtp-ports 19000-19003 holds two port pairs,
// one call. A second call meanwhile gets 503 with Retry-After; once the
// first call ended and its ports rested (media.quarantine, 1 s here), a
// call goes through again.
func TestMediaPortsExhausted(t *testing.T) {
	t.Parallel()
	p := mediaServer(t, 19000, 19003, "--config", mediaConfig(t, "media:\n  quarantine: 1s\n"))
	mp := newParties(t, p, "bob")
	mp.connect(t, newRTPPeer(t, false), newRTPPeer(t, false))

	if n := metric(t, p, "b2bua_media_ports_in_use"); n != 2 {
		t.Fatalf("b2bua_media_ports_in_use = %v during a call, want 2 (a pair per leg)", n)
	}
	res := rawInvite(t, p, "bob", newRTPPeer(t, false).sdp())
	expectStatus(t, res, 503, "Retry-After:")

	mp.hangup(t)
	// Each probe would take a pair for its leg A and put it back into
	// quarantine, so wait the quarantine out once, with a margin for the
	// media legs to stop, and call.
	time.Sleep(2 * time.Second)
	caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
	mp2 := newParties(t, p, "carol")
	mp2.connect(t, caller, callee)
	first := caller.send(10)
	callee.expect(caller, first, 10)
	mp2.hangup(t)
	mediaClean(t, p)
}

// rawInvite sends an INVITE from a raw socket to user with body and
// returns its final response (ACKed).
func rawInvite(t *testing.T, p *proc, user string, body []byte) string {
	t.Helper()
	c, err := siptest.Dial("udp", p.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	via := "Via: SIP/2.0/UDP " + c.LocalAddr() + ";branch=z9hG4bK-" + id
	from := "From: <sip:eve@localhost>;tag=" + id
	invite := append(siptest.Lines(
		"INVITE sip:"+user+"@localhost SIP/2.0", via, from,
		"To: <sip:"+user+"@localhost>",
		"Call-ID: "+id,
		"CSeq: 1 INVITE",
		"Contact: <sip:eve@"+c.LocalAddr()+">",
		"Max-Forwards: 70",
		"Content-Type: application/sdp",
		fmt.Sprintf("Content-Length: %d", len(body))), body...)
	if err := c.Send(invite); err != nil {
		t.Fatal(err)
	}
	for {
		res, err := c.Read(5 * time.Second)
		if err != nil {
			t.Fatalf("INVITE to %s: %v", user, err)
		}
		if code := siptest.Status(res); code >= 200 {
			to := regexp.MustCompile(`(?m)^To:.*$`).FindString(strings.ReplaceAll(res, "\r", ""))
			_ = c.Send(siptest.Lines("ACK sip:"+user+"@localhost SIP/2.0", via, from, to, "Call-ID: "+id,
				"CSeq: 1 ACK", "Max-Forwards: 70", "Content-Length: 0"))
			return res
		}
	}
}

// TestMediaCallsFreeTheirPorts: calls through the relay that end without
// being answered, or end any other way than a BYE after the answer, give
// back every port pair: busy (486), the caller's CANCEL while it rings,
// three forks of which the second answers (the others cancelled), an
// unknown user (404, after leg A took its ports) and no answer (480).
// The scenarios are those of TestCallWithSIPp, which check both legs.
func TestMediaCallsFreeTheirPorts(t *testing.T) {
	t.Parallel()
	needSIPp(t)
	p := mediaServer(t, 19400, 19499, "--no-answer", "1s")
	for i, tc := range []struct {
		name    string
		callees []string // UAS scenarios registered as the same user
		uac     string
	}{
		{"busy", []string{"call_uas_busy.xml"}, "call_busy.xml"},
		{"cancelled while ringing", []string{"call_uas_ring.xml"}, "call_cancel.xml"},
		{"forked, the second answers", []string{"call_uas_ring.xml", "call_uas.xml", "call_uas_ring.xml"}, "call_uac.xml"},
		{"unknown user", nil, "call_not_found.xml"},
		{"no answer", []string{"call_uas_ring.xml"}, "call_unavailable.xml"},
	} {
		user := "bob" + strconv.Itoa(i)
		if tc.callees == nil {
			user = "nobody"
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var uas []*sippUA
			for _, sc := range tc.callees {
				uas = append(uas, callee(t, p, user, sc))
			}
			call(t, p, tc.uac, user)
			for _, u := range uas {
				u.wait(t, "callee")
			}
		})
	}
	t.Cleanup(func() { mediaClean(t, p) })
}

// TestMediaPassthrough: with --media passthrough the SDP crosses untouched
// both ways.
func TestMediaPassthrough(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), "--media", "passthrough")
	mp := newParties(t, p, "bob")
	caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
	offer := caller.sdp()
	mp.connect(t, caller, callee)
	if string(mp.offer) != string(offer) {
		t.Fatalf("the offer changed on the way:\n%s\nbecame\n%s", offer, mp.offer)
	}
	if got, want := string(mp.ca.RemoteSDP()), string(callee.sdp()); got != want {
		t.Fatalf("the answer changed on the way:\n%s\nbecame\n%s", want, got)
	}
	mp.hangup(t)
	mediaClean(t, p)
}

// needPcap skips a test without SIPp or without the pcap its scenarios
// play (Debian's sip-tester ships it).
func needPcap(t *testing.T) {
	t.Helper()
	needSIPp(t)
	if _, err := os.Stat("/usr/share/sip-tester/dtmf_2833_1.pcap"); err != nil {
		t.Skip("SIPp's pcaps are not installed (Debian sip-tester ships them)")
	}
}

// rawUAS is a callee that answers the server's INVITE when and with what
// the test says (sip/ua rings 180 without SDP and holds with a=sendonly
// only): 183 or 200 with its SDP, re-INVITEs of its own. It answers a
// CANCEL (200, then 487), a BYE (200), and registers its socket as a
// contact of a user: two of them registered as one user are two forks.
type rawUAS struct {
	t       *testing.T
	conn    *net.UDPConn
	server  netip.AddrPort
	user    string
	tag     string
	invites chan string // the server's INVITE (not its retransmissions)
	acks    chan string
	res     chan string // responses to our re-INVITEs
	done    chan struct{}
	invite  string // the INVITE answered
	seq     int    // our CSeq
}

func newRawUAS(t *testing.T, p *proc, user string) *rawUAS {
	t.Helper()
	u := &rawUAS{t: t, conn: listenUDP(t), server: netip.MustParseAddrPort(p.udp), user: user,
		tag: strconv.FormatInt(time.Now().UnixNano(), 36), invites: make(chan string, 1), acks: make(chan string, 4),
		res: make(chan string, 8), done: make(chan struct{}), seq: 100}
	id := u.tag + "r"
	u.sendRaw(siptest.Lines("REGISTER sip:localhost SIP/2.0", "Via: SIP/2.0/UDP "+u.addr()+";branch=z9hG4bK-"+id,
		"From: <sip:"+user+"@localhost>;tag="+id, "To: <sip:"+user+"@localhost>", "Call-ID: "+id, "CSeq: 1 REGISTER",
		"Contact: <sip:"+user+"@"+u.addr()+">", "Max-Forwards: 70", "Expires: 600", "Content-Length: 0"))
	if res := u.read(3 * time.Second); siptest.Status(res) != 200 {
		t.Fatalf("REGISTER %s: %q", user, res)
	}
	go u.serve()
	return u
}

func (u *rawUAS) addr() string { return u.conn.LocalAddr().String() }

func (u *rawUAS) sendRaw(b []byte) {
	if _, err := u.conn.WriteToUDPAddrPort(b, u.server); err != nil {
		u.t.Error(err)
	}
}

// read is the next message, "" after within (or once the socket closed).
func (u *rawUAS) read(within time.Duration) string {
	buf := make([]byte, 65535)
	_ = u.conn.SetReadDeadline(time.Now().Add(within))
	n, _, err := u.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// serve answers what comes until the socket closes (the test's cleanup).
func (u *rawUAS) serve() {
	var inv string // the INVITE, for its 487 (u.invite is the test's)
	for {
		msg := u.read(time.Minute)
		if msg == "" {
			return
		}
		method, _, _ := strings.Cut(msg, " ")
		switch method {
		case "SIP/2.0":
			u.res <- msg
		case "INVITE":
			if inv == "" && !strings.Contains(siptest.Header(msg, "To")[0], "tag=") {
				inv = msg
				u.invites <- msg
			}
		case "ACK":
			u.acks <- msg
		case "CANCEL":
			u.sendRaw(u.response(msg, 200, nil))
			u.sendRaw(u.response(inv, 487, nil))
		case "BYE":
			u.sendRaw(u.response(msg, 200, nil))
			select {
			case <-u.done: // a retransmission
			default:
				close(u.done)
			}
		}
	}
}

// awaitInvite waits for the server's INVITE and returns its SDP.
func (u *rawUAS) awaitInvite() []byte {
	u.t.Helper()
	select {
	case u.invite = <-u.invites:
	case <-time.After(5 * time.Second):
		u.t.Fatalf("%s@%s got no INVITE", u.user, u.addr())
	}
	_, body, _ := strings.Cut(u.invite, "\r\n\r\n")
	return []byte(body)
}

// respond answers the INVITE with code and body (SDP).
func (u *rawUAS) respond(code int, body []byte) { u.sendRaw(u.response(u.invite, code, body)) }

// response is a response to req: its Vias, From, Call-ID and CSeq, its To
// with our tag.
func (u *rawUAS) response(req string, code int, body []byte) []byte {
	lines := []string{fmt.Sprintf("SIP/2.0 %d %s", code, map[int]string{183: "Session Progress", 200: "OK", 487: "Request Terminated"}[code])}
	for _, v := range siptest.Header(req, "Via") {
		lines = append(lines, "Via: "+v)
	}
	to := siptest.Header(req, "To")[0]
	if !strings.Contains(to, "tag=") {
		to += ";tag=" + u.tag
	}
	lines = append(lines, "From: "+siptest.Header(req, "From")[0], "To: "+to, "Call-ID: "+siptest.Header(req, "Call-ID")[0],
		"CSeq: "+siptest.Header(req, "CSeq")[0], "Contact: <sip:"+u.user+"@"+u.addr()+">")
	if len(body) > 0 {
		lines = append(lines, "Content-Type: application/sdp")
	}
	return append(siptest.Lines(append(lines, fmt.Sprintf("Content-Length: %d", len(body)))...), body...)
}

// reinvite sends a re-INVITE with body in the dialog of the INVITE it
// answered, ACKs the 200 and returns the answer's SDP.
func (u *rawUAS) reinvite(body []byte) []byte {
	u.t.Helper()
	u.seq++
	target := strings.Trim(siptest.Header(u.invite, "Contact")[0], "<>")
	to := siptest.Header(u.invite, "From")[0]
	from := siptest.Header(u.invite, "To")[0] + ";tag=" + u.tag
	head := func(method, branch string, seq int) []string {
		return []string{method + " " + target + " SIP/2.0", "Via: SIP/2.0/UDP " + u.addr() + ";branch=z9hG4bK-" + branch,
			"From: " + from, "To: " + to, "Call-ID: " + siptest.Header(u.invite, "Call-ID")[0],
			fmt.Sprintf("CSeq: %d %s", seq, method), "Max-Forwards: 70"}
	}
	branch := fmt.Sprintf("%s-%d", u.tag, u.seq)
	u.sendRaw(append(siptest.Lines(append(head("INVITE", branch, u.seq), "Contact: <sip:"+u.user+"@"+u.addr()+">",
		"Content-Type: application/sdp", fmt.Sprintf("Content-Length: %d", len(body)))...), body...))
	for {
		select {
		case res := <-u.res:
			code := siptest.Status(res)
			if code < 200 {
				continue
			}
			if code != 200 {
				u.t.Fatalf("re-INVITE: %q", res)
			}
			u.sendRaw(siptest.Lines(append(head("ACK", branch+"a", u.seq), "Content-Length: 0")...))
			_, answer, _ := strings.Cut(res, "\r\n\r\n")
			return []byte(answer)
		case <-time.After(5 * time.Second):
			u.t.Fatal("no answer to the re-INVITE")
		}
	}
}

// awaitACK waits for the server's ACK of our 200.
func (u *rawUAS) awaitACK() {
	u.t.Helper()
	select {
	case <-u.acks:
	case <-time.After(5 * time.Second):
		u.t.Fatal("no ACK for the 200")
	}
}

// awaitBYE waits for the server's BYE (answered).
func (u *rawUAS) awaitBYE() {
	u.t.Helper()
	select {
	case <-u.done:
	case <-time.After(5 * time.Second):
		u.t.Fatal("the callee got no BYE")
	}
}

// TestMediaEarlyMediaForks: bob has two contacts (two forks), each
// answers 183 with SDP and sends RTP. The caller hears the fork whose SDP
// came last (the call bridges leg A to it, call.provisional), and nothing
// of the other. Then the first fork answers 200: the caller hears it, the
// other fork (cancelled) is not forwarded, and what the caller sends
// reaches the winner only.
func TestMediaEarlyMediaForks(t *testing.T) {
	t.Parallel()
	const lo, hi = 19700, 19719
	p := mediaServer(t, lo, hi)
	forks := []*rawUAS{newRawUAS(t, p, "bob"), newRawUAS(t, p, "bob")}
	alice := uaPeer(t, "udp", "alice", ua.WithServer(p.udp), ua.WithKeepalive(0))
	caller := newRTPPeer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	type placed struct {
		c   *ua.Call
		err error
	}
	done, progress := make(chan placed, 1), make(chan int, 8)
	go func() {
		c, err := alice.Call(ctx, "bob", ua.WithSDP(caller.sdp()), ua.WithProgress(func(code int, _ string) { progress <- code }))
		done <- placed{c, err}
	}()
	// progressed waits for the caller to get a 183 (the call bridged).
	progressed := func(who string) {
		t.Helper()
		select {
		case <-progress:
		case r := <-done:
			t.Fatalf("the call ended (%v) before %s's 183", r.err, who)
		case <-time.After(5 * time.Second):
			t.Fatalf("the caller got no 183 from %s", who)
		}
	}
	peers := make([]*rtpPeer, len(forks))
	for i, f := range forks {
		peers[i] = newRTPPeer(t, false)
		atRelay(t, peers[i].learn(f.awaitInvite()), lo, hi, fmt.Sprintf("fork %d", i))
	}

	forks[0].respond(183, peers[0].sdp())
	progressed("fork 0")
	first := peers[0].send(10)
	caller.expect(peers[0], first, 10)

	forks[1].respond(183, peers[1].sdp()) // the latest SDP: the caller hears fork 1 now
	progressed("fork 1")
	first = peers[1].send(10)
	caller.expect(peers[1], first, 10)
	peers[0].send(10)
	caller.silent(caller.conn, 300*time.Millisecond, "the caller, from the fork whose early media was replaced")

	forks[0].respond(200, peers[0].sdp()) // the first fork answers
	var r placed
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the 200 did not reach the caller")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	forks[0].awaitACK()
	atRelay(t, caller.learn(r.c.RemoteSDP()), lo, hi, "the caller")
	first = peers[0].send(20)
	caller.expect(peers[0], first, 20)
	peers[1].send(10)
	caller.silent(caller.conn, 300*time.Millisecond, "the caller, from the fork that lost")
	first = caller.send(20)
	peers[0].expect(caller, first, 20)
	peers[1].silent(peers[1].conn, 200*time.Millisecond, "the fork that lost")

	if err := r.c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	forks[0].awaitBYE()
	mediaClean(t, p)
}

// TestMediaHoldUnspecified: bob holds the RFC 2543 way, a re-INVITE whose
// c= is 0.0.0.0 and which has no direction attribute. Alice is offered
// c=0.0.0.0 as well (media/sdp keeps an unspecified address, so she knows
// the call is held), and while held nothing she sends reaches bob. Bob
// resumes with his real address: alice is offered the relay again and
// media flows both ways.
func TestMediaHoldUnspecified(t *testing.T) {
	t.Parallel()
	const lo, hi = 19720, 19739
	p := mediaServer(t, lo, hi)
	bob := newRawUAS(t, p, "bob")
	alice := uaPeer(t, "udp", "alice", ua.WithServer(p.udp), ua.WithKeepalive(0))
	caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	type placed struct {
		c   *ua.Call
		err error
	}
	done := make(chan placed, 1)
	go func() {
		c, err := alice.Call(ctx, "bob", ua.WithSDP(caller.sdp()))
		done <- placed{c, err}
	}()
	callee.learn(bob.awaitInvite())
	bob.respond(200, callee.sdp())
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	bob.awaitACK()
	caller.learn(r.c.RemoteSDP())
	first := caller.send(10)
	callee.expect(caller, first, 10)
	first = callee.send(10)
	caller.expect(callee, first, 10)

	version := func(v int) string { return fmt.Sprintf(" %d IN IP4 ", v) }
	held := strings.Replace(string(callee.sdp()), "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1)
	held = strings.Replace(strings.Replace(held, "a=sendrecv\r\n", "", 1), version(1), version(2), 1)
	atRelay(t, parseMedia(t, bob.reinvite([]byte(held))), lo, hi, "bob (hold)")
	offer := parseMedia(t, r.c.RemoteSDP())
	if !offer.addr.Addr().IsUnspecified() {
		t.Fatalf("alice was offered media at %v, not the hold's 0.0.0.0:\n%s", offer.addr, r.c.RemoteSDP())
	}
	caller.send(20) // to the relay, as before the hold
	callee.silent(callee.conn, 500*time.Millisecond, "bob, held with c=0.0.0.0")

	resumed := strings.Replace(string(callee.sdp()), version(1), version(3), 1)
	atRelay(t, parseMedia(t, bob.reinvite([]byte(resumed))), lo, hi, "bob (resume)")
	atRelay(t, parseMedia(t, r.c.RemoteSDP()), lo, hi, "alice (resume)")
	first = caller.send(20)
	callee.expect(caller, first, 20)
	first = callee.send(20)
	caller.expect(callee, first, 20)

	if err := r.c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	bob.awaitBYE()
	mediaClean(t, p)
}

// TestMediaSRTPSuites: with --srtp rtp a caller that offers only
// AES_CM_128_HMAC_SHA1_32, or only AEAD_AES_128_GCM (RFC 7714), gets an
// answer with that suite, the tag of its offer and a key of the relay's.
// Packets pass both ways, authenticated: the callee gets the caller's
// stream decrypted, the caller the callee's encrypted with the answer's
// key (pion/srtp checks each tag).
func TestMediaSRTPSuites(t *testing.T) {
	t.Parallel()
	const lo, hi = 19740, 19759
	p := mediaServer(t, lo, hi, "--srtp", "rtp")
	for i, suite := range []string{"AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"} {
		user := fmt.Sprintf("bob%d", i)
		t.Run(suite, func(t *testing.T) {
			t.Parallel()
			mp := newParties(t, p, user)
			caller, callee := newSuitePeer(t, suite), newRTPPeer(t, false)
			caller.tag = 7
			mp.connect(t, caller, callee)
			answer := parseMedia(t, mp.ca.RemoteSDP())
			atRelay(t, answer, lo, hi, "the caller")
			if answer.proto != "RTP/SAVP" || answer.crypto != 1 || answer.suite != suite || answer.tag != 7 ||
				string(answer.key) == string(caller.key) {
				t.Fatalf("the caller's answer: %s, %d a=crypto, suite %s tag %d, own key echoed %v; want RTP/SAVP, 1, %s tag 7:\n%s",
					answer.proto, answer.crypto, answer.suite, answer.tag, string(answer.key) == string(caller.key), suite, mp.ca.RemoteSDP())
			}
			if offer := parseMedia(t, mp.offer); offer.proto != "RTP/AVP" || offer.crypto != 0 {
				t.Fatalf("the callee was offered %s with %d a=crypto, want plain RTP/AVP", offer.proto, offer.crypto)
			}
			first := caller.send(30)
			callee.expect(caller, first, 30)
			first = callee.send(30)
			caller.expect(callee, first, 30)
			caller.sendReports(3)
			callee.expectReports(caller, 3)
			callee.sendReports(3)
			caller.expectReports(callee, 3)
			mp.hangup(t)
		})
	}
	t.Cleanup(func() { mediaClean(t, p) })
}

// readRaw reads n datagrams on conn within d, as they came.
func readRaw(t *testing.T, conn *net.UDPConn, n int, d time.Duration) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 1500)
	_ = conn.SetReadDeadline(time.Now().Add(d))
	for len(got) < n {
		k, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("%d datagrams of %d came through the relay: %v", len(got), n, err)
		}
		got = append(got, append([]byte(nil), buf[:k]...))
	}
	return got
}

// sendRaw sends each datagram from conn to to.
func sendRaw(t *testing.T, conn *net.UDPConn, to netip.AddrPort, pkts [][]byte) {
	t.Helper()
	for _, b := range pkts {
		if _, err := conn.WriteToUDPAddrPort(b, to); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

// sameBytes fails the test unless got are want, datagram for datagram.
func sameBytes(t *testing.T, got, want [][]byte, what string) {
	t.Helper()
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("%s %d changed on the way:\nsent % x\ngot  % x", what, i, want[i], got[i])
		}
	}
}

// telephoneEvent is the payload type an SDP maps to telephone-event.
func telephoneEvent(t *testing.T, body []byte) uint8 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^a=rtpmap:(\d+) telephone-event/8000\r?$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no telephone-event in the relay's SDP:\n%s", body)
	}
	pt, _ := strconv.Atoi(string(m[1]))
	return uint8(pt)
}

// TestMediaPlainPassesUnchanged: in a plain RTP call what the parties
// send besides audio arrives as sent. An RTCP receiver report (loss,
// jitter, LSR/DLSR) sent to the relay's RTP port + 1 (the relay's SDP
// names no other: RFC 3605 is for when it is not port + 1) reaches the
// other party's RTCP port byte for byte, each way. RFC 4733 events (the
// payload type of the relay's a=rtpmap telephone-event, a marker on the
// first, the end packet sent three times, RFC 4733 §2.5.1.4) arrive byte
// for byte.
func TestMediaPlainPassesUnchanged(t *testing.T) {
	t.Parallel()
	const lo, hi = 19760, 19779
	p := mediaServer(t, lo, hi)
	for i, tc := range []struct {
		name string
		run  func(t *testing.T, mp *mediaParties, caller, callee *rtpPeer)
	}{
		{"RTCP receiver reports", func(t *testing.T, mp *mediaParties, caller, callee *rtpPeer) {
			for _, c := range []struct {
				who      string
				from, to *rtpPeer
				sdp      []byte
			}{{"alice to bob", caller, callee, mp.ca.RemoteSDP()}, {"bob to alice", callee, caller, mp.offer}} {
				rm := parseMedia(t, c.sdp)
				if rm.rtcp.Port() != rm.addr.Port()+1 || c.from.remoteRTCP != rm.rtcp {
					t.Fatalf("%s: the relay's RTCP at %v, its RTP at %v", c.who, rm.rtcp, rm.addr)
				}
				var pkts [][]byte
				for k := 0; k < 5; k++ {
					rr := rtcp.ReceiverReport{SSRC: c.from.ssrc, Reports: []rtcp.ReceptionReport{{SSRC: c.to.ssrc,
						FractionLost: uint8(10 * k), TotalLost: uint32(3 * k), LastSequenceNumber: 1000 + uint32(k),
						Jitter: 40 + uint32(k), LastSenderReport: 0x12345678, Delay: 65536 * uint32(k)}}}
					b, err := rr.Marshal()
					if err != nil {
						t.Fatal(err)
					}
					pkts = append(pkts, b)
				}
				sendRaw(t, c.from.rtcp, rm.rtcp, pkts)
				sameBytes(t, readRaw(t, c.to.rtcp, len(pkts), 3*time.Second), pkts, c.who+": receiver report")
			}
		}},
		{"RFC 4733 events", func(t *testing.T, mp *mediaParties, caller, callee *rtpPeer) {
			for _, c := range []struct {
				who      string
				from, to *rtpPeer
				sdp      []byte
			}{{"alice to bob", caller, callee, mp.ca.RemoteSDP()}, {"bob to alice", callee, caller, mp.offer}} {
				pt := telephoneEvent(t, c.sdp)
				var pkts [][]byte
				ts := uint32(c.from.seq) * payloadSize
				for k, ev := range []struct {
					end      bool
					duration uint16
				}{{false, 160}, {false, 320}, {false, 480}, {true, 640}, {true, 640}, {true, 640}} {
					payload := []byte{5, 10, byte(ev.duration >> 8), byte(ev.duration)} // digit 5, volume -10 dBm0
					if ev.end {
						payload[1] |= 0x80
					}
					pkt := rtp.Packet{Header: rtp.Header{Version: 2, Marker: k == 0, PayloadType: pt,
						SequenceNumber: c.from.seq, Timestamp: ts, SSRC: c.from.ssrc}, Payload: payload}
					c.from.seq++
					b, err := pkt.Marshal()
					if err != nil {
						t.Fatal(err)
					}
					pkts = append(pkts, b)
				}
				sendRaw(t, c.from.conn, c.from.remote, pkts)
				sameBytes(t, readRaw(t, c.to.conn, len(pkts), 3*time.Second), pkts, c.who+": event packet")
			}
		}},
	} {
		user := fmt.Sprintf("bob%d", i)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mp := newParties(t, p, user)
			caller, callee := newRTPPeer(t, false), newRTPPeer(t, false)
			mp.connect(t, caller, callee)
			first := callee.send(5) // both latched
			caller.expect(callee, first, 5)
			first = caller.send(5)
			callee.expect(caller, first, 5)
			tc.run(t, mp, caller, callee)
			mp.hangup(t)
		})
	}
	t.Cleanup(func() { mediaClean(t, p) })
}
