package registrar

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Flow says whether a request for a binding goes to the address its
// REGISTER came from (source, "udp:192.0.2.4:5060") instead of to its
// Contact, and returns that address. A binding with a Path is routed by
// the Path (RFC 3327), never by the flow.
//
// The rule is a NAT test, like Kamailio's nat_uac_test: RFC 3261 sends to
// the Contact, which is right for a phone on a routable address and for a
// binding made on someone's behalf (a PBX, a test tool registering a user
// agent that listens elsewhere). The flow is used when the Contact cannot
// be reached as written:
//   - over TCP, TLS or WebSocket: the connection the REGISTER came on is
//     the way back (RFC 5626 §5.3); the Contact's port is not listening;
//   - a Contact with a host name instead of an address (no resolving on
//     the request path), or with the "ob" parameter (RFC 5626 §5);
//   - a Contact at a private, link-local, shared (CGNAT) or unspecified
//     address while the REGISTER came from another address: the phone is
//     behind a NAT.
//
// The contact u comes parsed: every caller has just parsed it for the
// Request-URI, and a NOTIFY fan-out should not parse it twice.
func Flow(u *sip.Uri, source string, path []string) (network, addr string, ok bool) {
	if len(path) > 0 {
		return "", "", false
	}
	network, addr, ok = strings.Cut(source, ":")
	if !ok {
		return "", "", false
	}
	src, err := netip.ParseAddrPort(addr)
	if err != nil {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return "", "", false
		}
		if _, err := strconv.Atoi(port); err != nil || host == "" {
			return "", "", false
		}
		return network, addr, true // a source we cannot judge: keep the flow, as before
	}
	if !strings.EqualFold(network, "udp") {
		return network, addr, true
	}
	if u.UriParams != nil {
		if _, ob := u.UriParams.Get("ob"); ob {
			return network, addr, true
		}
		if t, has := u.UriParams.Get("transport"); has && !strings.EqualFold(t, "udp") {
			return network, addr, true
		}
	}
	ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	if err != nil {
		return network, addr, true
	}
	if behindNAT(ip.Unmap()) && ip.Unmap() != src.Addr().Unmap() {
		return network, addr, true
	}
	return "", "", false
}

// cgnat is the shared address space of RFC 6598.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// behindNAT: an address a request from outside cannot reach as it is.
func behindNAT(ip netip.Addr) bool {
	return ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || cgnat.Contains(ip)
}
