package users

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/auth"
)

// User is a user account as the management API shows it: no credentials.
type User struct {
	Name     string
	Scopes   []string
	Disabled bool
	Created  time.Time
}

// userRecord is what the users bucket holds under the user's name.
type userRecord struct {
	Name     string    `json:"name"`
	Scopes   []string  `json:"scopes"`
	Disabled bool      `json:"disabled,omitempty"`
	Created  time.Time `json:"created"`
	// PHC is the argon2id hash in PHC string format.
	PHC string `json:"phc"`
	// HA1MD5 and HA1SHA256 are H(name:realm:password) for Digest, with
	// realm = Config.Domain at the time the password was set.
	HA1MD5    string `json:"ha1_md5"`
	HA1SHA256 string `json:"ha1_sha256"`
	Realm     string `json:"realm"`
}

func (r *userRecord) user() User {
	return User{Name: r.Name, Scopes: slices.Clone(r.Scopes), Disabled: r.Disabled, Created: r.Created}
}

// maxNameLen bounds a user name; SIP sets no limit, store keys and logs do.
const maxNameLen = 64

// ValidName reports whether name can be a user: a non-empty SIP user part
// (RFC 3261 §25.1) made of unreserved characters and the user-unreserved
// "&=+$,", without escapes, so that sip:name@domain needs no quoting and
// name:realm:password (Digest HA1) stays unambiguous.
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-_.!~*'()&=+$,", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// SIPURI returns the address-of-record of user name: sip:name@domain.
func (s *Service) SIPURI(name string) string {
	return "sip:" + name + "@" + strings.ToLower(s.cfg.Domain)
}

// AddUser creates user name with password and scopes (nil: the configured
// default scopes). It returns ErrUserExists, ErrInvalidName,
// ErrEmptyPassword or ErrInvalidScope.
func (s *Service) AddUser(name, password string, scopes []string) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	if password == "" {
		return ErrEmptyPassword
	}
	if scopes == nil {
		scopes = s.cfg.DefaultScopes
	}
	if err := validScopes(scopes); err != nil {
		return err
	}
	rec := &userRecord{Name: name, Scopes: slices.Compact(slices.Sorted(slices.Values(scopes))),
		Created: s.now().UTC()}
	if err := s.setCredentials(rec, password); err != nil {
		return err
	}
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	var old userRecord
	if found, err := s.load(KindUsers, name, &old); err != nil {
		return err
	} else if found {
		return fmt.Errorf("%w: %q", ErrUserExists, name)
	}
	if err := s.commit(write{KindUsers, name, rec}); err != nil {
		return err
	}
	s.log.Info("user added", zap.String("user", name), zap.Strings("scopes", rec.Scopes))
	return nil
}

// setCredentials hashes password into rec: the argon2id hash and the HA1s.
// It runs before usersMu is taken, since hashing is the slow part.
func (s *Service) setCredentials(rec *userRecord, password string) error {
	phc, err := s.hash(password)
	if err != nil {
		return err
	}
	rec.PHC = phc
	rec.Realm = s.cfg.Domain
	rec.HA1MD5, rec.HA1SHA256 = ha1(rec.Name, rec.Realm, password)
	return nil
}

// SetPassword replaces the password of user name and revokes the user's
// refresh tokens. It returns ErrNoSuchUser or ErrEmptyPassword.
func (s *Service) SetPassword(name, password string) error {
	if password == "" {
		return ErrEmptyPassword
	}
	fresh := &userRecord{Name: name}
	if err := s.setCredentials(fresh, password); err != nil {
		return err
	}
	err := s.update(name, func(rec *userRecord) {
		rec.PHC, rec.Realm, rec.HA1MD5, rec.HA1SHA256 = fresh.PHC, fresh.Realm, fresh.HA1MD5, fresh.HA1SHA256
	})
	if err != nil {
		return err
	}
	s.log.Info("password changed", zap.String("user", name))
	return s.revokeUserTokens(name)
}

// SetDisabled disables or enables user name. A disabled user gets no
// tokens, fails Digest and loses its refresh tokens; access tokens already
// issued stay valid at the SIP edge until they expire, introspection
// answers inactive for them at once. It returns ErrNoSuchUser.
func (s *Service) SetDisabled(name string, disabled bool) error {
	if err := s.update(name, func(rec *userRecord) { rec.Disabled = disabled }); err != nil {
		return err
	}
	s.log.Info("user disabled state set", zap.String("user", name), zap.Bool("disabled", disabled))
	if !disabled {
		return nil
	}
	return s.revokeUserTokens(name)
}

// update applies fn to the record of name under usersMu and saves it.
func (s *Service) update(name string, fn func(*userRecord)) error {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	var rec userRecord
	found, err := s.load(KindUsers, name, &rec)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %q", ErrNoSuchUser, name)
	}
	fn(&rec)
	return s.commit(write{KindUsers, name, &rec})
}

// DeleteUser removes user name and its refresh tokens. It returns
// ErrNoSuchUser.
func (s *Service) DeleteUser(name string) error {
	s.usersMu.Lock()
	var rec userRecord
	found, err := s.load(KindUsers, name, &rec)
	if err == nil && !found {
		err = fmt.Errorf("%w: %q", ErrNoSuchUser, name)
	}
	if err == nil {
		err = s.commit(write{kind: KindUsers, key: name})
	}
	s.usersMu.Unlock()
	if err != nil {
		return err
	}
	s.log.Info("user deleted", zap.String("user", name))
	return s.revokeUserTokens(name)
}

// Users returns every user, ordered by name.
func (s *Service) Users() ([]User, error) {
	var out []User
	err := s.st.Scan(KindUsers, func(_ string, val []byte) error {
		var rec userRecord
		if err := json.Unmarshal(val, &rec); err != nil {
			return err
		}
		out = append(out, rec.user())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("users: list: %w", err)
	}
	return out, nil
}

// lookup returns the record of an enabled user, or ErrNoSuchUser /
// ErrUserDisabled.
func (s *Service) lookup(name string) (*userRecord, error) {
	var rec userRecord
	found, err := s.load(KindUsers, name, &rec)
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, fmt.Errorf("%w: %q", ErrNoSuchUser, name)
	case rec.Disabled:
		return nil, fmt.Errorf("%w: %q", ErrUserDisabled, name)
	}
	return &rec, nil
}

// DigestHA1 returns the stored HA1 of username for auth/digest, hex
// encoded: H(username:realm:password) with MD5 for algorithm "", "MD5" and
// "MD5-sess", SHA-256 for "SHA-256" and "SHA-256-sess" (RFC 7616 §3.4.2;
// the -sess variants hash this value again with the nonces). It returns
// auth.ErrBadCredentials for an unknown or disabled user, a realm other
// than the Domain the password was set under, or another algorithm, and
// auth.ErrUnavailable when the store fails.
func (s *Service) DigestHA1(username, realm, algorithm string) (string, error) {
	rec, err := s.lookup(username)
	if errors.Is(err, ErrNoSuchUser) || errors.Is(err, ErrUserDisabled) {
		return "", fmt.Errorf("%w: %w", auth.ErrBadCredentials, err)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", auth.ErrUnavailable, err)
	}
	if realm != rec.Realm {
		return "", fmt.Errorf("%w: realm %q", auth.ErrBadCredentials, realm)
	}
	switch strings.ToUpper(algorithm) {
	case "", "MD5", "MD5-SESS":
		return rec.HA1MD5, nil
	case "SHA-256", "SHA-256-SESS":
		return rec.HA1SHA256, nil
	}
	return "", fmt.Errorf("%w: unsupported algorithm %q", auth.ErrBadCredentials, algorithm)
}

// Has reports whether name is an enabled user (false too when the store
// cannot be read).
func (s *Service) Has(name string) bool {
	_, err := s.lookup(name)
	return err == nil
}
