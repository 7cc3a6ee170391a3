package sdp

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// parseCrypto reads the value of an a=crypto line (RFC 4568 §9.1):
//
//	tag SP crypto-suite SP key-params *(SP session-param)
//	key-params = "inline:" key||salt ["|" lifetime] ["|" MKI ":" length]
//
// and reports false for a line the relay cannot use: a suite it does not
// speak, several keys (";"), an MKI, a lifetime below 2^31 packets (the
// relay does not rekey; 2^31 is 497 days of 50 packets/s, and Cisco,
// Polycom and Grandstream phones write |2^31 on every key), session
// parameters (UNENCRYPTED_SRTP and the like change what is protected), or
// a key of the wrong length. The key is decoded with and without base64 padding:
// both are in use.
func parseCrypto(v string) (Crypto, bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return Crypto{}, false
	}
	if len(f[0]) == 0 || len(f[0]) > 9 {
		return Crypto{}, false
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 {
		return Crypto{}, false
	}
	suite, ok := ParseSuite(f[1])
	if !ok {
		return Crypto{}, false
	}
	b64, ok := strings.CutPrefix(f[2], "inline:")
	if !ok || strings.Contains(b64, ";") {
		return Crypto{}, false
	}
	b64, lifetime, hasLifetime := strings.Cut(b64, "|")
	if hasLifetime && !longLifetime(lifetime) {
		return Crypto{}, false
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(key) != suite.KeyLen() {
		return Crypto{}, false
	}
	return Crypto{Tag: tag, Suite: suite, Key: key}, true
}

// value is c as the value of an a=crypto line.
func (c *Crypto) value() string {
	var b strings.Builder
	b.Grow(16 + len(c.Suite.String()) + base64.StdEncoding.EncodedLen(len(c.Key)))
	b.WriteString(strconv.Itoa(c.Tag))
	b.WriteByte(' ')
	b.WriteString(c.Suite.String())
	b.WriteString(" inline:")
	b.WriteString(base64.StdEncoding.EncodeToString(c.Key))
	return b.String()
}

// valid reports whether c can be written: a tag of at most 9 digits, a
// suite, and a key of the suite's length.
func (c *Crypto) valid() bool {
	return c.Tag >= 0 && c.Tag <= 999999999 && c.Suite != None && len(c.Key) == c.Suite.KeyLen()
}

// String is c as an a=crypto line's value with the key left out, so that
// a Crypto printed or logged by mistake shows no key.
func (c Crypto) String() string {
	return strconv.Itoa(c.Tag) + " " + c.Suite.String() + " inline:(key)"
}

// longLifetime reports whether what follows a key's "|" is only a
// lifetime of at least 2^31 packets ("2^31", "2^48", or decimal), with no
// MKI after it.
func longLifetime(v string) bool {
	if strings.ContainsAny(v, "|:") {
		return false // an MKI
	}
	if exp, ok := strings.CutPrefix(v, "2^"); ok {
		n, err := strconv.Atoi(exp)
		return err == nil && n >= 31 && n <= 64
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return err == nil && n >= 1<<31
}
