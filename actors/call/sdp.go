package call

import (
	"errors"
	"mime"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/b2bua/b2bua/sip/status"
)

var (
	// ErrMalformedSDP answers an offer or answer whose application/sdp
	// body does not parse: 400 (RFC 3261 §21.4.1).
	ErrMalformedSDP = status.New(status.BadRequest, "Malformed SDP")
	// ErrNoMedia answers an SDP without a usable media line (none, or
	// every one with port 0): 488 (RFC 3261 §21.4.26).
	ErrNoMedia = status.New(status.NotAcceptableHere, "No Usable Media")
	// ErrBodyType answers an INVITE, UPDATE or PRACK whose body is not
	// SDP (nor multipart with an SDP part): 415 with Accept (RFC 3261
	// §21.4.13).
	ErrBodyType = status.New(status.UnsupportedMediaType, status.Reason(status.UnsupportedMediaType))
)

// acceptSDP is the Accept header of a 415.
var acceptSDP = sip.NewHeader("Accept", "application/sdp")

// checkBody checks the session description a request or response
// carries: nil for none, or for a usable SDP; else ErrMalformedSDP,
// ErrNoMedia or ErrBodyType. It never panics, whatever the input.
func checkBody(m sip.Message) error {
	body := m.Body()
	ct := ""
	if h := headerNamed(m, "Content-Type"); h != nil {
		ct = h.Value()
	}
	if len(body) == 0 {
		return nil
	}
	if plainSDP(ct) {
		return checkSDP(body)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" {
		mt, err = "application/sdp", nil // RFC 3261 §7.4.1 wants a type; an unlabelled body is taken as SDP
	}
	switch {
	case err != nil:
		return ErrBodyType
	case mt == "application/sdp":
		return checkSDP(body)
	case strings.HasPrefix(mt, "multipart/"):
		if part, ok := sdpPart(body, params["boundary"]); ok {
			return checkSDP(part)
		}
	}
	return ErrBodyType
}

// plainSDP reports whether the Content-Type ct is application/sdp without
// parameters (any ASCII case, spaces around): what mime.ParseMediaType
// finds application/sdp in, without its allocations (the parameters' map,
// the lowered type). Anything else goes to ParseMediaType.
func plainSDP(ct string) bool {
	return !strings.Contains(ct, ";") && sameName(strings.TrimSpace(ct), "application/sdp")
}

// checkSDP parses an SDP body.
func checkSDP(body []byte) error {
	var s sdp.SessionDescription
	if err := s.UnmarshalString(string(body)); err != nil {
		return ErrMalformedSDP
	}
	for _, md := range s.MediaDescriptions {
		if md.MediaName.Port.Value != 0 {
			return nil
		}
	}
	return ErrNoMedia
}

// sdpPart finds the application/sdp part of a multipart body (RFC 5621).
func sdpPart(body []byte, boundary string) ([]byte, bool) {
	if boundary == "" {
		return nil, false
	}
	for _, part := range strings.Split(string(body), "--"+boundary) {
		head, content, ok := strings.Cut(part, "\r\n\r\n")
		if !ok {
			continue
		}
		for _, line := range strings.Split(head, "\r\n") {
			name, value, _ := strings.Cut(line, ":")
			if strings.EqualFold(strings.TrimSpace(name), "Content-Type") &&
				strings.HasPrefix(strings.ToLower(strings.TrimSpace(value)), "application/sdp") {
				return []byte(strings.TrimSuffix(content, "\r\n")), true
			}
		}
	}
	return nil, false
}

// sdpVersion is the origin (o=) line's session id and version of an SDP
// body ("" when there is no parseable one): an SDP with the same
// version as the last one describes the same session (RFC 3264 §8), so a
// re-INVITE or UPDATE carrying it is a session refresh and nothing else.
func sdpVersion(body []byte) string {
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimRight(line, "\r")
		if !strings.HasPrefix(line, "o=") {
			continue
		}
		f := strings.Fields(line[2:])
		if len(f) < 3 {
			return ""
		}
		return f[1] + " " + f[2]
	}
	return ""
}

// isSDP reports whether a body is a session description (an offer or an
// answer) by its Content-Type.
func isSDP(m sip.Message) bool {
	if len(m.Body()) == 0 {
		return false
	}
	h := headerNamed(m, "Content-Type")
	if h == nil {
		return true
	}
	return isSDPType(h.Value())
}

// isSDPType reports whether a Content-Type may carry an offer or answer.
func isSDPType(ct string) bool {
	if plainSDP(ct) {
		return true
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "application/sdp" || strings.HasPrefix(mt, "multipart/")
}

// screen checks the caller's INVITE before any fork: its body (400, 488,
// 415 with Accept) and its session interval (422 with Min-SE).
func (c *Call) screen(req *sip.Request) *respond {
	if err := checkBody(req); err != nil {
		code, reason := status.Of(err)
		r := &respond{code: code, reason: reason}
		if errors.Is(err, ErrBodyType) {
			r.headers = []sip.Header{acceptSDP}
		}
		return r
	}
	if c.conf.tooSmall(req) {
		return c.conf.sessionTooSmall()
	}
	return nil
}
