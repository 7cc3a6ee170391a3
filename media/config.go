package media

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The SRTP policies of Config.SRTP: what the callee's leg speaks.
const (
	// SRTPMirror offers the callee what the caller offered: SDES-SRTP
	// when the caller's offer was RTP/SAVP, plain RTP otherwise.
	SRTPMirror = "mirror"
	// SRTPOff offers the callee plain RTP whatever the caller speaks: an
	// SRTP caller reaches a plain RTP phone.
	SRTPOff = "rtp"
	// SRTPOn offers the callee SDES-SRTP whatever the caller speaks.
	SRTPOn = "srtp"
)

// Config holds the relay's settings. The yaml tags are its keys under
// `media:` in the server's configuration file.
type Config struct {
	// Ports is the RTP port range, "LO-HI": even ports carry RTP, the odd
	// port above each carries its RTCP.
	Ports string `yaml:"rtp_ports"`
	// Address is the IP the relay binds and writes into the SDP it sends;
	// empty: the address of the first SIP listener, or 127.0.0.1 when
	// that one is a wildcard.
	Address string `yaml:"address"`
	// Timeout ends a call (BYE on both legs) when no RTP came from either
	// side for this long, while neither side holds; 0 turns it off.
	Timeout time.Duration `yaml:"timeout"`
	// Latch is how long after its first packet a stream follows its
	// endpoint to a new source address (symmetric RTP for NAT); after it,
	// only a packet with the latched SSRC moves it.
	Latch time.Duration `yaml:"latch"`
	// Quarantine is how long a released port pair rests before it is
	// handed out again.
	Quarantine time.Duration `yaml:"quarantine"`
	// SRTP is what the callee's leg speaks: mirror, rtp or srtp.
	SRTP string `yaml:"srtp"`
}

// DefaultConfig: ports 20000-30000, 60 s of silence ends a call, 3 s of
// latching, 30 s of quarantine, the callee speaks what the caller offered.
func DefaultConfig() Config {
	return Config{Ports: "20000-30000", Timeout: 60 * time.Second, Latch: 3 * time.Second, Quarantine: 30 * time.Second, SRTP: SRTPMirror}
}

// PortRange is Ports as numbers.
func (c Config) PortRange() (lo, hi int, err error) {
	l, h, ok := strings.Cut(c.Ports, "-")
	if !ok {
		return 0, 0, fmt.Errorf("media: rtp_ports %q is not LO-HI", c.Ports)
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(l))
	hi, err2 := strconv.Atoi(strings.TrimSpace(h))
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("media: rtp_ports %q is not LO-HI", c.Ports)
	case lo < 1024 || hi > 65535 || hi < lo+1:
		return 0, 0, fmt.Errorf("media: rtp_ports %q must lie in 1024-65535 and hold at least one even/odd pair", c.Ports)
	}
	if lo%2 == 1 {
		lo++
	}
	if hi < lo+1 {
		return 0, 0, fmt.Errorf("media: rtp_ports %q holds no even/odd pair", c.Ports)
	}
	return lo, hi, nil
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if _, _, err := c.PortRange(); err != nil {
		return err
	}
	if c.Address != "" {
		if _, err := netip.ParseAddr(c.Address); err != nil {
			return fmt.Errorf("media: address %q is not an IP address", c.Address)
		}
	}
	switch {
	case c.Timeout < 0:
		return errors.New("media: timeout must not be negative")
	case c.Latch < 0 || c.Quarantine < 0:
		return errors.New("media: latch and quarantine must not be negative")
	case c.SRTP != SRTPMirror && c.SRTP != SRTPOff && c.SRTP != SRTPOn:
		return fmt.Errorf(`media: srtp must be "mirror", "rtp" or "srtp", not %q`, c.SRTP)
	}
	return nil
}
