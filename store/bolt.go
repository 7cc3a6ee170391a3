package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
}

// notifiers is how many goroutines run done callbacks.
const notifiers = 2

type committed struct {
	ops []op
	err error
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
		committed: make(chan committed, notifiers*2)}
	b.notified.Add(notifiers)
	for range notifiers {
		go b.notifier()
	}
	go b.writer(cfg.MaxBatch)
	return b, nil
}

// Load implements Store.
func (b *Bolt) Load(kind Kind, key string) ([]byte, error) {
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
	select {
	case b.ops <- o:
	default:
		b.busy()
		if o.done != nil {
			o.done(ErrBusy)
		}
	}
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
		err := b.commit(batch)
		b.observe(len(batch), time.Since(start))
		if err != nil {
			b.log.Error("store commit failed", zap.Int("writes", len(batch)), zap.Error(err))
		}
		b.committed <- committed{batch, err}
	}
}

// notifier answers the writers of committed batches.
func (b *Bolt) notifier() {
	defer b.notified.Done()
	for c := range b.committed {
		for _, o := range c.ops {
			if o.done != nil {
				b.call(o, c.err)
			}
		}
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
