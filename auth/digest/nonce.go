package digest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sync"
	"time"
)

// A nonce is base64url(ts ‖ rnd ‖ mac) without padding, where ts is the
// minting time in Unix nanoseconds (8 bytes, big-endian), rnd 8 random
// bytes and mac the first 16 bytes of HMAC-SHA256(secret, ts ‖ rnd ‖ realm).
// Only base64url characters, so it needs no escaping in a quoted-string.
const (
	nonceIDLen  = 16 // ts ‖ rnd: identifies the nonce in the replay cache
	nonceMACLen = 16
	nonceRawLen = nonceIDLen + nonceMACLen
)

// nonceEncoding refuses non-canonical encodings: one nonce, one spelling.
var nonceEncoding = base64.RawURLEncoding.Strict()

var nonceLen = nonceEncoding.EncodedLen(nonceRawLen)

// maxClockSkew is how far in the future a nonce's timestamp may be: nodes
// sharing the secret may disagree a little about the time.
const maxClockSkew = 30 * time.Second

// nonceID identifies a nonce: its timestamp and random part.
type nonceID [nonceIDLen]byte

// minted returns when the nonce was issued.
func (id *nonceID) minted() time.Time {
	return time.Unix(0, id.nanos())
}

// nonceMAC computes the MACs of nonces. hmac.New allocates several
// objects, so keyed hashers are pooled; each holds its own input buffer
// so that writing it through the hash.Hash interface does not allocate.
type nonceMAC struct {
	realm []byte
	pool  sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash
	in  nonceID
	out [sha256.Size]byte
}

func newNonceMAC(secret []byte, realm string) *nonceMAC {
	m := &nonceMAC{realm: []byte(realm)}
	m.pool.New = func() any { return &macState{h: hmac.New(sha256.New, secret)} }
	return m
}

// sum writes the MAC of id into dst.
func (m *nonceMAC) sum(dst *[nonceMACLen]byte, id *nonceID) {
	st := m.pool.Get().(*macState)
	st.h.Reset()
	st.in = *id
	st.h.Write(st.in[:])
	st.h.Write(m.realm)
	copy(dst[:], st.h.Sum(st.out[:0]))
	m.pool.Put(st)
}

// mint returns a fresh nonce stamped with now.
func (m *nonceMAC) mint(now time.Time) string {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(raw[8:nonceIDLen]) // never fails since Go 1.24
	id := nonceID(raw[:nonceIDLen])
	m.sum((*[nonceMACLen]byte)(raw[nonceIDLen:]), &id)
	return nonceEncoding.EncodeToString(raw[:])
}

// open checks that nonce was minted with this secret and realm and returns
// its id; it does not look at its age.
func (m *nonceMAC) open(nonce string) (nonceID, bool) {
	var id nonceID
	if len(nonce) != nonceLen {
		return id, false
	}
	var src [64]byte // copied so that decoding does not allocate
	var raw [nonceRawLen + 2]byte
	n, err := nonceEncoding.Decode(raw[:], src[:copy(src[:], nonce)])
	if err != nil || n != nonceRawLen {
		return id, false
	}
	id = nonceID(raw[:nonceIDLen])
	var mac [nonceMACLen]byte
	m.sum(&mac, &id)
	return id, subtle.ConstantTimeCompare(mac[:], raw[nonceIDLen:nonceRawLen]) == 1
}

// nanos returns the mint time in Unix nanoseconds.
func (id *nonceID) nanos() int64 { return int64(binary.BigEndian.Uint64(id[:8])) }

// compare orders ids by mint time, then by random part.
func (id *nonceID) compare(other *nonceID) int { return bytes.Compare(id[:], other[:]) }

// tokenID names the nonce in logs (auth.Identity.TokenID): "nonce:" and
// its random part in hex. A nonce is no secret; it travels in clear.
func (id *nonceID) tokenID() string {
	const prefix = "nonce:"
	var b [len(prefix) + 2*(nonceIDLen-8)]byte
	hex.Encode(b[copy(b[:], prefix):], id[8:])
	return string(b[:])
}
