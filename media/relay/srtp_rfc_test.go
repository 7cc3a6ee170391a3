package relay

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/b2bua/b2bua/media/sdp"
)

// The RFC 3711 Appendix B vectors, checked twice: a reference transform
// written here from the RFC's text (§4.1.1, §4.2, §4.3) must reproduce
// them, and then the relay's own path (newContext, and a packet through a
// Stream) must produce the same bytes as the reference. pion expresses
// B.2 with derived keys it can inject internally
// (srtp_cipher_aes_cm_hmac_sha1_rfc_test.go); from outside we can only
// give master keys, hence the chain.

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keystream is AES-CM (RFC 3711 §4.1.1): AES-CTR from the 128-bit iv.
func keystream(key, iv []byte, n int) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	out := make([]byte, n)
	cipher.NewCTR(block, iv).XORKeyStream(out, out)
	return out
}

// derive is the AES-CM PRF of RFC 3711 §4.3.1 and §4.3.3 with a key
// derivation rate of 0: x = key_id XOR master_salt, key_id = label || 0.
func derive(master, salt []byte, label byte, n int) []byte {
	iv := make([]byte, 16)
	copy(iv, salt) // the 112-bit salt, then 16 zero bits (x * 2^16)
	iv[7] ^= label
	return keystream(master, iv, n)
}

// protectRef is SRTP of RFC 3711 §3.1 with AES-CM and HMAC-SHA1 from
// session keys: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).
func protectRef(encKey, salt, authKey, pkt []byte, roc uint32, tagLen int) []byte {
	const hdr = 12
	seq := binary.BigEndian.Uint16(pkt[2:])
	ssrc := binary.BigEndian.Uint32(pkt[8:])
	iv := make([]byte, 16)
	copy(iv, salt)
	var ssrcB [4]byte
	binary.BigEndian.PutUint32(ssrcB[:], ssrc)
	for i := range 4 {
		iv[4+i] ^= ssrcB[i]
	}
	idx := uint64(roc)<<16 | uint64(seq)
	for i := range 6 {
		iv[8+i] ^= byte(idx >> (8 * (5 - i)))
	}
	out := append([]byte(nil), pkt...)
	ks := keystream(encKey, iv, len(pkt)-hdr)
	for i := range ks {
		out[hdr+i] ^= ks[i]
	}
	m := hmac.New(sha1.New, authKey)
	m.Write(out)
	binary.Write(m, binary.BigEndian, roc)
	return append(out, m.Sum(nil)[:tagLen]...)
}

func TestRFC3711B2Keystream(t *testing.T) {
	key := unhex(t, "2B7E151628AED2A6ABF7158809CF4F3C")
	for _, tc := range []struct {
		counter string // the 128-bit block counter of B.2
		want    string
	}{
		{"F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000", "E03EAD0935C95E80E166B16DD92B4EB4"},
		{"F0F1F2F3F4F5F6F7F8F9FAFBFCFD0001", "D23513162B02D0F72A43A2FE4A5F97AB"},
		{"F0F1F2F3F4F5F6F7F8F9FAFBFCFD0002", "41E95B3BB0A2E8DD477901E4FCA894C0"},
		{"F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF", "EC8CDF7398607CB0F2D21675EA9EA1E4"},
		{"F0F1F2F3F4F5F6F7F8F9FAFBFCFDFF00", "362B7C3C6773516318A077D7FC5073AE"},
		{"F0F1F2F3F4F5F6F7F8F9FAFBFCFDFF01", "6A2CC3787889374FBEB4C81B17BA6C44"},
	} {
		t.Run(tc.counter, func(t *testing.T) {
			if got := keystream(key, unhex(t, tc.counter), 16); !bytes.Equal(got, unhex(t, tc.want)) {
				t.Fatalf("keystream %X, want %s", got, tc.want)
			}
		})
	}
}

// B.3 master key and salt, and the session keys they give.
const (
	b3Master  = "E1F97A0D3E018BE0D64FA32C06DE4139"
	b3Salt    = "0EC675AD498AFEEBB6960B3AABE6"
	b3EncKey  = "C61E7A93744F39EE10734AFE3FF7A087"
	b3SessSlt = "30CBBC08863D8C85D49DB34A9AE1"
	b3AuthKey = "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"
)

func TestRFC3711B3KeyDerivation(t *testing.T) {
	master, salt := unhex(t, b3Master), unhex(t, b3Salt)
	for _, tc := range []struct {
		name  string
		label byte // RFC 3711 §4.3.2
		want  string
	}{
		{"cipher key", 0x00, b3EncKey},
		{"cipher salt", 0x02, b3SessSlt},
		{"auth key", 0x01, b3AuthKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.want)
			if got := derive(master, salt, tc.label, len(want)); !bytes.Equal(got, want) {
				t.Fatalf("%X, want %s", got, tc.want)
			}
		})
	}
}

// TestRFC3711ThroughRelay: with the B.3 master key||salt as our Out key,
// what the relay sends equals the reference transform under the B.3
// session keys, for both AES-CM suites and across a rollover.
func TestRFC3711ThroughRelay(t *testing.T) {
	encKey, salt, authKey := unhex(t, b3EncKey), unhex(t, b3SessSlt), unhex(t, b3AuthKey)
	b3 := append(unhex(t, b3Master), unhex(t, b3Salt)...)
	for _, tc := range []struct {
		suite  sdp.Suite
		tagLen int
	}{{sdp.AES_CM_128_HMAC_SHA1_80, 10}, {sdp.AES_CM_128_HMAC_SHA1_32, 4}} {
		t.Run(tc.suite.String(), func(t *testing.T) {
			out := Crypto{Suite: tc.suite, Key: b3}
			t.Run("newContext", func(t *testing.T) {
				ctx := mustContext(t, out, false)
				pkt := rtpPacket(t, 0x1234, 0xCAFEBABE, make([]byte, 160))
				got, err := ctx.EncryptRTP(nil, pkt, nil)
				if err != nil {
					t.Fatal(err)
				}
				if want := protectRef(encKey, salt, authKey, pkt, 0, tc.tagLen); !bytes.Equal(got, want) {
					t.Fatalf("got  %X\nwant %X", got, want)
				}
			})
			t.Run("stream", func(t *testing.T) {
				epA, epB := newEndpoint(t, Crypto{}, Crypto{}), newEndpoint(t, Crypto{}, Crypto{})
				a, b := newStream(t, Options{}, true), newStream(t, Options{}, true)
				a.SetRemote(epA.remote())
				rb := epB.remote()
				rb.Out = out
				if err := b.SetRemote(rb); err != nil {
					t.Fatal(err)
				}
				Link(a, b)
				roc := uint32(0)
				for i := range 4 {
					seq := uint16(65534 + i)
					if seq == 0 {
						roc++
					}
					pkt := rtpPacket(t, seq, 0xDECAFBAD, bytes.Repeat([]byte{byte(i)}, 160))
					epA.sendFrom(epA.rtp, a.LocalRTP(), pkt)
					got := epB.recv(epB.rtp, wait)
					if want := protectRef(encKey, salt, authKey, pkt, roc, tc.tagLen); !bytes.Equal(got, want) {
						t.Fatalf("seq %d:\ngot  %X\nwant %X", seq, got, want)
					}
				}
			})
		})
	}
}
