package presence

import "testing"

func TestPolicyDecide(t *testing.T) {
	const alice = "sip:alice@example.com"
	cases := []struct {
		name    string
		p       Policy
		def     string
		watcher string
		want    SubState
	}{
		{"owner always", Policy{Block: []string{alice}}, PolicyApprove, alice, StateActive},
		{"same domain", Policy{}, PolicySameDomain, "sip:bob@example.com", StateActive},
		{"same domain is case-blind on the host", Policy{}, PolicySameDomain, "sip:bob@EXAMPLE.com", StateActive},
		{"foreign domain refused", Policy{}, PolicySameDomain, "sip:eve@evil.test", StateTerminated},
		{"foreign domain allowed by name", Policy{Allow: []string{"sip:eve@evil.test"}}, PolicySameDomain, "sip:eve@evil.test", StateActive},
		{"foreign domain allowed by domain", Policy{Allow: []string{"@evil.test"}}, PolicySameDomain, "sip:eve@evil.test", StateActive},
		{"block beats allow", Policy{Allow: []string{"@example.com"}, Block: []string{"sip:bob@example.com"}}, PolicyOpen, "sip:bob@example.com", StateTerminated},
		{"open", Policy{}, PolicyOpen, "sip:eve@evil.test", StateActive},
		{"approve keeps pending", Policy{}, PolicyApprove, "sip:bob@example.com", StatePending},
		{"approve with allow", Policy{Allow: []string{"sip:bob@example.com"}}, PolicyApprove, "sip:bob@example.com", StateActive},
		{"own mode beats the default", Policy{Mode: PolicyApprove}, PolicyOpen, "sip:bob@example.com", StatePending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.decide(alice, tc.watcher, tc.def); got != tc.want {
				t.Errorf("decide = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPolicyLevel(t *testing.T) {
	const alice = "sip:alice@example.com"
	p := Policy{
		Groups:     map[string][]string{"family": {"sip:mum@example.com"}, "work": {"@corp.test"}},
		Visibility: map[string]string{"sip:bob@example.com": LevelBasic, "group:family": LevelFull, "group:work": LevelBasic, "@example.com": LevelFull, "*": LevelBasic},
	}
	cases := []struct{ watcher, want string }{
		{alice, LevelFull},                     // the owner sees everything
		{"sip:bob@example.com", LevelBasic},    // own entry
		{"sip:mum@example.com", LevelFull},     // group
		{"sip:boss@corp.test", LevelBasic},     // group by domain
		{"sip:carol@example.com", LevelFull},   // domain
		{"sip:stranger@else.test", LevelBasic}, // everyone
	}
	for _, tc := range cases {
		if got := p.level(alice, tc.watcher, LevelFull); got != tc.want {
			t.Errorf("level(%s) = %s, want %s", tc.watcher, got, tc.want)
		}
	}
	if got := (&Policy{}).level(alice, "sip:x@y", LevelBasic); got != LevelBasic {
		t.Errorf("no entry: %s, want the default", got)
	}
	d := p.decided("sip:bob@example.com", DecisionBlock, LevelFull)
	if len(p.Block) != 0 || p.Visibility["sip:bob@example.com"] != LevelBasic {
		t.Error("decided changed its receiver")
	}
	if !matches(d.Block, "sip:bob@example.com") || d.Visibility["sip:bob@example.com"] != LevelFull {
		t.Errorf("decided = %+v", d)
	}
}
