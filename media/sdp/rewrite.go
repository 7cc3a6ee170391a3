package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// dropped are the attributes Rewrite removes wherever they are: the
// endpoint's ICE (RFC 8839) and DTLS (RFC 8122, RFC 8842) state, which
// describe a transport to the endpoint and not to the relay, RTCP
// multiplexing (RFC 5761, RFC 8858), which the relay does not do, and
// bundling (RFC 8843), which it does not do either.
var dropped = map[string]bool{
	"candidate": true, "remote-candidates": true, "end-of-candidates": true,
	"ice-ufrag": true, "ice-pwd": true, "ice-options": true, "ice-lite": true,
	"ice-pacing": true, "ice-mismatch": true,
	"fingerprint": true, "setup": true, "tls-id": true,
	"rtcp-mux": true, "rtcp-mux-only": true, "bundle-only": true,
	"crypto": true, // session level: not RFC 4568, but a key all the same
}

func rewrite(body []byte, l Local) ([]byte, error) {
	addr := l.Addr.Unmap()
	if !addr.IsValid() || addr.Zone() != "" || addr.IsUnspecified() {
		return nil, fmt.Errorf("sdp: local address %q", l.Addr)
	}
	s, err := unmarshal(body)
	if err != nil {
		return nil, err
	}
	// Rewrite refuses what Parse refuses: the call parses a body before
	// it rewrites it, and both must agree.
	if _, err := describe(s); err != nil {
		return nil, err
	}
	if len(s.MediaDescriptions) > len(l.Streams) {
		return nil, fmt.Errorf("sdp: %d m= lines for %d local streams", len(s.MediaDescriptions), len(l.Streams))
	}
	typ := addrType(addr)
	s.Origin = psdp.Origin{
		Username: "-", SessionID: l.SessionID, SessionVersion: l.Version,
		NetworkType: "IN", AddressType: typ, UnicastAddress: addr.String(),
	}
	if s.ConnectionInformation, err = rewriteConn(s.ConnectionInformation, addr); err != nil {
		return nil, err
	}
	s.EncryptionKey = nil
	attrs := s.Attributes[:0]
	for _, a := range s.Attributes {
		// a=rtcp belongs to a stream (RFC 3605); one at session level
		// would name the endpoint's address.
		if dropped[a.Key] || a.Key == "rtcp" || a.Key == "group" && isBundle(a.Value) {
			continue
		}
		attrs = append(attrs, a)
	}
	s.Attributes = attrs
	for i, m := range s.MediaDescriptions {
		if err := rewriteMedia(m, &l.Streams[i], addr); err != nil {
			return nil, err
		}
	}
	return s.Marshal()
}

func rewriteMedia(m *psdp.MediaDescription, ls *LocalStream, addr netip.Addr) error {
	if ls.RTP < 0 || ls.RTP > 65534 {
		return fmt.Errorf("sdp: local RTP port %d", ls.RTP)
	}
	proto := strings.Join(m.MediaName.Protos, "/")
	rtp, _, feedback := rtpProto(proto)
	port := 0
	if rtp && m.MediaName.Port.Value != 0 {
		port = ls.RTP
	}
	m.MediaName.Port = psdp.RangedPort{Value: port}
	if rtp {
		m.MediaName.Protos = protos(ls.Secure, feedback)
	}
	var err error
	if m.ConnectionInformation, err = rewriteConn(m.ConnectionInformation, addr); err != nil {
		return err
	}
	m.EncryptionKey = nil

	var crypto []psdp.Attribute
	if port != 0 && ls.Secure {
		for i := range ls.Crypto {
			c := &ls.Crypto[i]
			if !c.valid() {
				return errors.New("sdp: local crypto is not a usable key")
			}
			crypto = append(crypto, psdp.Attribute{Key: "crypto", Value: c.value()})
		}
	}
	attrs := make([]psdp.Attribute, 0, len(m.Attributes)+len(crypto))
	for _, a := range m.Attributes {
		switch {
		case a.Key == "crypto" && crypto != nil:
			attrs = append(attrs, crypto...)
			crypto = nil
		case a.Key == "rtcp" && port != 0:
			v, err := rewriteRTCP(a.Value, port+1, addr)
			if err != nil {
				return err
			}
			attrs = append(attrs, psdp.Attribute{Key: "rtcp", Value: v})
		case dropped[a.Key], a.Key == "rtcp":
		default:
			attrs = append(attrs, a)
		}
	}
	m.Attributes = append(attrs, crypto...)
	return nil
}

// protos is the m= proto for an RTP stream the relay carries.
func protos(secure, feedback bool) []string {
	switch {
	case secure && feedback:
		return []string{"RTP", "SAVPF"}
	case secure:
		return []string{"RTP", "SAVP"}
	case feedback:
		return []string{"RTP", "AVPF"}
	}
	return []string{"RTP", "AVP"}
}

// rewriteConn is c with the relay's address, unless c is absent or
// unspecified (a hold, RFC 3264 §8.4 and RFC 2543).
func rewriteConn(c *psdp.ConnectionInformation, addr netip.Addr) (*psdp.ConnectionInformation, error) {
	a, err := connAddr(c)
	if err != nil || !a.IsValid() || a.IsUnspecified() {
		return c, err
	}
	return &psdp.ConnectionInformation{
		NetworkType: "IN", AddressType: addrType(addr), Address: &psdp.Address{Address: addr.String()},
	}, nil
}

// rewriteRTCP is a=rtcp's value (RFC 3605) with the relay's RTCP port,
// and its address when v had one that was not unspecified.
func rewriteRTCP(v string, port int, addr netip.Addr) (string, error) {
	f := strings.Fields(v)
	rtcp, err := parseRTCP(v, addr)
	if err != nil {
		return "", err
	}
	p := strconv.Itoa(port)
	if len(f) == 1 {
		return p, nil
	}
	if rtcp.Addr().IsUnspecified() {
		return p + " IN " + f[2] + " " + f[3], nil
	}
	return p + " IN " + addrType(addr) + " " + addr.String(), nil
}

func addrType(a netip.Addr) string {
	if a.Is4() {
		return "IP4"
	}
	return "IP6"
}

// isBundle reports an a=group value of the BUNDLE semantics (RFC 8843 §7.1).
func isBundle(v string) bool {
	sem, _, _ := strings.Cut(v, " ")
	return sem == "BUNDLE"
}
