package digest

import (
	"errors"
	"strings"
	"testing"

	"github.com/b2bua/b2bua/auth"
)

const minimal = `username="alice", realm="example.com", nonce="n", uri="sip:example.com", response="r"`

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name   string
		params string
		want   Credentials
	}{
		{"minimal", minimal, Credentials{
			Username: "alice", Realm: "example.com", Nonce: "n", URI: "sip:example.com", Response: "r",
		}},
		{"all known parameters", minimal + `, algorithm=SHA-256-sess, cnonce="c", qop=auth, nc=0000000a, ` +
			`opaque="o", userhash=FALSE`, Credentials{
			Username: "alice", Realm: "example.com", Nonce: "n", URI: "sip:example.com", Response: "r",
			Algorithm: "SHA-256-sess", CNonce: "c", QOP: "auth", NC: "0000000a", Opaque: "o",
		}},
		{"names in any case, tokens quoted, white space", " USERNAME = \"alice\" ,\tRealm=\"example.com\"," +
			`Nonce="n",URI="sip:example.com",Response="r",QOP="auth",NC="00000001",CNonce=c `, Credentials{
			Username: "alice", Realm: "example.com", Nonce: "n", URI: "sip:example.com", Response: "r",
			QOP: "auth", NC: "00000001", CNonce: "c",
		}},
		{"unquoted uri", `username=alice, realm=example.com, nonce=n, uri=sip:bob@example.com;transport=tcp, response=r`,
			Credentials{Username: "alice", Realm: "example.com", Nonce: "n", URI: "sip:bob@example.com;transport=tcp",
				Response: "r"}},
		{"escapes", `username="a\"l\\ice\x", realm="ex,ample.com", nonce="", uri="sip:x", response="r"`,
			Credentials{Username: `a"l\icex`, Realm: "ex,ample.com", URI: "sip:x", Response: "r"}},
		{"UTF-8 and tab in quoted strings", "username=\"Zoë\tK\", realm=r, nonce=n, uri=u, response=r",
			Credentials{Username: "Zoë\tK", Realm: "r", Nonce: "n", URI: "u", Response: "r"}},
		{"unknown parameters dropped", minimal + `, foo="bar, baz", x=1`, Credentials{
			Username: "alice", Realm: "example.com", Nonce: "n", URI: "sip:example.com", Response: "r",
		}},
		{"userhash", minimal + `, userhash=true`, Credentials{
			Username: "alice", Realm: "example.com", Nonce: "n", URI: "sip:example.com", Response: "r", UserHash: true,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCredentials(tc.params)
			if err != nil {
				t.Fatalf("ParseCredentials: %v", err)
			}
			if *c != tc.want {
				t.Errorf("ParseCredentials =\n%+v, want\n%+v", *c, tc.want)
			}
			assertRoundTrip(t, c)
		})
	}
}

func TestParseCredentialsInvalid(t *testing.T) {
	tests := []struct{ name, params string }{
		{"empty", ""},
		{"missing username", `realm="r", nonce="n", uri="u", response="r"`},
		{"missing realm", `username="a", nonce="n", uri="u", response="r"`},
		{"missing nonce", `username="a", realm="r", uri="u", response="r"`},
		{"missing uri", `username="a", realm="r", nonce="n", response="r"`},
		{"missing response", `username="a", realm="r", nonce="n", uri="u"`},
		{"duplicate", minimal + `, username="bob"`},
		{"duplicate in another case", minimal + `, Response="x"`},
		{"duplicate unknown", minimal + `, foo=1, FOO=2`},
		{"duplicate userhash", minimal + `, userhash=false, userhash=true`},
		{"unterminated quote", `username="alice, realm="r", nonce="n", uri="u", response="r`},
		{"unterminated at escape", minimal + `, opaque="x\`},
		{"control character", "username=\"al\x01ice\", realm=r, nonce=n, uri=u, response=r"},
		{"escaped CR", "username=\"al\\\rice\", realm=r, nonce=n, uri=u, response=r"},
		{"DEL", "username=\"al\x7fice\", realm=r, nonce=n, uri=u, response=r"},
		{"qop without nc", minimal + `, qop=auth, cnonce="c"`},
		{"qop without cnonce", minimal + `, qop=auth, nc=00000001`},
		{"nc too short", minimal + `, qop=auth, cnonce="c", nc=0001`},
		{"nc not hex", minimal + `, qop=auth, cnonce="c", nc=0000000x`},
		{"nc without qop, malformed", minimal + `, nc=1`},
		{"username*", `username*=UTF-8''J%C3%A4s, realm="r", nonce="n", uri="u", response="r"`},
		{"userhash not boolean", minimal + `, userhash=yes`},
		{"no value", minimal + `, stale`},
		{"empty value", minimal + `, nc=`},
		{"empty value before comma", `username=, realm=r, nonce=n, uri=u, response=r`},
		{"no comma", `username="a" realm="r", nonce="n", uri="u", response="r"`},
		{"double comma", `username="a",, realm="r", nonce="n", uri="u", response="r"`},
		{"leading comma", `, ` + minimal},
		{"trailing comma", minimal + `,`},
		{"bad name", minimal + `, (x)=1`},
		{"backslash outside quotes", minimal + `, x=a\b`},
		{"too many parameters", minimal + strings.Repeat(", x=1", maxParams)},
		{"scheme included", `Digest ` + minimal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCredentials(tc.params)
			if !errors.Is(err, auth.ErrInvalidRequest) {
				t.Errorf("ParseCredentials = %+v, %v; want auth.ErrInvalidRequest", c, err)
			}
		})
	}
}

// assertRoundTrip checks that c, written out and parsed again, is c, and
// that writing is stable.
func assertRoundTrip(t *testing.T, c *Credentials) {
	t.Helper()
	enc := string(c.appendParams(nil))
	c2, err := ParseCredentials(enc)
	if err != nil {
		t.Fatalf("re-parse of %q: %v", enc, err)
	}
	if *c2 != *c {
		t.Fatalf("re-parse of %q =\n%+v, want\n%+v", enc, *c2, *c)
	}
	if enc2 := string(c2.appendParams(nil)); enc2 != enc {
		t.Fatalf("written twice: %q then %q", enc, enc2)
	}
}

func TestAppendParams(t *testing.T) {
	c := &Credentials{
		Username: `a"b`, Realm: "example.com", Nonce: "n", URI: "sip:example.com", Response: "r",
		Algorithm: "MD5", QOP: "auth", NC: "00000001", CNonce: "c",
	}
	got := string(c.appendParams([]byte("Digest ")))
	want := `Digest username="a\"b", realm="example.com", nonce="n", uri="sip:example.com", response="r", ` +
		`algorithm=MD5, cnonce="c", qop=auth, nc=00000001`
	if got != want {
		t.Errorf("appendParams =\n%s, want\n%s", got, want)
	}
}

// FuzzParseCredentials: whatever is accepted survives a round trip; what
// is refused is refused as auth.ErrInvalidRequest.
func FuzzParseCredentials(f *testing.F) {
	for _, v := range rfcVectors {
		f.Add(v.header)
	}
	f.Add(minimal + `, qop=auth, nc=00000001, cnonce="c\"d", foo=bar`)
	f.Fuzz(func(t *testing.T, params string) {
		c, err := ParseCredentials(params)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidRequest) {
				t.Fatalf("error %v does not wrap auth.ErrInvalidRequest", err)
			}
			return
		}
		assertRoundTrip(t, c)
	})
}
