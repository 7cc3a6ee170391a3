package bench

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Bencode (BEP 3) is the encoding of rtpengine's ng control protocol:
// byte strings "4:spam", integers "i42e", lists "l…e" and dictionaries
// "d…e" with byte-string keys in sorted order. Values decode to string,
// int64, []any and map[string]any, and encode from those (and int, []string).

// errBencode reports input that is not bencode.
var errBencode = errors.New("bench: bencode")

// maxBencodeDepth bounds nesting so hostile input cannot exhaust the stack.
const maxBencodeDepth = 32

// appendBencode appends the encoding of v to dst.
func appendBencode(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		dst = strconv.AppendInt(dst, int64(len(v)), 10)
		dst = append(dst, ':')
		return append(dst, v...), nil
	case []byte:
		dst = strconv.AppendInt(dst, int64(len(v)), 10)
		dst = append(dst, ':')
		return append(dst, v...), nil
	case int:
		return appendBencode(dst, int64(v))
	case int64:
		dst = append(dst, 'i')
		dst = strconv.AppendInt(dst, v, 10)
		return append(dst, 'e'), nil
	case []string:
		dst = append(dst, 'l')
		for _, s := range v {
			dst, _ = appendBencode(dst, s)
		}
		return append(dst, 'e'), nil
	case []any:
		dst = append(dst, 'l')
		for _, e := range v {
			var err error
			if dst, err = appendBencode(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	case map[string]any:
		dst = append(dst, 'd')
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // BEP 3: keys in sorted order, as raw strings
		for _, k := range keys {
			dst, _ = appendBencode(dst, k)
			var err error
			if dst, err = appendBencode(dst, v[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	}
	return dst, fmt.Errorf("%w: cannot encode %T", errBencode, v)
}

// decodeBencode decodes one value that must fill b exactly.
func decodeBencode(b []byte) (any, error) {
	v, rest, err := decodeBencodeValue(b, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the value", errBencode, len(rest))
	}
	return v, nil
}

func decodeBencodeValue(b []byte, depth int) (any, []byte, error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: unexpected end", errBencode)
	}
	if depth > maxBencodeDepth {
		return nil, nil, fmt.Errorf("%w: nested too deep", errBencode)
	}
	switch c := b[0]; {
	case c == 'i':
		end := bytes.IndexByte(b, 'e')
		if end < 0 {
			return nil, nil, fmt.Errorf("%w: unterminated integer", errBencode)
		}
		digits := b[1:end]
		// BEP 3: no leading zeros, no "-0".
		if len(digits) == 0 || digits[0] == '+' || (len(digits) > 1 && digits[0] == '0') ||
			(digits[0] == '-' && (len(digits) == 1 || digits[1] == '0')) {
			return nil, nil, fmt.Errorf("%w: bad integer %q", errBencode, digits)
		}
		n, err := strconv.ParseInt(string(digits), 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: bad integer %q", errBencode, digits)
		}
		return n, b[end+1:], nil
	case c >= '0' && c <= '9':
		s, rest, err := decodeBencodeString(b)
		return s, rest, err
	case c == 'l':
		list := []any{}
		b = b[1:]
		for len(b) > 0 && b[0] != 'e' {
			v, rest, err := decodeBencodeValue(b, depth+1)
			if err != nil {
				return nil, nil, err
			}
			list, b = append(list, v), rest
		}
		if len(b) == 0 {
			return nil, nil, fmt.Errorf("%w: unterminated list", errBencode)
		}
		return list, b[1:], nil
	case c == 'd':
		dict := map[string]any{}
		b = b[1:]
		for len(b) > 0 && b[0] != 'e' {
			k, rest, err := decodeBencodeString(b)
			if err != nil {
				return nil, nil, err
			}
			v, rest, err := decodeBencodeValue(rest, depth+1)
			if err != nil {
				return nil, nil, err
			}
			dict[k], b = v, rest // rtpengine does not sort its keys: any order, the last one wins
		}
		if len(b) == 0 {
			return nil, nil, fmt.Errorf("%w: unterminated dictionary", errBencode)
		}
		return dict, b[1:], nil
	}
	return nil, nil, fmt.Errorf("%w: unexpected byte %q", errBencode, b[0])
}

func decodeBencodeString(b []byte) (string, []byte, error) {
	colon := bytes.IndexByte(b, ':')
	if colon <= 0 || colon > 10 || (colon > 1 && b[0] == '0') {
		return "", nil, fmt.Errorf("%w: bad string length", errBencode)
	}
	n := 0
	for _, c := range b[:colon] {
		if c < '0' || c > '9' {
			return "", nil, fmt.Errorf("%w: bad string length", errBencode)
		}
		n = n*10 + int(c-'0')
	}
	if n > len(b)-colon-1 {
		return "", nil, fmt.Errorf("%w: string past the end", errBencode)
	}
	return string(b[colon+1 : colon+1+n]), b[colon+1+n:], nil
}
