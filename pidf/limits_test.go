package pidf

import (
	"strings"
	"testing"
	"time"
)

const presenceOpen = `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b">`

func TestLimits(t *testing.T) {
	billionLaughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
		`<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` +
		presenceOpen + `<note>&lol3;</note></presence>`
	external := `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
		presenceOpen + `<note>&xxe;</note></presence>`
	deep := presenceOpen + strings.Repeat("<x:a xmlns:x=\"urn:x\">", 40) + strings.Repeat("</x:a>", 40) + `</presence>`
	many := presenceOpen + strings.Repeat(`<tuple id="t"><status/></tuple>`, 1100) + `</presence>`
	large := presenceOpen + `<note>` + strings.Repeat("a", 70<<10) + `</note></presence>`
	tests := []struct {
		name string
		lim  Limits
		in   string
		want error
	}{
		{"billion laughs", Limits{}, billionLaughs, ErrMalformed},
		{"external entity", Limits{}, external, ErrMalformed},
		{"deep", Limits{}, deep, ErrTooDeep},
		{"deep but allowed", Limits{MaxDepth: 50}, deep, nil},
		{"many elements", Limits{}, many, ErrTooManyElements},
		{"many but allowed", Limits{MaxElements: 5000}, many, nil},
		{"too large", Limits{}, large, ErrTooLarge},
		{"large but allowed", Limits{MaxBytes: 1 << 20}, large, nil},
		{"truncated", Limits{}, presenceOpen + `<tuple id="t"><sta`, ErrMalformed},
		{"truncated root", Limits{}, presenceOpen, ErrMalformed},
		{"unclosed deep", Limits{}, presenceOpen + strings.Repeat("<note>", 20), ErrMalformed},
		{"mismatched", Limits{}, presenceOpen + `</tuple>`, ErrMalformed},
		{"nul byte", Limits{}, presenceOpen + "<note>\x00</note></presence>", ErrMalformed},
		{"bad utf-8", Limits{}, presenceOpen + "<note>\xff</note></presence>", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := tc.lim.Parse([]byte(tc.in))
			if tc.want == nil && err != nil || tc.want != nil && !errorsIs(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestLimitsWatcherInfo: the watcherinfo decoder goes through the same limits.
func TestLimitsWatcherInfo(t *testing.T) {
	deep := `<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="0" state="full">` +
		strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + `</watcherinfo>`
	if _, err := ParseWatcherInfo([]byte(deep)); !errorsIs(err, ErrTooDeep) {
		t.Errorf("deep: %v", err)
	}
	if _, err := (Limits{MaxBytes: 10}).ParseWatcherInfo([]byte(deep)); !errorsIs(err, ErrTooLarge) {
		t.Errorf("large: %v", err)
	}
}

// TestLimitsDefaults: a zero Limits is DefaultLimits.
func TestLimitsDefaults(t *testing.T) {
	if got := (Limits{}).withDefaults(); got != DefaultLimits {
		t.Errorf("got %+v", got)
	}
	if got := (Limits{MaxBytes: 5}).withDefaults(); got.MaxBytes != 5 || got.MaxDepth != DefaultLimits.MaxDepth {
		t.Errorf("got %+v", got)
	}
}
