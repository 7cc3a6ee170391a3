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

// stall makes the writer wait, with its next batch in hand, until release
// is closed; held is closed once it waits. Call it before the write that
// should stall is queued.
func stall(b *Bolt) (held, release chan struct{}) {
	held, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.testHookAppend = func() {
		once.Do(func() { close(held) })
		<-release
	}
	return held, release
}

// unmergedKeys counts the keys Load answers from memory.
func unmergedKeys(b *Bolt) int {
	b.queuedMu.Lock()
	defer b.queuedMu.Unlock()
	n := 0
	for _, keys := range b.queued {
		n += len(keys)
	}
	return n
}

// TestLoadSeesQueuedWrites stalls the writer, so that writes stay queued,
// and checks that Load returns them (a save, then a deletion) before they
// commit, and once they did; and that the keys leave the index once the
// journal is merged into the file.
func TestLoadSeesQueuedWrites(t *testing.T) {
	b, err := OpenBolt(BoltConfig{Path: filepath.Join(t.TempDir(), "db"), MergeInterval: 10 * time.Millisecond}, zap.NewNop())
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
	held, release := stall(b)
	b.Save("k", "a", []byte("2"), done)
	<-held // the writer has the write in hand
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
	deadline := time.Now().Add(5 * time.Second)
	for unmergedKeys(b) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d keys still marked queued after their merge", unmergedKeys(b))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := b.Load("k", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the merge: Load err = %v; want ErrNotFound", err)
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
