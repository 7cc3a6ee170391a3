package messaging

import (
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/store"
)

// Directory says whether an AOR is a user a MESSAGE may be for: one the
// server answers 404 for otherwise. Known runs on the box's goroutine
// and must be quick (a store read, a map lookup).
type Directory interface {
	Known(aor string) bool
}

// AnyOf is the Directory that knows what any of its members knows.
type AnyOf []Directory

// Known implements Directory.
func (a AnyOf) Known(aor string) bool {
	for _, d := range a {
		if d != nil && d.Known(aor) {
			return true
		}
	}
	return false
}

// Registered is the Directory of the AORs that were registered once and
// have no contact now (see Saw), kept in
// KnownKind so it survives restarts. Saw writes an AOR once, the first
// time it is seen; later registrations only read.
type Registered struct {
	st  store.Store
	log *zap.Logger
}

// NewRegistered returns the Directory of registered AORs kept in st.
func NewRegistered(st store.Store, log *zap.Logger) *Registered {
	return &Registered{st: st, log: log}
}

// Known implements Directory.
func (r *Registered) Known(aor string) bool {
	if r == nil || r.st == nil {
		return false
	}
	_, err := r.st.Load(KnownKind, aor)
	return err == nil
}

var knownValue = []byte{'1'}

// Saw records that aor was registered. The registrar's hook calls it when
// an AOR's last contact goes (unregistered or expired), not on REGISTER:
// while an AOR has contacts the box knows it is a user from the registrar,
// and REGISTER stays free of a store read. It writes only when the AOR is
// new; Load sees queued writes, so two calls in a row write once.
func (r *Registered) Saw(aor string) {
	if r == nil || r.st == nil || r.Known(aor) {
		return
	}
	r.st.Save(KnownKind, aor, knownValue, func(err error) {
		if err != nil {
			r.log.Warn("known AOR not saved", zap.String("aor", aor), zap.Error(err))
		}
	})
}
