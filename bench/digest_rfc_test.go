package bench

import (
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// Vectors from RFC 2617 §3.5 and RFC 7616 §3.9.1 (HTTP, but SIP Digest is
// the same computation, RFC 3261 §22.4 and RFC 8760).
func TestDigestRFCVectors(t *testing.T) {
	tests := []struct {
		name      string
		challenge string
		cred      Credentials
		method    string
		uri       string
		cnonce    string
		want      string
	}{
		{
			name: "RFC 2617 3.5 MD5",
			challenge: `Digest realm="testrealm@host.com", qop="auth,auth-int",` +
				` nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
			cred:   Credentials{Username: "Mufasa", Password: "Circle Of Life"},
			method: "GET", uri: "/dir/index.html", cnonce: "0a4f113b",
			want: "6629fae49393a05397450978507c4ef1",
		},
		{
			name: "RFC 7616 3.9.1 MD5",
			challenge: `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5,` +
				` nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
			cred:   Credentials{Username: "Mufasa", Password: "Circle of Life"},
			method: "GET", uri: "/dir/index.html", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
			want: "8ca523f5e9506fed4657c9700eebdbec",
		},
		{
			name: "RFC 7616 3.9.1 SHA-256",
			challenge: "Digest\r\n realm=\"http-auth@example.org\",\r\n qop=\"auth, auth-int\",\r\n algorithm=SHA-256,\r\n" +
				" nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
			cred:   Credentials{Username: "Mufasa", Password: "Circle of Life"},
			method: "GET", uri: "/dir/index.html", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
			want: "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := ParseChallenge([]byte(tc.challenge))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ch.Response(tc.cred, tc.method, tc.uri, tc.cnonce, 1)
			if err != nil || got != tc.want {
				t.Fatalf("response = %s, %v; want %s", got, err, tc.want)
			}
			h, err := ch.Authorization(tc.cred, tc.method, tc.uri, tc.cnonce, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []string{`response="` + tc.want + `"`, "qop=auth", "nc=00000001",
				`cnonce="` + tc.cnonce + `"`, `opaque="` + ch.Opaque + `"`, `username="Mufasa"`} {
				if !strings.Contains(h, part) {
					t.Errorf("%s lacks %s", h, part)
				}
			}
		})
	}
}

func hexHash(newHash func() []byte) string { return hex.EncodeToString(newHash()) }

// The forms without a published vector are checked against the formulas
// of RFC 2617 §3.2.2.1-2 written out by hand.
func TestDigestForms(t *testing.T) {
	md := func(s string) string { return hexHash(func() []byte { h := md5.Sum([]byte(s)); return h[:] }) }
	s512 := func(s string) string {
		return hexHash(func() []byte { h := sha512.Sum512_256([]byte(s)); return h[:] })
	}
	cred := Credentials{Username: "alice", Password: "secret"}
	ha1 := md("alice:atlanta.com:secret")
	ha2 := md("REGISTER:sip:atlanta.com")
	tests := []struct {
		name, challenge, want string
		err                   error
	}{
		{"RFC 2069 no qop", `Digest realm="atlanta.com", nonce="n1"`, md(ha1 + ":n1:" + ha2), nil},
		{"MD5-sess", `Digest realm="atlanta.com", nonce="n1", qop="auth", algorithm=MD5-sess`,
			md(md(ha1+":n1:cn") + ":n1:00000001:cn:auth:" + ha2), nil},
		{"SHA-512-256", `Digest realm="atlanta.com", nonce="n1", qop=auth, algorithm=SHA-512-256`,
			s512(s512("alice:atlanta.com:secret") + ":n1:00000001:cn:auth:" + s512("REGISTER:sip:atlanta.com")), nil},
		{"auth-int only", `Digest realm="atlanta.com", nonce="n1", qop="auth-int"`, "", ErrBadChallenge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := ParseChallenge([]byte(tc.challenge))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ch.Response(cred, "REGISTER", "sip:atlanta.com", "cn", 1)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseChallengeErrors(t *testing.T) {
	for _, in := range []string{
		`Basic realm="x"`, `Digest realm="x"`, `Digest nonce="n", algorithm=SHA-1`,
		`Digest nonce="unterminated`, `Digest =x`,
	} {
		if _, err := ParseChallenge([]byte(in)); !errors.Is(err, ErrBadChallenge) {
			t.Errorf("%s: err = %v", in, err)
		}
	}
	ch, err := ParseChallenge([]byte(`Digest realm="a\"b", nonce=n`))
	if err != nil || ch.Realm != `a"b` || ch.Nonce != "n" {
		t.Fatalf("escaped quote: %+v %v", ch, err)
	}
	h, _ := ch.Authorization(Credentials{Username: "u"}, "OPTIONS", "sip:x", "c", 1)
	if !strings.Contains(h, `realm="a\"b"`) {
		t.Errorf("realm not re-escaped: %s", h)
	}
}
