package edge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

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
