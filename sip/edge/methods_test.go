package edge

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/auth"
)

// TestMethodTable checks what is derived from the method table against
// the table itself, row by row.
func TestMethodTable(t *testing.T) {
	allowed := strings.Split(allow, ", ")
	scopes := DefaultScopes()
	for i, m := range table() {
		t.Run(string(m.name), func(t *testing.T) {
			if allowed[i] != string(m.name) {
				t.Errorf("Allow[%d] = %q", i, allowed[i])
			}
			if got := statelessMethod([]byte(string(m.name) + " sip:localhost SIP/2.0\r\n")); got != m.stateless {
				t.Errorf("read filter takes it: %v, table says %v", got, m.stateless)
			}
			if scopes[string(m.name)] != m.scope {
				t.Errorf("scope %q, table says %q", scopes[string(m.name)], m.scope)
			}
			toServer := sip.NewRequest(m.name, sip.Uri{Scheme: "sip", Host: "localhost"})
			toUser := sip.NewRequest(m.name, sip.Uri{Scheme: "sip", User: "alice", Host: "localhost"})
			if exempt(toServer) != (m.exempt != challenged) || exempt(toUser) != (m.exempt == exemptAlways) {
				t.Errorf("exempt to the server %v, to a user %v; table says %v", exempt(toServer), exempt(toUser), m.exempt)
			}
			if metricLabel(m.name) != string(m.name) {
				t.Errorf("label %q", metricLabel(m.name))
			}
			if (m.serve == nil) != (m.name == sip.ACK) {
				t.Error("only ACK goes without a handler")
			}
		})
	}
	for _, other := range []sip.RequestMethod{"FOO", "register", "invite"} {
		if metricLabel(other) != "other" || statelessMethod([]byte(string(other)+" sip:x SIP/2.0")) {
			t.Errorf("%s is not in the table", other)
		}
	}
}

// TestExempt: which requests go unchallenged. Only an OPTIONS to the
// server itself does among the OPTIONS: one to a user is forwarded, and
// needs an identity.
func TestExempt(t *testing.T) {
	tests := []struct {
		method sip.RequestMethod
		user   string
		want   bool
	}{
		{sip.OPTIONS, "", true},
		{sip.OPTIONS, "alice", false},
		{sip.ACK, "alice", true},
		{sip.CANCEL, "", true},
		{sip.CANCEL, "alice", true},
		{sip.REGISTER, "", false},
		{sip.BYE, "alice", false},
		{"FOO", "", false},
	}
	for _, tc := range tests {
		t.Run(string(tc.method)+"/"+tc.user, func(t *testing.T) {
			req := sip.NewRequest(tc.method, sip.Uri{Scheme: "sip", User: tc.user, Host: "localhost"})
			if got := exempt(req); got != tc.want {
				t.Fatalf("exempt = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestScopesAgree: auth documents the default scope of every method
// (auth.DefaultScopes, including methods the edge does not serve yet); the
// table must not drift from it.
func TestScopesAgree(t *testing.T) {
	documented := auth.DefaultScopes()
	for _, m := range table() {
		if documented[string(m.name)] != m.scope {
			t.Errorf("%s: table scope %q, auth.DefaultScopes %q", m.name, m.scope, documented[string(m.name)])
		}
	}
}

// TestRelayStatus: a contact's 503 goes upstream as 500 (RFC 3261 §16.7
// step 6); everything else as it came.
func TestRelayStatus(t *testing.T) {
	for _, tc := range []struct {
		code   int
		reason string
		want   int
	}{{200, "OK", 200}, {486, "Busy Here", 486}, {503, "Service Unavailable", 500}, {408, "Request Timeout", 408}} {
		if got, _ := relayStatus(tc.code, tc.reason); got != tc.want {
			t.Errorf("relayStatus(%d) = %d, want %d", tc.code, got, tc.want)
		}
	}
}
