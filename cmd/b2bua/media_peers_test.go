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

	"github.com/b2bua/b2bua/sip/ua"
)

// Helpers of the media integration tests (media_integration_test.go): Go
// RTP/SRTP peers, the parties of a call through the server, and the
// server's metrics.

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
	done := placeCall(ctx, mp.alice, mp.bob.AOR(), caller)
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

// placed is the outcome of a call placed in the background.
type placed struct {
	c   *ua.Call
	err error
}

// placeCall has from call to with caller's SDP in the background (Call
// returns once answered); the outcome comes on the channel.
func placeCall(ctx context.Context, from *ua.Peer, to string, caller *rtpPeer, opts ...ua.CallOption) <-chan placed {
	done := make(chan placed, 1)
	go func() {
		c, err := from.Call(ctx, to, append([]ua.CallOption{ua.WithSDP(caller.sdp())}, opts...)...)
		done <- placed{c, err}
	}()
	return done
}
