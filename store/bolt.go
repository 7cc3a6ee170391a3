package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
)

// BoltConfig configures the bbolt store. The yaml tags are its keys in the
// server's configuration file ("-": not configurable there).
type BoltConfig struct {
	// Path of the database file, e.g. ./data/b2bua.db.
	Path string `yaml:"-"`
	// Fsync makes every group commit fsync. Without it a committed write
	// still survives kill -9 (the page cache belongs to the kernel) but not
	// a power loss.
	Fsync bool `yaml:"fsync"`
	// MaxBatch caps the writes in one commit.
	MaxBatch int `yaml:"-"`
	// Queue is how many writes may wait for a commit; a write past it fails
	// at once with ErrBusy (503).
	Queue int `yaml:"-"`
	// OpenTimeout bounds the wait for bbolt's file lock, held by another
	// process using the same data directory.
	OpenTimeout time.Duration `yaml:"-"`
}

// DefaultBoltConfig is no fsync, 2048 writes per commit, 8192 writes
// queued and a 2 s wait for the file lock; Path has no default.
func DefaultBoltConfig() BoltConfig {
	return BoltConfig{MaxBatch: 2048, Queue: 8192, OpenTimeout: 2 * time.Second}
}

// Bolt is the embedded bbolt Store with a group-committing writer.
type Bolt struct {
	db  *bolt.DB
	log *zap.Logger
	ops chan op

	// mu guards closed against writers racing Close.
	mu     sync.RWMutex
	closed bool

	done chan struct{}

	// committed carries finished batches from the writer to the notifiers,
	// so the next commit overlaps with answering the last one's writers
	// (their done callbacks send SIP responses: a syscall each).
	committed chan committed
	notified  sync.WaitGroup

	metrics atomic.Pointer[Metrics]

	// queuedMu guards queued: the latest value of every key with a write
	// queued or being committed, and how many such writes there are. Load
	// reads it first, so a reader sees every write queued before it (an
	// actor restarted, or a successor, never reads a record older than
	// what its predecessor already acknowledged or is about to).
	queuedMu sync.Mutex
	queued   map[queuedID]*pending
}

// pending is the latest queued value of one key (nil: a deletion) and the
// number of its writes not yet through a commit.
type pending struct {
	val []byte
	n   int
}

// queuedID names a record in queued: a struct of the two strings, so a
// lookup builds no key (Load and Save run on every request).
type queuedID struct {
	kind Kind
	key  string
}

// notifiers is how many goroutines run done callbacks.
const notifiers = 2

type committed struct {
	ops  []op
	errs []error   // per op; nil when the whole batch committed
	at   time.Time // end of the commit, for b2bua_store_notify_seconds
}

type op struct {
	kind Kind
	key  string
	val  []byte // nil deletes
	done func(error)
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens (creating when missing) the database at cfg.Path.
func OpenBolt(cfg BoltConfig, log *zap.Logger) (*Bolt, error) {
	d := DefaultBoltConfig()
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = d.MaxBatch
	}
	if cfg.OpenTimeout <= 0 {
		cfg.OpenTimeout = d.OpenTimeout
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: cfg.OpenTimeout, NoSync: !cfg.Fsync, NoFreelistSync: true, InitialMmapSize: 1 << 30})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, cfg.Path, cfg.OpenTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", cfg.Path, err)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = d.Queue
	}
	b := &Bolt{db: db, log: log, ops: make(chan op, cfg.Queue), done: make(chan struct{}),
		committed: make(chan committed, notifiers*2), queued: map[queuedID]*pending{}}
	b.notified.Add(notifiers)
	for range notifiers {
		go b.notifier()
	}
	go b.writer(cfg.MaxBatch)
	return b, nil
}

// Load implements Store. A write queued before it wins over the file.
func (b *Bolt) Load(kind Kind, key string) ([]byte, error) {
	b.queuedMu.Lock()
	if p, ok := b.queued[queuedID{kind, key}]; ok {
		val := p.val
		b.queuedMu.Unlock()
		if val == nil {
			return nil, ErrNotFound
		}
		return append([]byte(nil), val...), nil
	}
	b.queuedMu.Unlock()
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(kind))
		if bk == nil {
			return ErrNotFound
		}
		v := bk.Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// Save implements Store.
func (b *Bolt) Save(kind Kind, key string, val []byte, done func(error)) {
	if val == nil {
		val = []byte{}
	}
	b.enqueue(op{kind, key, val, done})
}

// Delete implements Store.
func (b *Bolt) Delete(kind Kind, key string, done func(error)) {
	b.enqueue(op{kind, key, nil, done})
}

func (b *Bolt) enqueue(o op) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		if o.done != nil {
			o.done(ErrClosed)
		}
		return
	}
	if len(o.key) == 0 || len(o.key) > bolt.MaxKeySize || len(o.val) > bolt.MaxValueSize {
		if o.done != nil {
			o.done(ErrTooLarge) // refused here, so it cannot fail a whole batch
		}
		return
	}
	b.queuedMu.Lock()
	select {
	case b.ops <- o:
		k := queuedID{o.kind, o.key}
		p := b.queued[k]
		if p == nil {
			p = &pending{}
			b.queued[k] = p
		}
		p.val, p.n = o.val, p.n+1
		b.queuedMu.Unlock()
	default:
		b.queuedMu.Unlock()
		b.busy()
		if o.done != nil {
			o.done(ErrBusy)
		}
	}
}

// settled forgets the queued writes of a batch that went through a commit
// (or failed): Load reads the file for them again.
func (b *Bolt) settled(batch []op) {
	b.queuedMu.Lock()
	for _, o := range batch {
		k := queuedID{o.kind, o.key}
		if p := b.queued[k]; p != nil {
			if p.n--; p.n <= 0 {
				delete(b.queued, k)
			}
		}
	}
	b.queuedMu.Unlock()
}

// Scan implements Store.
func (b *Bolt) Scan(kind Kind, fn func(key string, val []byte) error) error {
	return b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(kind))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}

// ScanPrefix implements Store.
func (b *Bolt) ScanPrefix(kind Kind, prefix string, fn func(key string, val []byte) error) error {
	queued := map[string][]byte{}
	b.queuedMu.Lock()
	for id, p := range b.queued {
		if id.kind == kind && strings.HasPrefix(id.key, prefix) {
			var v []byte // nil: a queued deletion
			if p.val != nil {
				v = append(make([]byte, 0, len(p.val)), p.val...)
			}
			queued[id.key] = v
		}
	}
	b.queuedMu.Unlock()
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(kind))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			if _, ok := queued[string(k)]; ok {
				continue
			}
			if err := fn(string(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for k, v := range queued {
		if v == nil {
			continue
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Close stops accepting writes, commits what is queued and closes the file.
func (b *Bolt) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.ops)
	b.mu.Unlock()
	<-b.done
	b.notified.Wait()
	return b.db.Close()
}

// writer drains the queue: it takes whatever is waiting (up to max), commits
// it in one transaction and then answers every op of the batch. While one
// batch commits the next one fills, so batches grow with the load.
func (b *Bolt) writer(max int) {
	defer close(b.done)
	defer close(b.committed)
	for first := range b.ops {
		batch := make([]op, 0, min(max, 1+len(b.ops)))
		batch = append(batch, first)
	fill:
		for len(batch) < max {
			select {
			case o, ok := <-b.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		start := time.Now()
		errs := b.commitAll(batch)
		end := time.Now()
		b.observe(len(batch), end.Sub(start))
		b.settled(batch)
		b.committed <- committed{batch, errs, end}
	}
}

// commitAll commits batch in one transaction. When that fails, each write
// is committed on its own, so one bad write fails alone instead of every
// writer of its batch (as bbolt's DB.Batch does); it returns the error of
// each write, or nil when the batch committed.
func (b *Bolt) commitAll(batch []op) []error {
	err := b.commit(batch)
	if err == nil {
		return nil
	}
	errs := make([]error, len(batch))
	if len(batch) == 1 {
		errs[0] = err
	} else {
		for i := range batch {
			errs[i] = b.commit(batch[i : i+1])
		}
	}
	failed := 0
	for _, e := range errs {
		if e != nil {
			failed++
		}
	}
	b.commitFailed(failed)
	b.log.Error("store commit failed", zap.Int("writes", len(batch)), zap.Int("failed", failed), zap.Error(err))
	return errs
}

// notifier answers the writers of committed batches.
func (b *Bolt) notifier() {
	defer b.notified.Done()
	for c := range b.committed {
		for i, o := range c.ops {
			if o.done == nil {
				continue
			}
			var err error
			if c.errs != nil {
				err = c.errs[i]
			}
			b.call(o, err)
		}
		b.observeNotify(time.Since(c.at))
	}
}

// call runs one done callback. A callback that panics is a bug of its
// writer; no supervisor watches this goroutine, so it is logged here
// rather than taking the process (and every other writer's answer) down.
func (b *Bolt) call(o op, err error) {
	defer func() {
		if r := recover(); r != nil {
			b.log.Error("store callback panicked", zap.String("kind", string(o.kind)), zap.Any("panic", r), zap.Stack("stack"))
		}
	}()
	o.done(err)
}

func (b *Bolt) commit(batch []op) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		for _, o := range batch {
			bk, err := tx.CreateBucketIfNotExists([]byte(o.kind))
			if err != nil {
				return err
			}
			if o.val == nil {
				err = bk.Delete([]byte(o.key))
			} else {
				err = bk.Put([]byte(o.key), o.val)
			}
			if err != nil {
				return fmt.Errorf("%s/%s: %w", o.kind, o.key, err)
			}
		}
		return nil
	})
}
