package storetest

import (
	"sync"
	"time"

	"github.com/b2bua/b2bua/store"
)

// Slow wraps a real Store and holds every write for Delay before passing it
// on, in order: it widens the window between a write and its commit, where
// races between actors and the store hide.
type Slow struct {
	store.Store
	Delay time.Duration

	once  sync.Once
	queue chan func()
}

func (s *Slow) start() {
	s.once.Do(func() {
		s.queue = make(chan func(), 1024)
		go func() {
			for f := range s.queue {
				f()
			}
		}()
	})
}

// Save implements store.Store.
func (s *Slow) Save(kind store.Kind, key string, val []byte, done func(error)) {
	s.later(func() { s.Store.Save(kind, key, val, done) })
}

// Delete implements store.Store.
func (s *Slow) Delete(kind store.Kind, key string, done func(error)) {
	s.later(func() { s.Store.Delete(kind, key, done) })
}

func (s *Slow) later(f func()) {
	s.start()
	at := time.Now().Add(s.Delay)
	s.queue <- func() { time.Sleep(time.Until(at)); f() }
}

// Close stops the delaying goroutine after the queued writes went through,
// then closes the real store.
func (s *Slow) Close() error {
	s.start()
	close(s.queue)
	return s.Store.Close()
}
