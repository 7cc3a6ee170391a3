package authparam

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// scanAll reads every parameter of s.
func scanAll(s string, max int) ([]Param, error) {
	var out []Param
	p := Scanner{S: s, Max: max}
	for {
		param, ok, err := p.Next()
		if err != nil {
			return out, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, param)
	}
}

func TestScanner(t *testing.T) {
	q := func(n, v string) Param { return Param{Name: n, Value: v, Quoted: true} }
	b := func(n, v string) Param { return Param{Name: n, Value: v} }
	tests := []struct {
		name string
		in   string
		want []Param
		err  error
	}{
		{"empty", "", nil, nil},
		{"only space", " \t ", nil, nil},
		{"RFC 3261 §25.1 credentials",
			`username="bob", realm="biloxi.com", nonce="dcd98b", uri="sip:bob@biloxi.com", response="245f23", algorithm=MD5`,
			[]Param{q("username", "bob"), q("realm", "biloxi.com"), q("nonce", "dcd98b"), q("uri", "sip:bob@biloxi.com"),
				q("response", "245f23"), b("algorithm", "MD5")}, nil},
		{"RFC 8898 challenge", `realm="example.org", authz_server="https://as.example.org/token", error="invalid_token"`,
			[]Param{q("realm", "example.org"), q("authz_server", "https://as.example.org/token"), q("error", "invalid_token")}, nil},
		{"space around = and ,", ` a = 1 ,b=  "x"  , c=3 `, []Param{b("a", "1"), q("b", "x"), b("c", "3")}, nil},
		{"case kept", `NC=00000001`, []Param{b("NC", "00000001")}, nil},
		{"lenient bare value", `uri=sip:bob@h;transport=udp, qop=auth`, []Param{b("uri", "sip:bob@h;transport=udp"), b("qop", "auth")}, nil},
		{"escapes", `realm="a\"b\\c", x="\q"`, []Param{q("realm", `a"b\c`), q("x", "q")}, nil},
		{"comma and tab inside quotes", "qop=\"auth,\tauth-int\"", []Param{q("qop", "auth,\tauth-int")}, nil},
		{"empty quoted value", `nonce=""`, []Param{q("nonce", "")}, nil},
		{"line folding", "realm=\"r\",\r\n nonce=\"n\"", []Param{q("realm", "r"), q("nonce", "n")}, nil},
		{"utf-8 in quotes", `username="Zoë"`, []Param{q("username", "Zoë")}, nil},
		{"bare CRLF is not folding", "a=1,\r\nb=2", []Param{b("a", "1")}, ErrSyntax},
		{"missing comma", `a=1 b=2`, []Param{b("a", "1")}, ErrSyntax},
		{"empty element", `a=1,,b=2`, []Param{b("a", "1")}, ErrSyntax},
		{"leading comma", `,a=1`, nil, ErrSyntax},
		{"trailing comma", `a=1,`, []Param{b("a", "1")}, ErrSyntax},
		{"no value", `a`, nil, ErrSyntax},
		{"empty value", `a=`, nil, ErrSyntax},
		{"no name", `=x`, nil, ErrSyntax},
		{"unterminated", `a="x`, nil, ErrUnterminated},
		{"unterminated at escape", `a="x\`, nil, ErrUnterminated},
		{"control character", "a=\"x\x01y\"", nil, ErrControl},
		{"escaped control character", "a=\"x\\\ny\"", nil, ErrControl},
		{"DEL", "a=\"\x7f\"", nil, ErrControl},
		{"too many", strings.Repeat("x=1, ", 3) + "x=1", []Param{b("x", "1"), b("x", "1"), b("x", "1")}, ErrTooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := 0
			if tt.err == ErrTooMany {
				max = 3
			}
			got, err := scanAll(tt.in, max)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestQuotedDoesNotAllocate(t *testing.T) {
	s := `username="alice", realm="example.org", nonce="4a2f", uri="sip:example.org", response="6629fae4", nc=00000001`
	if n := testing.AllocsPerRun(100, func() {
		p := Scanner{S: s}
		for {
			if _, ok, err := p.Next(); !ok || err != nil {
				return
			}
		}
	}); n != 0 {
		t.Fatalf("%v allocations scanning a list without escapes", n)
	}
}

func TestAppendParam(t *testing.T) {
	tests := []struct {
		name, value string
		quote       bool
		want        string
	}{
		{"algorithm", "MD5", false, "algorithm=MD5"},
		{"realm", "example.org", true, `realm="example.org"`},
		{"uri", "sip:bob@h", false, `uri="sip:bob@h"`},
		{"x", `a"b\c`, false, `x="a\"b\\c"`},
		{"x", "", false, `x=""`},
	}
	for _, tt := range tests {
		if got := string(AppendParam(nil, tt.name, tt.value, tt.quote)); got != tt.want {
			t.Errorf("AppendParam(%q, %q, %v) = %s, want %s", tt.name, tt.value, tt.quote, got, tt.want)
		}
	}
}

// FuzzScanner: whatever the input, the scanner ends (with an error wrapping
// one of the sentinels, or at the end) within the bound; names are tokens;
// values hold no control character but HTAB; and writing the parameters
// back with AppendParam and scanning that gives the same parameters (the
// round trip). Seeds: testdata/fuzz/FuzzScanner.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`username="bob", realm="biloxi.com", nonce="dcd98b", uri="sip:bob@biloxi.com", response="245f23"`,
		`realm="a\"b\\c", qop="auth,auth-int", algorithm=SHA-256, stale=true`,
		"a=1,\r\n b=\"x\"", `a="x`, `a=1 b=2`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := scanAll(in, 0)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrUnterminated) && !errors.Is(err, ErrControl) && !errors.Is(err, ErrTooMany) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if len(got) > DefaultMax {
			t.Fatalf("%d parameters", len(got))
		}
		var b []byte
		for i, p := range got {
			if !IsToken(p.Name) {
				t.Fatalf("name %q is not a token", p.Name)
			}
			if strings.ContainsFunc(p.Value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
				t.Fatalf("control character in %q", p.Value)
			}
			if i > 0 {
				b = append(b, ", "...)
			}
			b = AppendParam(b, p.Name, p.Value, p.Quoted)
		}
		again, err := scanAll(string(b), 0)
		if err != nil {
			t.Fatalf("round trip of %q: %q: %v", in, b, err)
		}
		for i := range again {
			again[i].Quoted = got[i].Quoted // a bare value that is no token comes back quoted
		}
		if !slices.Equal(again, got) {
			t.Fatalf("round trip of %q: %q gives %+v, want %+v", in, b, again, got)
		}
	})
}
