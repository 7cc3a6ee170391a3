package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// TestLoadSeesQueuedWrites holds the file's write lock so that writes stay
// queued, and checks that Load returns them (a save, then a deletion)
// before they commit, and the file once they did.
func TestLoadSeesQueuedWrites(t *testing.T) {
	b, err := OpenBolt(BoltConfig{Path: filepath.Join(t.TempDir(), "db")}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	committed := make(chan error, 3)
	done := func(err error) { committed <- err }
	b.Save("k", "a", []byte("1"), done)
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	release, held := make(chan struct{}), make(chan struct{})
	go func() {
		_ = b.db.Update(func(*bolt.Tx) error { close(held); <-release; return nil })
	}()
	<-held
	b.Save("k", "a", []byte("2"), done)
	time.Sleep(20 * time.Millisecond) // the writer now waits for the lock with the write in hand
	if v, err := b.Load("k", "a"); err != nil || string(v) != "2" {
		t.Fatalf("queued save: Load = %q, %v; want 2", v, err)
	}
	b.Delete("k", "a", done)
	if _, err := b.Load("k", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("queued deletion: Load err = %v; want ErrNotFound", err)
	}
	close(release)
	for range 2 {
		if err := <-committed; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Load("k", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the commits: Load err = %v; want ErrNotFound", err)
	}
	b.queuedMu.Lock()
	left := len(b.queued)
	b.queuedMu.Unlock()
	if left != 0 {
		t.Fatalf("%d keys still marked queued after their commits", left)
	}
}

// TestBadWriteFailsAlone: a write bbolt refuses fails by itself; the
// writes committed in the same batch succeed. A key too large for bbolt
// is refused before it is queued.
func TestBadWriteFailsAlone(t *testing.T) {
	b, err := OpenBolt(BoltConfig{Path: filepath.Join(t.TempDir(), "db")}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := map[string]error{}
	for i := range 300 {
		kind, key := Kind("k"), fmt.Sprint(i)
		if i == 150 {
			kind = "" // bbolt: bucket name required
		}
		wg.Add(1)
		b.Save(kind, key, []byte("v"), func(err error) {
			if err != nil {
				mu.Lock()
				failed[key] = err
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if len(failed) != 1 || failed["150"] == nil {
		t.Fatalf("failed writes %v, want only the bad one", failed)
	}
	var tooLarge error
	b.Save("k", strings.Repeat("x", bolt.MaxKeySize+1), []byte("v"), func(err error) { tooLarge = err })
	if !errors.Is(tooLarge, ErrTooLarge) {
		t.Fatalf("oversized key: %v, want ErrTooLarge at once", tooLarge)
	}
}
