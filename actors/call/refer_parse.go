package call

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/sip/status"
)

// referTo is a parsed Refer-To header (RFC 3515 §2.1).
type referTo struct {
	uri      sip.Uri // the target, without URI headers
	replaces string  // the Replaces header of the URI (RFC 3891 §8.1), unescaped
}

// parseReferTo parses the Refer-To values of a REFER: exactly one
// name-addr or addr-spec, with a sip: or sips: URI and a host.
func parseReferTo(values []string) (referTo, error) {
	var all []string
	for _, v := range values {
		all = append(all, splitList(v)...)
	}
	if len(all) != 1 {
		return referTo{}, errReferTo
	}
	v := all[0]
	addr := v
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return referTo{}, errReferTo
		}
		addr = v[i+1 : i+j]
	} else if i := strings.IndexByte(v, ';'); i >= 0 { // addr-spec: the params are the header's
		addr = v[:i]
	}
	addr = strings.TrimSpace(addr)
	scheme, _, ok := strings.Cut(addr, ":")
	if !ok || scheme == "" {
		return referTo{}, errReferTo
	}
	if s := strings.ToLower(scheme); s != "sip" && s != "sips" {
		return referTo{}, errReferScheme
	}
	addr, headers, _ := strings.Cut(addr, "?")
	var r referTo
	if err := sip.ParseUri(addr, &r.uri); err != nil || r.uri.Host == "" {
		return referTo{}, errReferTo
	}
	r.uri.Headers = nil
	if m, ok := r.uri.UriParams.Get("method"); ok && !strings.EqualFold(m, "INVITE") { // RFC 3515 §2.4.2: only INVITE is done
		return referTo{}, errReferMethod
	} else if ok {
		r.uri.UriParams.Remove("method") // not allowed in a Request-URI (RFC 3261 §19.1.1)
	}
	for _, h := range strings.Split(headers, "&") {
		name, val, _ := strings.Cut(h, "=")
		if strings.EqualFold(name, "Replaces") {
			un, err := url.QueryUnescape(val)
			if err != nil {
				return referTo{}, errReferTo
			}
			r.replaces = un
		}
	}
	return r, nil
}

// sipfrag is a NOTIFY body for the refer event package (RFC 3515 §2.4.5):
// the status line of the response the triggered request got.
func sipfrag(code int, reason string) []byte {
	if reason == "" {
		reason = status.Reason(code)
	}
	return []byte("SIP/2.0 " + strconv.Itoa(code) + " " + reason + "\r\n")
}
