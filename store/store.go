// Package store is the persistence the actors write through to.
//
// Every kind of actor keeps its records in its own bucket, keyed by the
// actor's key (an AOR, a Call-ID). Reads are synchronous and cheap (bbolt
// serves them from its memory map). Writes are asynchronous and group
// committed: Save and Delete queue the change and call done once the batch
// holding it has committed, so an actor answers its client only after the
// write is durable, without one fsync per request (ARCHITECTURE.md, State and
// persistence).
package store

import (
	"errors"
)

// Kind names a bucket: one per actor kind.
type Kind string

// Store is what actors persist through. Implementations are safe for
// concurrent use.
type Store interface {
	// Load returns the record of key, or ErrNotFound. It sees every write
	// queued before it, committed or not.
	Load(kind Kind, key string) ([]byte, error)
	// Save queues val as the record of key and calls done after the batch
	// holding it committed (err nil) or failed. done runs on one of the
	// store's goroutines and must not block. Save never blocks: with the
	// queue full it calls done(ErrBusy) before returning.
	Save(kind Kind, key string, val []byte, done func(error))
	// Delete queues the removal of key; done as for Save.
	Delete(kind Kind, key string, done func(error))
	// Scan calls fn for every record of kind in key order. The value is only
	// valid during the call.
	Scan(kind Kind, fn func(key string, val []byte) error) error
	// ScanPrefix calls fn for every record of kind whose key starts with
	// prefix, queued writes included (a queued deletion hides its key).
	// Records on file come in key order, then queued ones. The value is
	// only valid during the call.
	ScanPrefix(kind Kind, prefix string, fn func(key string, val []byte) error) error
	// Close flushes queued writes and releases the store.
	Close() error
}

var (
	// ErrNotFound is returned by Load for a key without a record.
	ErrNotFound = errors.New("store: not found")
	// ErrBusy is returned (through done, at once) for a write that found
	// the queue full: the caller answers 503 instead of waiting.
	ErrBusy = errors.New("store: write queue full")
	// ErrTooLarge is returned (through done, at once) for a key or a value
	// the store cannot hold.
	ErrTooLarge = errors.New("store: key or value too large")
	// ErrClosed is returned for writes queued after Close.
	ErrClosed = errors.New("store: closed")
	// ErrLocked is returned by OpenBolt when another process holds the
	// database (a running server): use its admin API instead.
	ErrLocked = errors.New("store: locked by another process")
)
