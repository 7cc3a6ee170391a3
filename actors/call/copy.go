package call

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// endToEnd are the headers that describe a body or the request itself to
// the far end, and always cross with it.
var endToEnd = []string{"Content-Type", "Content-Disposition", "Content-Language", "Content-Encoding", "Info-Package", "Subject", "Priority"}

// never are the headers that belong to one leg's dialog or transaction, or
// that each leg negotiates for itself: they never cross, whatever
// Config.Copy says.
var never = []string{"Via", "Route", "Record-Route", "Contact", "Call-ID", "From", "To", "CSeq", "Max-Forwards",
	"Content-Length", "Authorization", "Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate",
	"Supported", "Require", "Proxy-Require", "RSeq", "RAck", "Session-Expires", "Min-SE", "Allow", "Server", "User-Agent",
	"Refer-To", "Referred-By", "Replaces", "Event", "Subscription-State", "Path"}

// carried is the headers of m that cross to the other leg: the end-to-end
// ones, those Config.Copy names, and P-Asserted-Identity only from a
// trusted source (RFC 3325 §5).
func (c *Config) carried(m message, source string) []sip.Header {
	var out []sip.Header
	for _, h := range m.Headers() {
		name := h.Name()
		switch {
		case isOneOf(name, never):
		case strings.EqualFold(name, "P-Asserted-Identity"):
			if c.trusted(source) {
				out = append(out, sip.NewHeader(name, h.Value()))
			}
		case isOneOf(name, endToEnd), c.copies(name):
			out = append(out, sip.NewHeader(name, h.Value()))
		}
	}
	return out
}

func isOneOf(name string, set []string) bool {
	for _, s := range set {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// message is a request or a response.
type message interface {
	sip.Message
	Headers() []sip.Header
	Contact() *sip.ContactHeader
}

// has reports whether a header of m lists option tag (Supported,
// Require: "100rel", "timer").
func has(m sip.Message, header, tag string) bool {
	for h := range headersNamed(m, header) {
		for list, more := h.Value(), true; more; {
			var t string
			t, list, more = strings.Cut(list, ",")
			if strings.EqualFold(strings.TrimSpace(t), tag) {
				return true
			}
		}
	}
	return false
}
