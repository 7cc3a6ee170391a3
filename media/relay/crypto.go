package relay

import (
	"bytes"
	"fmt"

	"github.com/pion/srtp/v3"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/media/sdp"
)

// replayWindow is the SRTP/SRTCP replay window of a decrypting context
// (RFC 3711 §3.3.2: at least 64).
const replayWindow = 64

// remoteState is a Remote as the readers see it: swapped whole by
// SetRemote, never changed after it is stored.
type remoteState struct {
	r Remote
	// dec decrypts what the endpoint sends, one context per reader
	// (kindRTP, kindRTCP): a pion Context is not safe for concurrent use.
	// nil when the endpoint speaks plain RTP.
	dec [2]*srtp.Context
}

// route is the link from one stream (whose readers use it) to its peer,
// toward the peer's endpoint.
type route struct {
	peer *Stream
	// enc encrypts with the peer's Out key, one context per reader of
	// the sending stream; nil when the peer's endpoint speaks plain RTP.
	enc [2]*srtp.Context
	// broken: the peer's Out key could not be used, so nothing is sent
	// (never plain RTP to an endpoint that asked for SRTP).
	broken bool
	out    Crypto // the key enc was made with
}

// newRoute is the route from s to its peer p, with encrypting contexts
// for p's Out key. Only s's readers use them, so the contexts are s's:
// they are never shared with the stream that was linked to p before (its
// readers may still be using its old route). When s is linked to p again
// with the same key (a re-Link, or early media going back to a fork),
// the contexts of s's last route to p are reused: new ones would restart the SRTCP index
// under the same key, which reuses keystream (RFC 3711 §9.1) and which
// p's endpoint would drop as replays. Called under ctl.
func newRoute(s, p *Stream) *route {
	out := p.remote.Load().r.Out
	rt := &route{peer: p, out: out}
	last := s.routes[p]
	if s.routes == nil {
		s.routes = map[*Stream]*route{}
	}
	s.routes[p] = rt
	if out.Suite == sdp.None {
		return rt
	}
	if last != nil && !last.broken && sameCrypto(last.out, out) {
		rt.enc = last.enc
		return rt
	}
	enc, err := newContexts(out, false)
	if err != nil {
		// SetRemote checked the key, so this is not expected.
		s.log.Error("relay: SRTP context for the link", zap.Stringer("suite", out.Suite), zap.Error(err))
		rt.broken = true
		return rt
	}
	rt.enc = enc
	return rt
}

// profile is pion's name for a suite.
func profile(s sdp.Suite) (srtp.ProtectionProfile, bool) {
	switch s {
	case sdp.AES_CM_128_HMAC_SHA1_80:
		return srtp.ProtectionProfileAes128CmHmacSha1_80, true
	case sdp.AES_CM_128_HMAC_SHA1_32:
		return srtp.ProtectionProfileAes128CmHmacSha1_32, true
	case sdp.AEAD_AES_128_GCM:
		return srtp.ProtectionProfileAeadAes128Gcm, true
	}
	return 0, false
}

// checkCrypto reports whether c can make a context. The error names the
// suite and the key's length, never the key.
func checkCrypto(c Crypto) error {
	if c.Suite == sdp.None {
		return nil
	}
	_, err := newContext(c, false)
	return err
}

// newContexts are two contexts for c, for the RTP and the RTCP reader.
func newContexts(c Crypto, decrypt bool) ([2]*srtp.Context, error) {
	var cs [2]*srtp.Context
	for i := range cs {
		var err error
		if cs[i], err = newContext(c, decrypt); err != nil {
			return cs, err
		}
	}
	return cs, nil
}

// newContext is an SRTP context for c's master key||salt.
func newContext(c Crypto, decrypt bool) (*srtp.Context, error) {
	p, ok := profile(c.Suite)
	if !ok {
		return nil, fmt.Errorf("%w: suite %v", ErrCrypto, c.Suite)
	}
	kl, _ := p.KeyLen()
	sl, _ := p.SaltLen()
	if len(c.Key) != kl+sl {
		return nil, fmt.Errorf("%w: %v wants %d bytes of key||salt, got %d", ErrCrypto, c.Suite, kl+sl, len(c.Key))
	}
	var opts []srtp.ContextOption
	if decrypt {
		opts = append(opts, srtp.SRTPReplayProtection(replayWindow), srtp.SRTCPReplayProtection(replayWindow))
	}
	ctx, err := srtp.CreateContext(c.Key[:kl], c.Key[kl:], p, opts...)
	if err != nil {
		// pion's errors name lengths and profiles, not key bytes.
		return nil, fmt.Errorf("%w: %v: %v", ErrCrypto, c.Suite, err)
	}
	return ctx, nil
}

func sameCrypto(a, b Crypto) bool { return a.Suite == b.Suite && bytes.Equal(a.Key, b.Key) }
