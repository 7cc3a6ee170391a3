package users

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"go.uber.org/zap"
)

func kidOf(t *testing.T, token string) string {
	t.Helper()
	msg, err := jws.ParseString(token)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
	return kid
}

func kids(set jwk.Set) []string {
	var out []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid, _ := k.KeyID()
		out = append(out, kid)
	}
	return out
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw")
	old, _, err := f.svc.IssueAccessToken("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	oldKid := kidOf(t, old)

	f.clock.Advance(5 * time.Minute)
	newKid, err := f.svc.RotateKeys()
	if err != nil {
		t.Fatal(err)
	}
	if newKid == oldKid || newKid == "" {
		t.Fatalf("RotateKeys gave kid %q (old %q)", newKid, oldKid)
	}
	fresh, _, err := f.svc.IssueAccessToken("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, fresh) != newKid {
		t.Fatalf("new token signed by %q, want %q", kidOf(t, fresh), newKid)
	}
	if got := kids(f.jwks(t)); len(got) != 2 {
		t.Fatalf("JWKS after rotation: %q, want both keys", got)
	}
	for _, tok := range []string{old, fresh} {
		if _, err := f.verify(t, tok); err != nil {
			t.Fatalf("token of kid %q does not verify after rotation: %v", kidOf(t, tok), err)
		}
	}

	// AccessTTL after the rotation every token of the old key has expired:
	// the key leaves the JWKS, and the store.
	f.clock.Advance(15*time.Minute - time.Second)
	if got := kids(f.jwks(t)); len(got) != 2 {
		t.Fatalf("old key pruned early: %q", got)
	}
	f.clock.Advance(time.Second)
	if got := kids(f.jwks(t)); len(got) != 1 || got[0] != newKid {
		t.Fatalf("JWKS after AccessTTL: %q, want only %q", got, newKid)
	}
	if _, err := f.st.Load(KindSigningKeys, oldKid); err == nil {
		// The delete is asynchronous: a rotation's commit orders after it.
		if _, err := f.svc.RotateKeys(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Load(KindSigningKeys, oldKid); err == nil {
			t.Fatal("pruned key still in the store")
		}
	}
}

func TestKeysPersist(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw")
	tok, _, err := f.svc.IssueAccessToken("alice", []string{"sip:register"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RotateKeys(); err != nil {
		t.Fatal(err)
	}
	// A second service over the same store (a restart) has the same ring.
	again, err := New(f.st, f.cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := kids(f.svc.PublicKeys()), kids(again.PublicKeys()); len(a) != 2 || a[0] != b[0] || a[1] != b[1] {
		t.Fatalf("after restart %q, before %q", b, a)
	}
	if again.signer().kid != f.svc.signer().kid {
		t.Fatal("restart changed the signing key")
	}
	if _, err := again.parseAccess(tok); err != nil {
		t.Fatalf("token from before the restart: %v", err)
	}
}

func TestJWKSEndpoint(t *testing.T) {
	f := newFixture(t, nil, nil)
	resp, err := f.srv.Client().Get(f.srv.URL + PathJWKS)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Cache-Control") != "max-age=300" {
		t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
	if bytes.Contains(body, []byte(`"d"`)) {
		t.Fatalf("JWKS carries a private key: %s", body)
	}
	set, err := jwk.Parse(body)
	if err != nil || set.Len() != 1 {
		t.Fatalf("JWKS %s: %v", body, err)
	}
	k, _ := set.Key(0)
	kid, _ := k.KeyID()
	alg, _ := k.Algorithm()
	thumb, _ := k.Thumbprint(crypto.SHA256)
	if alg.String() != "ES256" || kid == "" || kid != base64.RawURLEncoding.EncodeToString(thumb) {
		t.Fatalf("key kid=%q alg=%v: want ES256 and the RFC 7638 thumbprint", kid, alg)
	}
	if private, _ := jwk.IsPrivateKey(k); private {
		t.Fatal("served key is private")
	}
}

func TestIssueAccessToken(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw", "sip:register")
	f.addUser(t, "off", "pw")
	_ = f.svc.SetDisabled("off", true)
	tok, exp, err := f.svc.IssueAccessToken("alice", nil)
	if err != nil || !exp.Equal(f.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("IssueAccessToken: %v, exp %v", err, exp)
	}
	parsed, err := f.verify(t, tok)
	if err != nil {
		t.Fatal(err)
	}
	var cid string
	_ = parsed.Get("client_id", &cid)
	if cid != CLIClientID {
		t.Fatalf("client_id = %q", cid)
	}
	for _, tc := range []struct {
		user   string
		scopes []string
		want   error
	}{
		{"bob", nil, ErrNoSuchUser},
		{"off", nil, ErrUserDisabled},
		{"alice", []string{"sip:call"}, ErrInvalidScope},
		{"alice", []string{"bad scope"}, ErrInvalidScope},
	} {
		if _, _, err := f.svc.IssueAccessToken(tc.user, tc.scopes); !errors.Is(err, tc.want) {
			t.Errorf("IssueAccessToken(%q, %q) = %v, want %v", tc.user, tc.scopes, err, tc.want)
		}
	}
}
