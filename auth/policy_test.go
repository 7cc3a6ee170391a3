package auth

import (
	"errors"
	"testing"
)

func TestChallengePolicySelect(t *testing.T) {
	configured, err := ParseChallengePolicy([]string{
		"ua:MyBearerApp/*=full", "ua:*Linphone*=phone", "domain:trunk.example=full", "default=phone",
	})
	if err != nil {
		t.Fatal(err)
	}
	ua := func(s string) ChallengeRequest {
		return ChallengeRequest{UserAgent: s, HasUserAgent: true, Domain: "localhost"}
	}
	tests := []struct {
		name   string
		policy *ChallengePolicy
		req    ChallengeRequest
		want   ChallengeProfile
	}{
		{"nil policy, baresip", nil, ua("baresip v1.0.0 (x86_64/linux)"), ProfilePhone},
		{"default, linphone", &ChallengePolicy{}, ua("Linphone Desktop/5.1.2 (Debian) LinphoneCore/5.1.2"), ProfilePhone},
		{"default, sipsak", &ChallengePolicy{}, ua("sipsak 0.9.8.1"), ProfilePhone},
		{"default, no User-Agent", &ChallengePolicy{}, ChallengeRequest{Domain: "localhost"}, ProfileFull},
		{"default, empty User-Agent", &ChallengePolicy{}, ChallengeRequest{HasUserAgent: true}, ProfilePhone},
		{"bearer token always full", &ChallengePolicy{Default: ProfilePhone},
			ChallengeRequest{UserAgent: "baresip", HasUserAgent: true, Bearer: true}, ProfileFull},
		{"ua rule", configured, ua("MyBearerApp/2.0"), ProfileFull},
		{"ua rule case-insensitive", configured, ua("mybearerapp/2.0"), ProfileFull},
		{"ua rule needs its prefix", configured, ua("NotMyBearerApp/2.0"), ProfilePhone},
		{"first rule wins", configured, ua("MyBearerApp/1 Linphone"), ProfileFull},
		{"domain rule", configured, ChallengeRequest{UserAgent: "x", HasUserAgent: true, Domain: "Trunk.Example"}, ProfileFull},
		{"configured default", configured, ChallengeRequest{Domain: "localhost"}, ProfilePhone},
		{"full default", &ChallengePolicy{Default: ProfileFull}, ua("baresip"), ProfileFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Select(tt.req); got != tt.want {
				t.Fatalf("Select(%+v) = %v, want %v", tt.req, got, tt.want)
			}
		})
	}
}

func TestParseChallengePolicy(t *testing.T) {
	tests := []struct {
		rules []string
		want  ChallengePolicy
		err   bool
	}{
		{rules: nil, want: ChallengePolicy{}},
		{rules: []string{"default=full"}, want: ChallengePolicy{Default: ProfileFull}},
		{rules: []string{" ua: My App/* = PHONE "}, want: ChallengePolicy{Rules: []ChallengeRule{{UserAgent: "My App/*", Profile: ProfilePhone}}}},
		{rules: []string{"ua:a=b=full"}, want: ChallengePolicy{Rules: []ChallengeRule{{UserAgent: "a=b", Profile: ProfileFull}}}},
		{rules: []string{"domain:example.org=auto"}, want: ChallengePolicy{Rules: []ChallengeRule{{Domain: "example.org", Profile: ProfileAuto}}}},
		{rules: []string{"full"}, err: true},
		{rules: []string{"ua:x=bearer"}, err: true},
		{rules: []string{"ua:=full"}, err: true},
		{rules: []string{"listener:udp=full"}, err: true},
	}
	for _, tt := range tests {
		got, err := ParseChallengePolicy(tt.rules)
		if tt.err {
			if !errors.Is(err, ErrBadChallengeRule) {
				t.Errorf("%q: err = %v, want ErrBadChallengeRule", tt.rules, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.rules, err)
			continue
		}
		if got.Default != tt.want.Default || len(got.Rules) != len(tt.want.Rules) {
			t.Errorf("%q = %+v, want %+v", tt.rules, got, tt.want)
			continue
		}
		for i := range got.Rules {
			if got.Rules[i] != tt.want.Rules[i] {
				t.Errorf("%q rule %d = %+v, want %+v", tt.rules, i, got.Rules[i], tt.want.Rules[i])
			}
		}
	}
}

func TestGlobFold(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything/1.0", true},
		{"baresip*", "baresip v1.0.0", true},
		{"BARESIP*", "baresip v1.0.0", true},
		{"*linphone*", "Linphone Desktop/5.1", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"abc", "abcd", false},
		{"abc*", "ab", false},
		{"*/5.*", "Linphone/5.1", true},
		{"**x", "yyx", true},
	}
	for _, tt := range tests {
		if got := globFold(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globFold(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
