package config

import "testing"

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true},
		{"1024", 1024, true},
		{"800MiB", 800 << 20, true},
		{"2 GiB", 2 << 30, true},
		{"512kib", 512 << 10, true},
		{"1GB", 1e9, true},
		{"10MB", 10e6, true},
		{"7B", 7, true},
		{"-1", 0, false},
		{"lots", 0, false},
		{"1.5GiB", 0, false},
		{"99999999999GiB", 0, false},
	} {
		got, err := ParseBytes(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}
