package edge

import (
	"errors"
	"fmt"
	"iter"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/sip/status"
)

// maxExpires bounds any expires value we parse; larger numbers are bad input
// rather than a long registration (RFC 3261 §20.19 allows up to 2^32-1, the
// registrar clamps to its maximum anyway).
const maxExpires = math.MaxUint32

// aorOf normalises a To (or From) URI into an AOR (RFC 3261 §10.3 step 5):
// sip scheme, user as sent, lower-case host, no port or parameters.
func aorOf(u *sip.Uri) (registrar.AOR, error) {
	if u == nil || u.Wildcard || !validHost(u.Host) {
		return "", status.New(status.BadRequest, "Invalid To")
	}
	if u.Scheme != "" && !strings.EqualFold(u.Scheme, "sip") && !strings.EqualFold(u.Scheme, "sips") {
		return "", status.New(status.BadRequest, "Unsupported URI Scheme")
	}
	if u.User == "" {
		return "", status.New(status.BadRequest, "Invalid To: No User")
	}
	return registrar.AOR("sip:" + u.User + "@" + strings.ToLower(u.Host)), nil
}

// headerNamed returns the first header called lower (a lower-case name),
// as req.GetHeader does. sipgo lower-cases the name of every header it
// compares, which allocates for names outside its short list of common
// ones (Expires, User-Agent, Require, Path): several allocations per
// REGISTER (README.md, "Allocations per REGISTER").
func headerNamed(req *sip.Request, lower string) sip.Header {
	for _, h := range req.Headers() {
		if asciiFold(h.Name(), lower) {
			return h
		}
	}
	return nil
}

// headersNamed yields every header called lower (a lower-case name), in
// order, as req.GetHeaders returns them, without their allocations.
func headersNamed(req *sip.Request, lower string) iter.Seq[sip.Header] {
	return func(yield func(sip.Header) bool) {
		if req == nil {
			return
		}
		for _, h := range req.Headers() {
			if asciiFold(h.Name(), lower) && !yield(h) {
				return
			}
		}
	}
}

// asciiFold reports whether name is lower, ignoring ASCII case only, as
// sipgo's GetHeaders compares names (strings.EqualFold folds Unicode too).
func asciiFold(name, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// expiresHeader parses the Expires header: -1 when absent.
func expiresHeader(req *sip.Request) (int, error) {
	h := headerNamed(req, "expires")
	if h == nil {
		return -1, nil
	}
	return parseExpires(h.Value())
}

// parseExpires parses delta-seconds (RFC 3261 §25.1): digits only; a value
// too large for 64 bits is as good as the largest.
func parseExpires(v string) (int, error) {
	v = strings.TrimSpace(v)
	n, err := strconv.ParseUint(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		n, err = maxExpires, nil
	}
	if err != nil {
		return 0, status.New(status.BadRequest, "Invalid Expires")
	}
	return int(min(n, maxExpires)), nil
}

// parseQ parses a q-value (RFC 3261 §25.1: "0" to "1", three decimals) into
// thousandths.
func parseQ(v string) (int16, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || f > 1 || math.IsNaN(f) {
		return 0, status.New(status.BadRequest, "Invalid q-value")
	}
	return int16(math.Round(f * 1000)), nil
}

// contactsOf reads every Contact of a REGISTER. "*" is a wildcard (RFC 3261
// §10.2.2); anything else must be a SIP URI with sane parameters.
func contactsOf(req *sip.Request) (contacts []registrar.Contact, wildcard bool, err error) {
	return appendContacts(nil, req)
}

// appendContacts is contactsOf appending to contacts.
func appendContacts(contacts []registrar.Contact, req *sip.Request) (_ []registrar.Contact, wildcard bool, err error) {
	for h := range headersNamed(req, "contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, false, status.New(status.BadRequest, "Invalid Contact")
		}
		if ch.Address.Wildcard {
			wildcard = true
			continue
		}
		c, err := contactOf(ch)
		if err != nil {
			return nil, false, err
		}
		contacts = append(contacts, c)
	}
	return contacts, wildcard, nil
}

func contactOf(ch *sip.ContactHeader) (registrar.Contact, error) {
	if !validHost(ch.Address.Host) {
		return registrar.Contact{}, status.New(status.BadRequest, "Invalid Contact")
	}
	c := registrar.Contact{URI: uriString(&ch.Address), Q: -1, Expires: -1}
	// sipgo takes "sip:a>b" without brackets as a URI; such a URI would
	// render into another one in the 200 OK (found by FuzzContact).
	// A password in a URI is NOT RECOMMENDED (RFC 3261 §19.1.1) and sipgo
	// renders an empty one lossily: refuse both.
	if strings.ContainsAny(c.URI, "<>\" \t") || hasCtl(c.URI) || ch.Address.Password != "" || strings.Contains(ch.Address.User, ":") || strings.Contains(c.URI, ":@") {
		return c, status.New(status.BadRequest, "Invalid Contact")
	}
	if v, ok := ch.Params.Get("q"); ok {
		q, err := parseQ(v)
		if err != nil {
			return c, err
		}
		c.Q = q
	}
	if v, ok := ch.Params.Get("expires"); ok {
		e, err := parseExpires(v)
		if err != nil {
			return c, err
		}
		c.Expires = e
	}
	if v, ok := ch.Params.Get("+sip.instance"); ok {
		c.InstanceID = strings.Trim(v, "\"<>")
	}
	if v, ok := ch.Params.Get("reg-id"); ok {
		id, err := strconv.ParseUint(v, 10, 31)
		if err != nil || id == 0 {
			return c, status.New(status.BadRequest, "Invalid reg-id")
		}
		c.RegID = int32(id)
	}
	return c, nil
}

// uriString is u.String() in one allocation: sipgo's writer builds the
// string in steps and parses the host as an IP address (README.md,
// "Allocations per REGISTER").
func uriString(u *sip.Uri) string {
	var buf [128]byte
	return string(appendURI(buf[:0], u))
}

// appendURI appends u as sipgo's Uri.StringWrite writes it.
func appendURI(dst []byte, u *sip.Uri) []byte {
	if u.Scheme == "" {
		dst = append(dst, "sip"...)
	} else {
		dst = append(dst, u.Scheme...)
	}
	dst = append(dst, ':')
	if raw := u.Raw(); raw != "" {
		return append(dst, raw...)
	}
	if u.HierarhicalSlashes {
		dst = append(dst, "//"...)
	}
	if u.User != "" {
		dst = append(dst, u.User...)
		if u.Password != "" {
			dst = append(dst, ':')
			dst = append(dst, u.Password...)
		}
		dst = append(dst, '@')
	}
	if bareIPv6(u.Host) { // sipgo's uriIP
		dst = append(dst, '[')
		dst = append(dst, u.Host...)
		dst = append(dst, ']')
	} else {
		dst = append(dst, u.Host...)
	}
	if u.Port > 0 {
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(u.Port), 10)
	}
	if len(u.UriParams) > 0 {
		dst = appendParams(append(dst, ';'), u.UriParams, ';')
	}
	if len(u.Headers) > 0 {
		dst = appendParams(append(dst, '?'), u.Headers, '&')
	}
	return dst
}

// bareIPv6 is sipgo's isIPV6: whether host is an IPv6 address, not in
// brackets, without a zone (net.ParseIP takes none), of at most 46 bytes
// (its quick reject stops at index 46).
func bareIPv6(host string) bool {
	if len(host) > 46 || strings.IndexByte(host, ':') < 0 {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is6() && !a.Is4In6() && a.Zone() == ""
}

// appendParams appends ps as sipgo's HeaderParams.ToString(sep) writes
// them: a value holding a space or tab quoted, an empty one left out.
func appendParams(dst []byte, ps sip.HeaderParams, sep byte) []byte {
	for i, p := range ps {
		if i > 0 {
			dst = append(dst, sep)
		}
		dst = append(dst, p.K...)
		switch {
		case strings.ContainsAny(p.V, " \t"):
			dst = append(dst, `="`...)
			dst = append(dst, p.V...)
			dst = append(dst, '"')
		case p.V != "":
			dst = append(dst, '=')
			dst = append(dst, p.V...)
		}
	}
	return dst
}

// contactValue renders a binding for the Contact of a 200 OK to REGISTER:
// every current binding with its remaining expires (RFC 3261 §10.3 step 8).
func contactValue(b registrar.Binding, now time.Time) string {
	return string(appendContact(make([]byte, 0, len(b.Contact)+64), b, now))
}

// appendContact appends contactValue(b, now) to dst.
func appendContact(dst []byte, b registrar.Binding, now time.Time) []byte {
	dst = append(dst, '<')
	dst = append(dst, b.Contact...)
	dst = append(dst, ">;expires="...)
	dst = strconv.AppendInt(dst, int64(b.Remaining(now)), 10)
	if b.Q >= 0 {
		dst = append(dst, ";q="...)
		dst = appendQ(dst, b.Q)
	}
	if b.InstanceID != "" {
		dst = append(dst, `;+sip.instance="<`...)
		dst = append(dst, b.InstanceID...)
		dst = append(dst, `>"`...)
	}
	if b.RegID > 0 {
		dst = append(dst, ";reg-id="...)
		dst = strconv.AppendInt(dst, int64(b.RegID), 10)
	}
	return dst
}

// formatQ renders thousandths as a q-value: 1000 → "1", 500 → "0.5".
func formatQ(q int16) string { return string(appendQ(nil, q)) }

// appendQ appends formatQ(q) to dst.
func appendQ(dst []byte, q int16) []byte {
	if q >= 1000 {
		return append(dst, '1')
	}
	if q < 0 { // not a q-value parseQ gives; rendered as it always was
		s := strings.TrimRight(fmt.Sprintf("0.%03d", q), "0")
		if s == "0." {
			s = "0"
		}
		return append(dst, s...)
	}
	d := [3]byte{byte('0' + q/100), byte('0' + q/10%10), byte('0' + q%10)}
	n := 3
	for n > 0 && d[n-1] == '0' {
		n--
	}
	if n == 0 {
		return append(dst, '0')
	}
	dst = append(dst, "0."...)
	return append(dst, d[:n]...)
}

// toTag is a To tag derived from the request, so a retransmission answered
// statelessly gets the same tag as the first answer (RFC 3261 §8.2.6.2):
// FNV-1a of the Call-ID and the From tag, in base 36 (appendToTag).
func toTag(req *sip.Request) string {
	var b [16]byte
	return string(appendToTag(b[:0], req))
}

// branchOf is the top Via branch.
func branchOf(req *sip.Request) string {
	if v := req.Via(); v != nil {
		b, _ := v.Params.Get("branch")
		return b
	}
	return ""
}

// validHost accepts a hostname, an IPv4 address or a bracketed IPv6
// reference (RFC 3261 §25.1 host); sipgo's URI parser is laxer.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	if h[0] == '[' {
		ip, ok := strings.CutSuffix(h[1:], "]")
		return ok && net.ParseIP(ip) != nil && strings.Contains(ip, ":")
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return h[0] != '.' && h[0] != '-'
}
