// Package sdp reads and rewrites the session descriptions of calls whose
// media the server relays (RFC 4566, RFC 3264 offer/answer): what an
// endpoint's SDP says about each media stream (Parse), and the SDP the
// server sends an endpoint in its place (Rewrite), with the relay's
// address and ports, the leg's own SRTP keys (RFC 4568 SDES) and
// without ICE. It is built on pion/sdp/v3 and knows nothing of actors or
// sockets.
package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// Suite is an SRTP crypto suite of RFC 4568 §6.2 and RFC 7714 §14.2.
type Suite uint8

// The suites the relay speaks. None is plain RTP.
const (
	None Suite = iota
	AES_CM_128_HMAC_SHA1_80
	AES_CM_128_HMAC_SHA1_32
	AEAD_AES_128_GCM
)

// String is the suite's name as a=crypto writes it.
func (s Suite) String() string {
	switch s {
	case AES_CM_128_HMAC_SHA1_80:
		return "AES_CM_128_HMAC_SHA1_80"
	case AES_CM_128_HMAC_SHA1_32:
		return "AES_CM_128_HMAC_SHA1_32"
	case AEAD_AES_128_GCM:
		return "AEAD_AES_128_GCM"
	}
	return ""
}

// KeyLen is the length of the suite's master key and salt together, the
// bytes of a=crypto's inline key: 30 for AES-CM, 28 for AES-GCM.
func (s Suite) KeyLen() int {
	switch s {
	case AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32:
		return 30
	case AEAD_AES_128_GCM:
		return 28
	}
	return 0
}

// ParseSuite is the suite named name (case-sensitive, as RFC 4568), or
// None and false for a suite the relay does not speak.
func ParseSuite(name string) (Suite, bool) {
	for s := AES_CM_128_HMAC_SHA1_80; s <= AEAD_AES_128_GCM; s++ {
		if s.String() == name {
			return s, true
		}
	}
	return None, false
}

// Crypto is one a=crypto line (RFC 4568 §9.1) with a single inline key
// and no MKI (a lifetime of 2^31 packets or more is accepted and
// dropped: the relay does not rekey).
type Crypto struct {
	Tag   int
	Suite Suite
	Key   []byte // master key || master salt, Suite.KeyLen() bytes
}

// Direction is a stream's a=sendrecv/sendonly/recvonly/inactive
// (RFC 3264 §5.1); SendRecv when none is given.
type Direction uint8

const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

// String is the direction's attribute name ("" for a value that is not
// a direction).
func (d Direction) String() string {
	if d > Inactive {
		return ""
	}
	return [...]string{"sendrecv", "sendonly", "recvonly", "inactive"}[d]
}

// Stream is one m= line as an endpoint describes it.
type Stream struct {
	Media string // "audio", "video", ...
	// Port is the m= port; 0 is a stream that is refused or disabled.
	Port int
	// Addr is the c= address that applies to the stream (media level,
	// else session level); the unspecified address (0.0.0.0, RFC 2543
	// hold) means: send nothing.
	Addr netip.Addr
	// RTCP is where the endpoint wants RTCP: a=rtcp (RFC 3605) when
	// given, else Addr and Port+1.
	RTCP netip.AddrPort
	// Proto is the m= transport: "RTP/AVP", "RTP/SAVP", "RTP/AVPF",
	// "RTP/SAVPF", "UDP/TLS/RTP/SAVPF", "udptl", ...
	Proto string
	// RTP reports an RTP stream the relay can carry: RTP/AVP, RTP/AVPF,
	// RTP/SAVP or RTP/SAVPF. Other streams (DTLS-SRTP, T.38 udptl) are
	// refused (port 0) by Rewrite.
	RTP bool
	// Secure reports RTP/SAVP or RTP/SAVPF.
	Secure bool
	// Crypto are the stream's a=crypto lines the relay can use, in the
	// order given; lines of other suites, with several keys, an MKI, a
	// lifetime below 2^31 or session parameters, or a key of the wrong
	// length are left out.
	Crypto []Crypto
	Dir    Direction
	// RTCPMux reports a=rtcp-mux (RFC 5761).
	RTCPMux bool
}

// Send reports whether the endpoint wants media sent to it: a port, an
// address that is not unspecified, and sendrecv or recvonly.
func (s *Stream) Send() bool {
	return s.Port != 0 && s.Addr.IsValid() && !s.Addr.IsUnspecified() && (s.Dir == SendRecv || s.Dir == RecvOnly)
}

// Description is what an endpoint's SDP says, stream by stream in m=
// line order.
type Description struct {
	// Origin is the o= line's session id and version.
	SessionID, Version uint64
	Streams            []Stream
}

// ErrMalformed is an SDP that does not parse, or without a usable
// connection address for a stream with a port.
var ErrMalformed = errors.New("sdp: malformed session description")

// Parse reads an endpoint's SDP. It never panics, whatever the input.
//
// A c= address must be an IP address of its address type (no host names,
// no IPv6 zone); a multicast TTL or range after it is ignored. A port
// range on an m= line (RFC 4566 "port/number") is read as its first port.
// a=crypto lines are read whatever the stream's proto, so that an RTP/AVP
// offer with best-effort SRTP keys shows them; Secure says what the m=
// line asks for.
func Parse(body []byte) (*Description, error) {
	s, err := unmarshal(body)
	if err != nil {
		return nil, err
	}
	return describe(s)
}

// describe is what s says, or ErrMalformed.
func describe(s *psdp.SessionDescription) (*Description, error) {
	sessAddr, err := connAddr(s.ConnectionInformation)
	if err != nil {
		return nil, err
	}
	sessDir := direction(s.Attributes, SendRecv)
	d := &Description{
		SessionID: s.Origin.SessionID,
		Version:   s.Origin.SessionVersion,
		Streams:   make([]Stream, 0, len(s.MediaDescriptions)),
	}
	for _, m := range s.MediaDescriptions {
		st, err := parseStream(m, sessAddr, sessDir)
		if err != nil {
			return nil, err
		}
		d.Streams = append(d.Streams, st)
	}
	return d, nil
}

func parseStream(m *psdp.MediaDescription, sessAddr netip.Addr, sessDir Direction) (Stream, error) {
	st := Stream{
		Media: m.MediaName.Media,
		Port:  m.MediaName.Port.Value,
		Proto: strings.Join(m.MediaName.Protos, "/"),
		Addr:  sessAddr,
		Dir:   direction(m.Attributes, sessDir),
	}
	st.RTP, st.Secure, _ = rtpProto(st.Proto)
	if m.ConnectionInformation != nil {
		a, err := connAddr(m.ConnectionInformation)
		if err != nil {
			return Stream{}, err
		}
		st.Addr = a
	}
	if st.Port != 0 && !st.Addr.IsValid() {
		return Stream{}, fmt.Errorf("%w: %s stream without c=", ErrMalformed, st.Media)
	}
	if st.Port != 0 {
		st.RTCP = netip.AddrPortFrom(st.Addr, uint16(st.Port+1))
	}
	for _, a := range m.Attributes {
		switch a.Key {
		case "rtcp":
			if st.Port == 0 {
				continue
			}
			rtcp, err := parseRTCP(a.Value, st.Addr)
			if err != nil {
				return Stream{}, err
			}
			st.RTCP = rtcp
		case "rtcp-mux":
			st.RTCPMux = true
		case "crypto":
			if c, ok := parseCrypto(a.Value); ok {
				st.Crypto = append(st.Crypto, c)
			}
		}
	}
	return st, nil
}

// rtpProto reports whether proto is RTP the relay carries, whether it is
// SRTP, and whether it has RTCP feedback (RFC 4585, RFC 5124).
func rtpProto(proto string) (rtp, secure, feedback bool) {
	switch proto {
	case "RTP/AVP":
		return true, false, false
	case "RTP/AVPF":
		return true, false, true
	case "RTP/SAVP":
		return true, true, false
	case "RTP/SAVPF":
		return true, true, true
	}
	return false, false, false
}

// connAddr is a c= line's address: the zero Addr for no c= line.
func connAddr(c *psdp.ConnectionInformation) (netip.Addr, error) {
	if c == nil {
		return netip.Addr{}, nil
	}
	if c.Address == nil {
		return netip.Addr{}, fmt.Errorf("%w: c= without an address", ErrMalformed)
	}
	return parseAddr(c.AddressType, c.Address.Address)
}

// parseAddr reads an "IP4"/"IP6" address, without a multicast
// "/ttl/range" suffix. An IPv4-mapped IPv6 address is IPv4.
func parseAddr(typ, s string) (netip.Addr, error) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w: c= address %q", ErrMalformed, s)
	}
	switch {
	case typ == "IP4" && a.Is4(), typ == "IP6" && a.Is6():
		return a.Unmap(), nil
	}
	return netip.Addr{}, fmt.Errorf("%w: c= address %q is not %s", ErrMalformed, s, typ)
}

// parseRTCP reads a=rtcp's value (RFC 3605 §2.1):
// "port [nettype addrtype connection-address]".
func parseRTCP(v string, addr netip.Addr) (netip.AddrPort, error) {
	f := strings.Fields(v)
	if len(f) != 1 && len(f) != 4 {
		return netip.AddrPort{}, fmt.Errorf("%w: a=rtcp:%s", ErrMalformed, v)
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: a=rtcp port %q", ErrMalformed, f[0])
	}
	if len(f) == 4 {
		if f[1] != "IN" {
			return netip.AddrPort{}, fmt.Errorf("%w: a=rtcp:%s", ErrMalformed, v)
		}
		if addr, err = parseAddr(f[2], f[3]); err != nil {
			return netip.AddrPort{}, err
		}
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// direction is the last direction attribute of attrs, else def
// (RFC 3264 §5.1: a media-level one overrides the session's).
func direction(attrs []psdp.Attribute, def Direction) Direction {
	for _, a := range attrs {
		switch a.Key {
		case "sendrecv":
			def = SendRecv
		case "sendonly":
			def = SendOnly
		case "recvonly":
			def = RecvOnly
		case "inactive":
			def = Inactive
		}
	}
	return def
}

// Local is what the relay puts in place of an endpoint's SDP for one
// leg's endpoint.
type Local struct {
	// Addr is the relay's address for the c= and o= lines.
	Addr netip.Addr
	// SessionID and Version go in the o= line (username "-"): the leg's
	// own origin, whatever the other endpoint's o= line said.
	SessionID, Version uint64
	// Streams are the relay's ports and keys for each m= line, in order.
	// A body with more m= lines than Streams is an error.
	Streams []LocalStream
}

// LocalStream is the relay's side of one stream of a leg.
type LocalStream struct {
	// RTP is the relay's RTP port; its RTCP port is RTP+1. 0 refuses the
	// stream (port 0 in the output, its attributes kept).
	RTP int
	// Secure selects the transport: RTP/SAVP (or RTP/SAVPF when the
	// input had feedback) with Crypto's lines; else RTP/AVP (RTP/AVPF)
	// and no a=crypto.
	Secure bool
	Crypto []Crypto
}

// Rewrite is body as the relay sends it to one leg's endpoint:
//   - o= is "- SessionID Version IN IP4|IP6 Addr";
//   - every c= is Addr, except an unspecified one (0.0.0.0, a hold),
//     which stays unspecified;
//   - each m= port is its LocalStream's RTP (streams refused in the input,
//     port 0, stay 0; streams that are not RTP are refused with port 0),
//     and its proto RTP/SAVP(F) or RTP/AVP(F) by Secure;
//   - a=rtcp is rewritten to the relay's RTCP port (RTP+1), and to its
//     address when the input's a=rtcp had one; a=rtcp-mux and
//     a=rtcp-mux-only are removed (the relay uses a separate RTCP port);
//     a refused stream loses its a=rtcp;
//   - every a=crypto (and k= line) is removed and LocalStream.Crypto's
//     are written where the first a=crypto was, else after the stream's
//     other attributes, for a secure stream with a port;
//   - ICE (a=candidate, a=ice-ufrag, a=ice-pwd, a=ice-options,
//     a=ice-lite, a=ice-pacing, a=end-of-candidates, a=remote-candidates)
//     and DTLS (a=fingerprint, a=setup, a=tls-id) attributes are removed,
//     at session and media level;
//   - a=group:BUNDLE and a=bundle-only are removed (RFC 8843): the relay
//     gives every m= line its own ports, so nothing is bundled;
//   - everything else is kept as it was, in order: formats, a=rtpmap,
//     a=fmtp (telephone-event included), a=ptime, direction attributes,
//     b= lines, a=ssrc, a=mid.
//
// The output has CRLF line endings. It never panics, whatever the input.
func Rewrite(body []byte, l Local) ([]byte, error) {
	return rewrite(body, l)
}
