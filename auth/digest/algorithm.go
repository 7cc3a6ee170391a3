package digest

import (
	"crypto/md5" //nolint:gosec // RFC 2617/7616 MD5 is required for interop.
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Algorithm names (RFC 7616 §3.3, RFC 8760 §2). HA1Func is only ever asked
// for AlgorithmMD5 or AlgorithmSHA256: the -sess variants derive their A1
// from the same stored H(username:realm:password).
const (
	AlgorithmMD5        = "MD5"
	AlgorithmMD5Sess    = "MD5-sess"
	AlgorithmSHA256     = "SHA-256"
	AlgorithmSHA256Sess = "SHA-256-sess"
)

// maxSize is the largest digest size in bytes (SHA-256).
const maxSize = sha256.Size

// algorithm is one supported Digest algorithm.
type algorithm struct {
	name string // canonical spelling, sent in challenges
	base string // AlgorithmMD5 or AlgorithmSHA256, given to HA1Func
	sess bool   // A1 = H(user:realm:pass):nonce:cnonce (RFC 7616 §3.4.2)
	md5  bool   // hash is MD5, else SHA-256
	size int    // digest size in bytes
}

var algorithms = [...]algorithm{
	{name: AlgorithmMD5, base: AlgorithmMD5, md5: true, size: md5.Size},
	{name: AlgorithmMD5Sess, base: AlgorithmMD5, sess: true, md5: true, size: md5.Size},
	{name: AlgorithmSHA256, base: AlgorithmSHA256, size: sha256.Size},
	{name: AlgorithmSHA256Sess, base: AlgorithmSHA256, sess: true, size: sha256.Size},
}

// lookupAlgorithm finds an algorithm by name, case-insensitively; nil if
// unsupported.
func lookupAlgorithm(name string) *algorithm {
	for i := range algorithms {
		if strings.EqualFold(algorithms[i].name, name) {
			return &algorithms[i]
		}
	}
	return nil
}

// sum hashes b into dst and returns the digest.
func (a *algorithm) sum(dst *[maxSize]byte, b []byte) []byte {
	if a.md5 {
		s := md5.Sum(b) //nolint:gosec // see import
		return dst[:copy(dst[:], s[:])]
	}
	*dst = sha256.Sum256(b)
	return dst[:]
}

// hexSum hashes b and returns the digest in lower-case hex, in dst.
func (a *algorithm) hexSum(dst *[2 * maxSize]byte, b []byte) []byte {
	var d [maxSize]byte
	s := a.sum(&d, b)
	return dst[:hex.Encode(dst[:], s)]
}

// HA1 computes H(username:realm:password) in lower-case hex for algorithm
// AlgorithmMD5 or AlgorithmSHA256 (a -sess variant gives the same value):
// the users service stores this instead of the password. It returns "" for
// an unsupported algorithm.
func HA1(algorithm, username, realm, password string) string {
	a := lookupAlgorithm(algorithm)
	if a == nil {
		return ""
	}
	b := make([]byte, 0, len(username)+len(realm)+len(password)+2)
	b = append(append(append(b, username...), ':'), realm...)
	b = append(append(b, ':'), password...)
	var h [2 * maxSize]byte
	return string(a.hexSum(&h, b))
}
