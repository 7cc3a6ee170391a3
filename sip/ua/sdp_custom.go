package ua

import (
	"strings"

	"github.com/pion/sdp/v3"
)

// An application that brings its own media (RTP sockets, SRTP keys, other
// codecs) gives the SDK its session description with WithSDP: the SDK
// sends it as the offer of Call or the answer of IncomingCall.Answer, and
// the offers and answers it makes later in the call (Hold, Resume, the
// answer to a re-INVITE) are that description with the o= version
// raised and the direction attribute of each m= line replaced (RFC 3264
// §8: the same streams, addresses and keys). RemoteSDP is what the other
// side last sent.

// WithSDP makes body (an application/sdp session description) the offer
// of Call, or the answer of IncomingCall.Answer, in place of the SDK's own
// PCMU/PCMA description. The SDK does not check it beyond parsing.
func WithSDP(body []byte) CallOption {
	return func(c *callConfig) { c.sdp = append([]byte(nil), body...) }
}

// sdpVersion is the o= version of body, or 1.
func sdpVersion(body []byte) uint64 {
	var sd sdp.SessionDescription
	if sd.UnmarshalString(string(body)) != nil {
		return 1
	}
	return sd.Origin.SessionVersion
}

// sdpSessionID is the o= session id of body, or 0.
func sdpSessionID(body []byte) uint64 {
	var sd sdp.SessionDescription
	if sd.UnmarshalString(string(body)) != nil {
		return 0
	}
	return sd.Origin.SessionID
}

// customSDP is body with its o= version set to version and every m=
// line's direction set to dir; body itself when it does not parse (WithSDP
// took it unparsed).
func customSDP(body []byte, version uint64, dir string) []byte {
	var sd sdp.SessionDescription
	if sd.UnmarshalString(string(body)) != nil {
		return body
	}
	sd.Origin.SessionVersion = version
	sd.Attributes = withoutDirection(sd.Attributes)
	for _, m := range sd.MediaDescriptions {
		m.Attributes = append(withoutDirection(m.Attributes), sdp.Attribute{Key: dir})
	}
	out, err := sd.Marshal()
	if err != nil {
		return body
	}
	return out
}

func withoutDirection(attrs []sdp.Attribute) []sdp.Attribute {
	out := attrs[:0:0]
	for _, a := range attrs {
		switch strings.ToLower(a.Key) {
		case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
			continue
		}
		out = append(out, a)
	}
	return out
}

// RemoteSDP is the session description the other side sent last: its
// answer to our offer, or its offer (the INVITE's, a re-INVITE's, an
// UPDATE's). Nil when it sent none.
func (c *Call) RemoteSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteSDP
}

// gotSDP notes body as the other side's last SDP (when it has one).
// c.mu is held.
func (c *Call) gotSDPLocked(body []byte) {
	if len(body) > 0 {
		c.remoteSDP = append([]byte(nil), body...)
	}
}
