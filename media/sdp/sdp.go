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
	"net/netip"
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
// and no MKI or lifetime.
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

// String is the direction's attribute name.
func (d Direction) String() string {
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
	// order given; lines of other suites, with several keys, an MKI or a
	// lifetime, or a key of the wrong length are left out.
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
func Parse(body []byte) (*Description, error) {
	return nil, errors.New("sdp: Parse not written yet")
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
//   - a=rtcp is rewritten to the relay's RTCP port (RTP+1) and address
//     when the input had one; a=rtcp-mux is removed (the relay uses a
//     separate RTCP port);
//   - every a=crypto is removed and LocalStream.Crypto's are written;
//   - ICE (a=candidate, a=ice-ufrag, a=ice-pwd, a=ice-options,
//     a=ice-lite, a=end-of-candidates, a=remote-candidates) and DTLS
//     (a=fingerprint, a=setup) attributes are removed;
//   - everything else is kept as it was, in order: formats, a=rtpmap,
//     a=fmtp (telephone-event included), a=ptime, direction attributes,
//     b= lines, a=ssrc, a=mid.
//
// It never panics, whatever the input.
func Rewrite(body []byte, l Local) ([]byte, error) {
	return nil, errors.New("sdp: Rewrite not written yet")
}
