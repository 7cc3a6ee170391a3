package edge_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/auth/digest"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
)

// refusingBearer refuses every token as invalid.
type refusingBearer struct{}

func (refusingBearer) Verify(context.Context, string) (*auth.Identity, error) {
	return nil, auth.ErrInvalidToken
}

// TestChallengePolicy: which WWW-Authenticate headers a 401 carries, per
// User-Agent, domain and credentials, on both transports, with Bearer and
// Digest (MD5, SHA-256) on. Phones must get MD5 Digest alone (issue 8 §6);
// RFC 8898 clients every challenge.
func TestChallengePolicy(t *testing.T) {
	const (
		md5    = "Digest realm=\"localhost\""
		bearer = "Bearer realm=\"localhost\""
	)
	ds, err := digest.New(digest.Config{Realm: "localhost", Secret: []byte("0123456789abcdef0123456789abcdef"),
		Algorithms: []string{"MD5", "SHA-256"}}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	policy, err := auth.ParseChallengePolicy([]string{"ua:MyBearerApp/*=full", "domain:phones.example=phone"})
	if err != nil {
		t.Fatal(err)
	}
	a := &edge.Auth{Digest: &digestOnly{server: ds, ha1: map[string]string{}}, Bearer: refusingBearer{},
		Scopes: auth.DefaultScopes(), Realm: "localhost", Policy: policy}
	s := startServerWith(t, a)
	tests := []struct {
		name    string
		headers []string
		domain  string
		want    []string // prefixes of the WWW-Authenticate values, in order
	}{
		{"baresip", []string{"User-Agent: baresip v1.0.0 (x86_64/linux)"}, "localhost", []string{md5 + ", nonce="}},
		{"linphone", []string{"User-Agent: Linphone Desktop/5.1.2 (Debian) LinphoneCore/5.1.2"}, "localhost", []string{md5}},
		{"no User-Agent", nil, "localhost", []string{md5, "Digest", bearer}},
		{"configured UA", []string{"User-Agent: MyBearerApp/1.0"}, "localhost", []string{md5, "Digest", bearer}},
		{"failed token", []string{"User-Agent: baresip", "Authorization: Bearer abc.def.ghi"}, "localhost",
			[]string{md5, "Digest", bearer}},
		{"domain rule", nil, "phones.example", []string{md5}},
	}
	for _, network := range []string{"udp", "tcp"} {
		for i, tc := range tests {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				c := s.dial(t, network)
				id := network + "-policy-" + string(rune('a'+i))
				lines := []string{
					"REGISTER sip:" + tc.domain + " SIP/2.0",
					"Via: SIP/2.0/" + strings.ToUpper(network) + " " + c.LocalAddr() + ";branch=z9hG4bK-" + id,
					"From: <sip:eve@" + tc.domain + ">;tag=1",
					"To: <sip:eve@" + tc.domain + ">",
					"Call-ID: " + id,
					"CSeq: 1 REGISTER",
					"Contact: <sip:eve@" + c.LocalAddr() + ">",
				}
				res, err := c.Do(siptest.Lines(append(append(lines, tc.headers...), "Content-Length: 0")...), 2*time.Second)
				if err != nil || siptest.Status(res) != 401 {
					t.Fatalf("%v\n%s", err, res)
				}
				got := siptest.Header(res, "WWW-Authenticate")
				if len(got) != len(tc.want) {
					t.Fatalf("%d challenges, want %d:\n%s", len(got), len(tc.want), res)
				}
				for j, w := range tc.want {
					if !strings.HasPrefix(got[j], w) {
						t.Fatalf("challenge %d = %q, want prefix %q", j, got[j], w)
					}
				}
				if len(got) == 1 && strings.Contains(got[0], "SHA-256") {
					t.Fatalf("a phone got a SHA-256 challenge: %q", got[0])
				}
			})
		}
	}
}

// TestFailedAuthLogging (issue 8 §7): each failed authentication is one
// debug line naming the AOR, the reason and the Digest username, never at
// info; the info log gets one summary with counts by reason (written at
// Close here, at most every 10 s in service); no line carries a token or
// an Authorization header.
func TestFailedAuthLogging(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	ds, err := digest.New(digest.Config{Realm: "localhost", Secret: []byte("0123456789abcdef0123456789abcdef")}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	a := &edge.Auth{Digest: &digestOnly{server: ds, ha1: map[string]string{}}, Bearer: refusingBearer{},
		Scopes: auth.DefaultScopes(), Realm: "localhost"}
	s := startServerOpts(t, options{auth: a, log: zap.New(core)})
	const (
		token    = "c2VjcmV0LXRva2Vu.c2VjcmV0.c2ln"
		response = "0123456789abcdef0123456789abcdef"
	)
	tests := []struct {
		name, authz, reason, user string
	}{
		{"no credentials", "", "no_credentials", ""},
		{"bad digest", `Digest username="mallory", realm="localhost", nonce="bm9uY2U", uri="sip:localhost", response="` + response + `"`,
			"", "mallory"},
		{"bad token", "Bearer " + token, "invalid_token", ""},
	}
	c := s.dial(t, "udp")
	for i, tc := range tests {
		id := fmt.Sprintf("authlog-%d", i)
		lines := []string{
			"REGISTER sip:localhost SIP/2.0",
			"Via: SIP/2.0/UDP " + c.LocalAddr() + ";branch=z9hG4bK-" + id,
			"From: <sip:eve@localhost>;tag=1",
			"To: <sip:eve@localhost>",
			"Call-ID: " + id,
			"CSeq: 1 REGISTER",
			"User-Agent: baresip",
		}
		if tc.authz != "" {
			lines = append(lines, "Authorization: "+tc.authz)
		}
		res, err := c.Do(siptest.Lines(append(lines, "Content-Length: 0")...), 2*time.Second)
		if err != nil || siptest.Status(res) != 401 {
			t.Fatalf("%s: %v\n%s", tc.name, err, res)
		}
	}
	if err := s.edge.Close(); err != nil {
		t.Fatal(err)
	}
	failed := logs.FilterMessage("authentication failed").AllUntimed()
	if len(failed) != len(tests) {
		t.Fatalf("%d failure lines, want %d", len(failed), len(tests))
	}
	for i, e := range failed {
		m := e.ContextMap()
		tc := tests[i]
		if e.Level != zap.DebugLevel || m["aor"] != "sip:eve@localhost" || m["method"] != "REGISTER" ||
			(tc.reason != "" && m["reason"] != tc.reason) || (tc.user != "" && m["user"] != tc.user) {
			t.Errorf("%s: %v %v", tc.name, e.Level, m)
		}
	}
	summary := logs.FilterMessage("authentication failures").AllUntimed()
	if len(summary) != 1 || summary[0].Level != zap.InfoLevel || summary[0].ContextMap()["total"] != int64(len(tests)) {
		t.Fatalf("summary: %+v", summary)
	}
	for _, e := range logs.AllUntimed() {
		if e.Level >= zap.InfoLevel && strings.Contains(e.Message, "authentication failed") {
			t.Errorf("a failure at %v", e.Level)
		}
		line := fmt.Sprint(e.Message, e.ContextMap())
		for _, secret := range []string{token, response, "Bearer ", "Digest "} {
			if strings.Contains(line, secret) {
				t.Errorf("log line carries %q: %s", secret, line)
			}
		}
	}
}
