package users

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/b2bua/b2bua/auth"
)

func TestAddUser(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "taken", "pw")
	tests := []struct {
		name, user, password string
		scopes               []string
		want                 error
	}{
		{"plain", "alice", "pw", nil, nil},
		{"sip user-unreserved", "bob.smith-1_(x)&=+$,!~*'", "pw", nil, nil},
		{"explicit scopes", "carol", "pw", []string{auth.ScopeRegister}, nil},
		{"duplicate", "taken", "other", nil, ErrUserExists},
		{"empty name", "", "pw", nil, ErrInvalidName},
		{"at sign", "a@b", "pw", nil, ErrInvalidName},
		{"colon", "a:b", "pw", nil, ErrInvalidName},
		{"semicolon", "a;b", "pw", nil, ErrInvalidName},
		{"space", "a b", "pw", nil, ErrInvalidName},
		{"question mark", "a?b", "pw", nil, ErrInvalidName},
		{"escape", "a%40b", "pw", nil, ErrInvalidName},
		{"non-ascii", "jürgen", "pw", nil, ErrInvalidName},
		{"control", "a\nb", "pw", nil, ErrInvalidName},
		{"too long", strings.Repeat("a", maxNameLen+1), "pw", nil, ErrInvalidName},
		{"empty password", "dave", "", nil, ErrEmptyPassword},
		{"bad scope", "erin", "pw", []string{"sip register"}, ErrInvalidScope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := f.svc.AddUser(tc.user, tc.password, tc.scopes)
			if !errors.Is(err, tc.want) {
				t.Fatalf("AddUser(%q) = %v, want %v", tc.user, err, tc.want)
			}
		})
	}
	list, err := f.svc.Users()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list {
		names = append(names, u.Name)
	}
	want := []string{"alice", "bob.smith-1_(x)&=+$,!~*'", "carol", "taken"}
	if !slices.Equal(names, want) {
		t.Fatalf("Users() = %q, want %q", names, want)
	}
	if got := list[0].Scopes; !slices.Equal(got, []string{"sip:call", "sip:presence", "sip:register"}) {
		t.Errorf("default scopes = %q", got)
	}
	if got := list[2].Scopes; !slices.Equal(got, []string{auth.ScopeRegister}) {
		t.Errorf("carol's scopes = %q", got)
	}
	if !list[0].Created.Equal(f.clock.Now()) {
		t.Errorf("Created = %v, want %v", list[0].Created, f.clock.Now())
	}
}

func TestUserLifecycle(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "old")
	steps := []struct {
		name string
		op   func() error
		want error
	}{
		{"passwd", func() error { return f.svc.SetPassword("alice", "new") }, nil},
		{"passwd empty", func() error { return f.svc.SetPassword("alice", "") }, ErrEmptyPassword},
		{"passwd unknown", func() error { return f.svc.SetPassword("nobody", "x") }, ErrNoSuchUser},
		{"disable", func() error { return f.svc.SetDisabled("alice", true) }, nil},
		{"disable unknown", func() error { return f.svc.SetDisabled("nobody", true) }, ErrNoSuchUser},
		{"enable", func() error { return f.svc.SetDisabled("alice", false) }, nil},
		{"del unknown", func() error { return f.svc.DeleteUser("nobody") }, ErrNoSuchUser},
	}
	for _, st := range steps {
		if err := st.op(); !errors.Is(err, st.want) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.want)
		}
	}
	rec, err := f.svc.lookup("alice")
	if err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]bool{"new": true, "old": false} {
		if ok, err := verifyPassword(rec.PHC, pw); err != nil || ok != want {
			t.Errorf("verify %q = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if err := f.svc.SetDisabled("alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.lookup("alice"); !errors.Is(err, ErrUserDisabled) {
		t.Fatalf("lookup of a disabled user: %v", err)
	}
	if list, _ := f.svc.Users(); len(list) != 1 || !list[0].Disabled {
		t.Fatalf("Users() = %+v, want alice disabled", list)
	}
	if err := f.svc.DeleteUser("alice"); err != nil {
		t.Fatal(err)
	}
	if list, _ := f.svc.Users(); len(list) != 0 {
		t.Fatalf("Users() after delete = %+v", list)
	}
	if err := f.svc.AddUser("alice", "again", nil); err != nil {
		t.Fatalf("re-adding a deleted name: %v", err)
	}
}

// phcRE is the argon2id PHC string format.
var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestStoredRecordHasNoPlainPassword(t *testing.T) {
	f := newFixture(t, nil, nil)
	const password = "correct horse battery staple"
	f.addUser(t, "alice", password)
	raw, err := f.st.Load(KindUsers, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(password)) || bytes.Contains(raw, []byte("horse")) {
		t.Fatalf("stored record contains the password: %s", raw)
	}
	var rec userRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if !phcRE.MatchString(rec.PHC) {
		t.Fatalf("PHC = %q, not argon2id PHC format", rec.PHC)
	}
	if ok, err := verifyPassword(rec.PHC, password); !ok || err != nil {
		t.Fatalf("stored PHC does not verify: %v %v", ok, err)
	}
	if ok, _ := verifyPassword(rec.PHC, password+"!"); ok {
		t.Fatal("stored PHC verifies a wrong password")
	}
}

func TestHashDefaultsAreOWASP(t *testing.T) {
	phc, err := hashPassword("pw", HashParams{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") || !phcRE.MatchString(phc) {
		t.Fatalf("PHC = %q", phc)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=0,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$"} {
		if _, err := verifyPassword(bad, "pw"); !errors.Is(err, errBadPHC) {
			t.Errorf("verifyPassword(%q) = %v, want errBadPHC", bad, err)
		}
	}
}

func TestDigestHA1(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "secret")
	f.addUser(t, "mallory", "x")
	if err := f.svc.SetDisabled("mallory", true); err != nil {
		t.Fatal(err)
	}
	md := md5.Sum([]byte("alice:localhost:secret"))
	sh := sha256.Sum256([]byte("alice:localhost:secret"))
	tests := []struct {
		user, realm, alg, want string
		err                    error
	}{
		{"alice", "localhost", "", hex.EncodeToString(md[:]), nil},
		{"alice", "localhost", "MD5", hex.EncodeToString(md[:]), nil},
		{"alice", "localhost", "md5-sess", hex.EncodeToString(md[:]), nil},
		{"alice", "localhost", "SHA-256", hex.EncodeToString(sh[:]), nil},
		{"alice", "localhost", "SHA-256-sess", hex.EncodeToString(sh[:]), nil},
		{"alice", "example.com", "MD5", "", auth.ErrBadCredentials},
		{"alice", "localhost", "SHA-512-256", "", auth.ErrBadCredentials},
		{"bob", "localhost", "MD5", "", auth.ErrBadCredentials},
		{"mallory", "localhost", "MD5", "", auth.ErrBadCredentials},
	}
	for _, tc := range tests {
		got, err := f.svc.DigestHA1(tc.user, tc.realm, tc.alg)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("DigestHA1(%q, %q, %q) = %q, %v; want %q, %v", tc.user, tc.realm, tc.alg, got, err, tc.want, tc.err)
		}
	}
}

// TestPasswordsNeverLogged runs every path that handles a password with an
// observed logger at debug level and looks for the password in the output.
func TestPasswordsNeverLogged(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	f := newFixture(t, zap.New(core), nil)
	const pw1, pw2 = "first-Pa55word", "second-Pa55word"
	f.addUser(t, "alice", pw1)
	if err := f.svc.SetPassword("alice", pw2); err != nil {
		t.Fatal(err)
	}
	ok := f.login(t, "alice", pw2, "")
	f.login(t, "alice", pw1, "")
	f.refresh(t, ok.str("refresh_token"))
	f.refresh(t, ok.str("refresh_token")) // reuse
	if logs.Len() == 0 {
		t.Fatal("nothing logged")
	}
	for _, e := range logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		s := e.Message + string(line)
		for _, secret := range []string{pw1, pw2, ok.str("refresh_token"), ok.str("access_token")} {
			if strings.Contains(s, secret) {
				t.Fatalf("log entry %q contains a secret", s)
			}
		}
	}
}
