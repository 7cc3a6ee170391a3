package bench

import (
	"errors"
	"reflect"
	"testing"
)

func TestBencode(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		enc  string
	}{
		{"string", "spam", "4:spam"},
		{"empty string", "", "0:"},
		{"binary string", "a\x00:e", "4:a\x00:e"},
		{"int", int64(42), "i42e"},
		{"zero", int64(0), "i0e"},
		{"negative", int64(-3), "i-3e"},
		{"list", []any{"spam", int64(1)}, "l4:spami1ee"},
		{"empty list", []any{}, "le"},
		{"dict sorted", map[string]any{"z": "1", "a": []any{}, "m": int64(2)}, "d1:ale1:mi2e1:z1:1e"},
		{"ng offer", map[string]any{"command": "offer", "call-id": "c1", "replace": []any{"origin"}},
			"d7:call-id2:c17:command5:offer7:replacel6:originee"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := appendBencode(nil, tc.v)
			if err != nil || string(b) != tc.enc {
				t.Fatalf("encode %q, %v; want %q", b, err, tc.enc)
			}
			v, err := decodeBencode(b)
			if err != nil || !reflect.DeepEqual(v, tc.v) {
				t.Errorf("decode %#v, %v; want %#v", v, err, tc.v)
			}
		})
	}
}

func TestBencodeEncodeTypes(t *testing.T) {
	b, err := appendBencode(nil, map[string]any{"n": 7, "l": []string{"a", "bc"}, "b": []byte("xy")})
	if err != nil || string(b) != "d1:b2:xy1:ll1:a2:bce1:ni7ee" {
		t.Errorf("%q, %v", b, err)
	}
	if _, err := appendBencode(nil, []any{1.5}); !errors.Is(err, errBencode) {
		t.Errorf("float: %v, want errBencode", err)
	}
}

func TestBencodeDecodeUnsorted(t *testing.T) {
	// rtpengine does not sort the keys of its answers.
	v, err := decodeBencode([]byte("d6:result2:ok3:sdp3:v=0e"))
	if err != nil || !reflect.DeepEqual(v, map[string]any{"result": "ok", "sdp": "v=0"}) {
		t.Errorf("%#v, %v", v, err)
	}
}

func TestBencodeDecodeErrors(t *testing.T) {
	for _, in := range []string{
		"", "i", "ie", "i-e", "i-0e", "i01e", "i+1e", "i1x2e", "i99999999999999999999e",
		"5:abc", "-1:a", "01:a", "1a:a", "99999999999:a", ":a", "l", "li1e", "d", "d1:a", "di1ei2ee",
		"x", "4:spamextra", "d1:ai1e", lists(40),
	} {
		if v, err := decodeBencode([]byte(in)); !errors.Is(err, errBencode) {
			t.Errorf("%q: %#v, %v; want errBencode", in, v, err)
		}
	}
}

func lists(n int) string {
	b := make([]byte, 0, 2*n)
	for range n {
		b = append(b, 'l')
	}
	for range n {
		b = append(b, 'e')
	}
	return string(b)
}

// FuzzDecodeBencode checks that the decoder never panics and that what it
// accepts encodes to something that decodes to the same value again.
func FuzzDecodeBencode(f *testing.F) {
	for _, s := range []string{"4:spam", "i-42e", "l4:spami1ee", "d6:result2:ok3:sdp3:v=0e",
		"d7:call-id2:c17:command5:offer7:replacel6:originee", "le", "de", "0:"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeBencode(b)
		if err != nil {
			if !errors.Is(err, errBencode) {
				t.Fatalf("error %v does not wrap errBencode", err)
			}
			return
		}
		enc, err := appendBencode(nil, v)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", v, err)
		}
		v2, err := decodeBencode(enc)
		if err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("round trip: %#v -> %q -> %#v, %v", v, enc, v2, err)
		}
		enc2, _ := appendBencode(nil, v2)
		if string(enc) != string(enc2) {
			t.Fatalf("encoding not stable: %q then %q", enc, enc2)
		}
	})
}
