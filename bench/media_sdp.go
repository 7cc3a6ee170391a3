package bench

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// srtpSuite is the one SDES crypto suite the media scenario speaks
// (RFC 4568 §6.2.1): a 16-byte key and a 14-byte salt, 80-bit tag.
const (
	srtpSuite     = "AES_CM_128_HMAC_SHA1_80"
	srtpKeyLen    = 16
	srtpSaltLen   = 14
	srtpMasterLen = srtpKeyLen + srtpSaltLen
)

// Errors of the scenario's SDP handling.
var (
	// errSDPNoAudio: the SDP has no audio m= line with a port and address.
	errSDPNoAudio = errors.New("bench: sdp: no audio stream with an address")
	// errSDPNoCrypto: SRTP was due and the SDP has no usable a=crypto.
	errSDPNoCrypto = errors.New("bench: sdp: no " + srtpSuite + " a=crypto")
)

// mediaSDP is what the scenario reads from an SDP and writes into one:
// where the first audio stream goes, its profile and its SDES key.
type mediaSDP struct {
	Addr netip.AddrPort
	// SRTP is true for RTP/SAVP (or any profile naming SAVP).
	SRTP bool
	// CryptoTag and Key (key||salt, 30 bytes) are the chosen a=crypto line
	// of the suite srtpSuite; Key is nil without one.
	CryptoTag int
	Key       []byte
}

// appendSDP appends the SDP of one audio PCMU stream at m.Addr (RFC 4566,
// RFC 3264): RTP/SAVP with a=crypto when m.Key is set (RFC 4568 §9.1).
// The key goes into the SDP and nowhere else (never a log).
func appendSDP(dst []byte, sessID uint64, m mediaSDP) []byte {
	ip := m.Addr.Addr().String()
	dst = append(dst, "v=0\r\no=- "...)
	dst = strconv.AppendUint(dst, sessID, 10)
	dst = append(dst, " 1 IN IP4 "...)
	dst = append(dst, ip...)
	dst = append(dst, "\r\ns=-\r\nc=IN IP4 "...)
	dst = append(dst, ip...)
	dst = append(dst, "\r\nt=0 0\r\nm=audio "...)
	dst = strconv.AppendUint(dst, uint64(m.Addr.Port()), 10)
	if m.Key != nil {
		dst = append(dst, " RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=crypto:"...)
		dst = strconv.AppendInt(dst, int64(max(m.CryptoTag, 1)), 10)
		dst = append(dst, " "+srtpSuite+" inline:"...)
		dst = base64.StdEncoding.AppendEncode(dst, m.Key)
		dst = append(dst, "\r\n"...)
	} else {
		dst = append(dst, " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"...)
	}
	return append(dst, "a=sendrecv\r\n"...)
}

// parseSDP reads the first audio stream of sdp: its address (the media
// level c= line, else the session's), port, profile and the a=crypto line
// of srtpSuite, if any. It ignores everything else (RFC 4566 §5: unknown
// lines are skipped).
func parseSDP(sdp []byte) (mediaSDP, error) {
	var (
		m                    mediaSDP
		sessAddr, mediaAddr  string
		port                 = -1
		inAudio, passedAudio bool
		haveCrypto           bool
	)
	for line := range strings.Lines(string(sdp)) {
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'm':
			if passedAudio || inAudio {
				inAudio, passedAudio = false, true
				continue
			}
			f := strings.Fields(v)
			if len(f) >= 3 && f[0] == "audio" {
				p, err := strconv.Atoi(strings.SplitN(f[1], "/", 2)[0])
				if err != nil || p < 0 || p > 65535 {
					return mediaSDP{}, fmt.Errorf("%w: port %q", errSDPNoAudio, f[1])
				}
				port, inAudio = p, true
				m.SRTP = strings.Contains(f[2], "SAVP")
			}
		case 'c':
			f := strings.Fields(v)
			if len(f) < 3 {
				continue
			}
			a := strings.SplitN(f[2], "/", 2)[0]
			if inAudio {
				mediaAddr = a
			} else if !passedAudio {
				sessAddr = a
			}
		case 'a':
			if !inAudio || haveCrypto || !strings.HasPrefix(v, "crypto:") {
				continue
			}
			tag, key, ok := parseCrypto(v[len("crypto:"):])
			if ok {
				m.CryptoTag, m.Key, haveCrypto = tag, key, true
			}
		}
	}
	addr := mediaAddr
	if addr == "" {
		addr = sessAddr
	}
	ip, err := netip.ParseAddr(addr)
	if port < 0 || err != nil {
		return mediaSDP{}, errSDPNoAudio
	}
	m.Addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
	if m.SRTP && !haveCrypto {
		return m, errSDPNoCrypto
	}
	return m, nil
}

// parseCrypto reads "TAG SUITE inline:KEY[|lifetime][|mki:len] [params]"
// (RFC 4568 §9.1) and returns the tag and key||salt of srtpSuite.
func parseCrypto(v string) (int, []byte, bool) {
	f := strings.Fields(v)
	if len(f) < 3 || f[1] != srtpSuite || !strings.HasPrefix(f[2], "inline:") {
		return 0, nil, false
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 {
		return 0, nil, false
	}
	b64 := strings.SplitN(f[2][len("inline:"):], "|", 2)[0]
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(key) != srtpMasterLen {
		return 0, nil, false
	}
	return tag, key, true
}
