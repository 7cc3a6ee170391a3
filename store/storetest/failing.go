// Package storetest has stores for tests: a wrapper that fails on demand, to
// prove that nothing unsaved is ever acknowledged.
package storetest

import (
	"errors"
	"sync/atomic"

	"github.com/b2bua/b2bua/store"
)

// ErrInjected is the error a Failing store returns while failing.
var ErrInjected = errors.New("storetest: injected write failure")

// Failing wraps a real Store; while Fail is set, writes fail without
// reaching it.
type Failing struct {
	store.Store
	Fail atomic.Bool
}

// Save implements store.Store.
func (f *Failing) Save(kind store.Kind, key string, val []byte, done func(error)) {
	if f.Fail.Load() {
		done(ErrInjected)
		return
	}
	f.Store.Save(kind, key, val, done)
}

// Delete implements store.Store.
func (f *Failing) Delete(kind store.Kind, key string, done func(error)) {
	if f.Fail.Load() {
		done(ErrInjected)
		return
	}
	f.Store.Delete(kind, key, done)
}
