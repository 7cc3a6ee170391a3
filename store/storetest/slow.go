package storetest

import (
	"sync"
	"time"

	"github.com/b2bua/b2bua/store"
)

// Slow wraps a real Store and holds every write for Delay before passing it
// on, in order: it widens the window between a write and its commit, where
// races between actors and the store hide. Like any Store, its Load sees
// the writes it holds.
type Slow struct {
	store.Store
	Delay time.Duration

	once  sync.Once
	queue chan func()

	mu   sync.Mutex
	held map[string]heldWrite // latest held write per kind/key
}

type heldWrite struct {
	val []byte // nil: a deletion
	n   int
}

// Load implements store.Store.
func (s *Slow) Load(kind store.Kind, key string) ([]byte, error) {
	s.mu.Lock()
	w, ok := s.held[string(kind)+"\x00"+key]
	s.mu.Unlock()
	if !ok {
		return s.Store.Load(kind, key)
	}
	if w.val == nil {
		return nil, store.ErrNotFound
	}
	return append([]byte(nil), w.val...), nil
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
	if val == nil {
		val = []byte{}
	}
	k := s.hold(kind, key, val)
	s.later(func() { s.Store.Save(kind, key, val, done); s.release(k) })
}

// Delete implements store.Store.
func (s *Slow) Delete(kind store.Kind, key string, done func(error)) {
	k := s.hold(kind, key, nil)
	s.later(func() { s.Store.Delete(kind, key, done); s.release(k) })
}

// hold remembers a write until the real store has it queued (whose Load
// sees it from then on).
func (s *Slow) hold(kind store.Kind, key string, val []byte) string {
	k := string(kind) + "\x00" + key
	s.mu.Lock()
	if s.held == nil {
		s.held = map[string]heldWrite{}
	}
	w := s.held[k]
	s.held[k] = heldWrite{val: val, n: w.n + 1}
	s.mu.Unlock()
	return k
}

func (s *Slow) release(k string) {
	s.mu.Lock()
	if w := s.held[k]; w.n <= 1 {
		delete(s.held, k)
	} else {
		w.n--
		s.held[k] = w
	}
	s.mu.Unlock()
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
