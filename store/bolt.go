package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
)

// BoltConfig configures the bbolt store. The yaml tags are its keys in the
// server's configuration file ("-": not configurable there).
type BoltConfig struct {
	// Path of the database file, e.g. ./data/b2bua.db. The journal's files
	// are beside it: <Path>.journal.<seq>.
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
	// MergeWrites and MergeInterval start a merge of the journal into the
	// database once it holds that many writes or its oldest write is that
	// old, whichever comes first.
	MergeWrites   int           `yaml:"-"`
	MergeInterval time.Duration `yaml:"-"`
}

// DefaultBoltConfig is no fsync, 2048 writes per commit, 8192 writes
// queued, a 2 s wait for the file lock, and a merge every 8192 writes or
// 1 s; Path has no default.
func DefaultBoltConfig() BoltConfig {
	return BoltConfig{MaxBatch: 2048, Queue: 8192, OpenTimeout: 2 * time.Second,
		MergeWrites: 8192, MergeInterval: time.Second}
}

// Bolt is the embedded bbolt Store. Writes are group committed to a
// journal (journal.go), then merged into bbolt in large transactions.
type Bolt struct {
	db    *bolt.DB
	log   *zap.Logger
	ops   chan op
	fsync bool

	// mu guards closed against writers racing Close.
	mu     sync.RWMutex
	closed bool

	// committed carries finished batches from the writer to the notifiers,
	// so the next commit overlaps with answering the last one's writers
	// (their done callbacks send SIP responses: a syscall each). free
	// brings their slices back.
	committed chan committed
	free      chan []op
	notified  sync.WaitGroup

	// segments carries full journal segments from the writer to the
	// merger; spare brings their recs slices back.
	segments   chan *segment
	spare      chan []rec
	chunks     chan []byte
	writerDone chan struct{}
	mergerDone chan struct{}
	closing    atomic.Bool
	mergeErr   error // set by the merger, read after mergerDone
	journaled  atomic.Int64

	metrics atomic.Pointer[Metrics]

	// testHookAppend, when set, runs in the writer before each append: the
	// tests stall a commit with it.
	testHookAppend func()
	// testHookMerge, when set, runs in each merge's transaction; an error
	// fails the merge.
	testHookMerge func() error

	// queuedMu guards queued: per kind, the latest value of every key with
	// a write queued, being committed, or journaled and not yet merged,
	// and how many such writes there are. Load reads it first, so a reader
	// sees every write queued before it (an actor restarted, or a
	// successor, never reads a record older than what its predecessor
	// already acknowledged or is about to).
	queuedMu sync.Mutex
	queued   map[Kind]map[string]pending
}

// pending is the latest queued value of one key (nil: a deletion) and the
// number of its writes not yet merged into bbolt (or failed).
type pending struct {
	val []byte
	n   int
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

// OpenBolt opens (creating when missing) the database at cfg.Path, and
// merges into it the journal a crash left behind.
func OpenBolt(cfg BoltConfig, log *zap.Logger) (*Bolt, error) {
	d := DefaultBoltConfig()
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = d.MaxBatch
	}
	if cfg.OpenTimeout <= 0 {
		cfg.OpenTimeout = d.OpenTimeout
	}
	if cfg.Queue <= 0 {
		cfg.Queue = d.Queue
	}
	if cfg.MergeWrites <= 0 {
		cfg.MergeWrites = d.MergeWrites
	}
	if cfg.MergeInterval <= 0 {
		cfg.MergeInterval = d.MergeInterval
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
	// bbolt's file lock is held: the journal is ours.
	next, replayed, err := replay(db, cfg.Path, cfg.Fsync)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: replay the journal of %s: %w", cfg.Path, err)
	}
	if replayed > 0 {
		log.Info("store journal replayed", zap.String("path", cfg.Path), zap.Int("writes", replayed))
	}
	b := &Bolt{db: db, log: log, ops: make(chan op, cfg.Queue), fsync: cfg.Fsync,
		committed: make(chan committed, notifiers*2), free: make(chan []op, notifiers*2+2),
		segments: make(chan *segment, pendingSegments), spare: make(chan []rec, 4), chunks: make(chan []byte, 64),
		writerDone: make(chan struct{}), mergerDone: make(chan struct{}),
		queued: map[Kind]map[string]pending{}}
	j := &journal{base: cfg.Path, fsync: cfg.Fsync, next: next, spare: b.spare, chunks: b.chunks, out: b.segments,
		recsCap: cfg.MergeWrites + cfg.MaxBatch}
	b.notified.Add(notifiers)
	for range notifiers {
		go b.notifier()
	}
	go b.merger()
	go b.writer(j, cfg.MaxBatch, cfg.MergeWrites, cfg.MergeInterval)
	return b, nil
}

// Load implements Store. A write queued or journaled before it wins over
// the file.
func (b *Bolt) Load(kind Kind, key string) ([]byte, error) {
	b.queuedMu.Lock()
	if p, ok := b.queued[kind][key]; ok {
		var val []byte
		if p.val != nil { // copied under the lock: the arena it may be in is recycled after a merge
			val = append([]byte(nil), p.val...)
		}
		b.queuedMu.Unlock()
		if val == nil {
			return nil, ErrNotFound
		}
		return val, nil
	}
	b.queuedMu.Unlock()
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bytesOf(string(kind)))
		if bk == nil {
			return ErrNotFound
		}
		v := bk.Get(bytesOf(key))
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
	if len(o.key) == 0 || len(o.key) > bolt.MaxKeySize || len(o.kind) > bolt.MaxKeySize || len(o.val) > bolt.MaxValueSize {
		if o.done != nil {
			o.done(ErrTooLarge) // refused here, so it cannot fail a whole batch
		}
		return
	}
	b.queuedMu.Lock()
	select {
	case b.ops <- o:
		keys := b.queued[o.kind]
		if keys == nil {
			keys = map[string]pending{}
			b.queued[o.kind] = keys
		}
		p := keys[o.key]
		p.val, p.n = o.val, p.n+1
		keys[o.key] = p
		b.queuedMu.Unlock()
	default:
		b.queuedMu.Unlock()
		b.busy()
		if o.done != nil {
			o.done(ErrBusy)
		}
	}
}

// unqueue forgets one write of key that was merged or failed; with none
// left, Load reads the file for it again. queuedMu is held.
func (b *Bolt) unqueue(kind Kind, key string) {
	keys := b.queued[kind]
	p, ok := keys[key]
	if !ok {
		return
	}
	if p.n--; p.n > 0 {
		keys[key] = p
		return
	}
	delete(keys, key)
}

// failed forgets the writes of batch that failed.
func (b *Bolt) failed(batch []op, errs []error) {
	b.queuedMu.Lock()
	for i, o := range batch {
		if errs[i] != nil {
			b.unqueue(o.kind, o.key)
		}
	}
	b.queuedMu.Unlock()
}

// unmerged returns, in key order, the records of kind whose key starts
// with prefix that are queued or journaled (val nil: a deletion). The
// values are copies.
func (b *Bolt) unmerged(kind Kind, prefix string) []rec {
	var out []rec
	b.queuedMu.Lock()
	for key, p := range b.queued[kind] {
		if strings.HasPrefix(key, prefix) {
			var v []byte
			if p.val != nil {
				v = append(make([]byte, 0, len(p.val)), p.val...)
			}
			out = append(out, rec{kind, key, v})
		}
	}
	b.queuedMu.Unlock()
	slices.SortFunc(out, func(a, b rec) int { return strings.Compare(a.key, b.key) })
	return out
}

// Scan implements Store: the file and the writes not yet merged into it,
// in key order.
func (b *Bolt) Scan(kind Kind, fn func(key string, val []byte) error) error {
	pend := b.unmerged(kind, "")
	return b.db.View(func(tx *bolt.Tx) error {
		var c *bolt.Cursor
		var k, v []byte
		if bk := tx.Bucket(bytesOf(string(kind))); bk != nil {
			c = bk.Cursor()
			k, v = c.First()
		}
		for k != nil || len(pend) > 0 {
			if len(pend) > 0 && (k == nil || pend[0].key <= string(k)) {
				r := pend[0]
				pend = pend[1:]
				if k != nil && r.key == string(k) {
					k, v = c.Next() // the unmerged write replaces it
				}
				if r.val == nil {
					continue
				}
				if err := fn(r.key, r.val); err != nil {
					return err
				}
				continue
			}
			if err := fn(string(k), v); err != nil {
				return err
			}
			k, v = c.Next()
		}
		return nil
	})
}

// ScanPrefix implements Store.
func (b *Bolt) ScanPrefix(kind Kind, prefix string, fn func(key string, val []byte) error) error {
	pend := b.unmerged(kind, prefix)
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bytesOf(string(kind)))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			if _, ok := slices.BinarySearchFunc(pend, string(k), func(r rec, k string) int { return strings.Compare(r.key, k) }); ok {
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
	for _, r := range pend {
		if r.val == nil {
			continue
		}
		if err := fn(r.key, r.val); err != nil {
			return err
		}
	}
	return nil
}

// Close stops accepting writes, commits what is queued, merges the journal
// into the database and closes the file.
func (b *Bolt) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.closing.Store(true)
	close(b.ops)
	b.mu.Unlock()
	<-b.writerDone
	b.notified.Wait()
	<-b.mergerDone
	err := b.db.Close()
	if b.mergeErr != nil {
		return b.mergeErr
	}
	return err
}

// writer drains the queue: it takes whatever is waiting (up to max),
// appends it to the journal in one write and hands the batch to the
// notifiers. While one batch commits the next one fills, so batches grow
// with the load. It rotates the journal to the merger every mergeWrites
// writes, or mergeInterval after the first write of a segment.
func (b *Bolt) writer(j *journal, max, mergeWrites int, mergeInterval time.Duration) {
	defer close(b.writerDone)
	defer close(b.committed)
	defer close(b.segments)
	tick := time.NewTimer(mergeInterval)
	tick.Stop()
	defer tick.Stop()
	rotate := func() {
		tick.Stop()
		if err := j.rotate(); err != nil {
			b.log.Error("store journal close", zap.Error(err))
		}
	}
	defer rotate()
	for {
		var first op
		select {
		case o, ok := <-b.ops:
			if !ok {
				return
			}
			first = o
		case <-tick.C:
			rotate()
			continue
		}
		var batch []op
		select {
		case batch = <-b.free:
		default:
			batch = make([]op, 0, min(max, 1+len(b.ops)))
		}
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
		if b.testHookAppend != nil {
			b.testHookAppend()
		}
		empty := j.cur == nil || len(j.cur.recs) == 0
		start := time.Now()
		errs := b.commitAll(j, batch)
		end := time.Now()
		b.observe(len(batch), end.Sub(start))
		b.committed <- committed{batch, errs, end}
		if s := j.cur; s != nil {
			switch {
			case len(s.recs) >= mergeWrites:
				rotate()
			case empty && len(s.recs) > 0:
				tick.Reset(mergeInterval)
			}
		}
	}
}

// commitAll appends batch to the journal. A write bbolt would refuse
// (a kind that cannot name a bucket) fails alone; a failed append fails
// every other write of the batch. It returns the error of each write, or
// nil when all were journaled.
func (b *Bolt) commitAll(j *journal, batch []op) []error {
	var errs []error
	for i, o := range batch {
		if o.kind == "" {
			if errs == nil {
				errs = make([]error, len(batch))
			}
			errs[i] = fmt.Errorf("%s/%s: %w", o.kind, o.key, berrors.ErrBucketNameRequired)
		}
	}
	if err := j.append(batch, errs); err == nil {
		b.adopt(batch, errs, j.last)
	} else {
		if errs == nil {
			errs = make([]error, len(batch))
		}
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	n := len(batch) // journaled
	var first error
	for _, e := range errs {
		if e != nil {
			n--
			if first == nil {
				first = e
			}
		}
	}
	b.journaled.Add(int64(n))
	if errs == nil {
		return nil
	}
	b.failed(batch, errs)
	b.commitFailed(len(batch) - n)
	b.log.Error("store commit failed", zap.Int("writes", len(batch)), zap.Int("failed", len(batch)-n), zap.Error(first))
	return errs
}

// adopt points the index at the journal's copy of each value just
// journaled (recs, in the order of the batch's writes that did not fail)
// where the index still holds that write's buffer: once done runs, the
// store reads nothing of the writer's memory.
func (b *Bolt) adopt(batch []op, errs []error, recs []rec) {
	b.queuedMu.Lock()
	i := 0
	for k, o := range batch {
		if errs != nil && errs[k] != nil {
			continue
		}
		r := recs[i]
		i++
		if o.val == nil {
			continue
		}
		keys := b.queued[o.kind]
		if p, ok := keys[o.key]; ok && len(p.val) == len(o.val) && unsafe.SliceData(p.val) == unsafe.SliceData(o.val) {
			p.val = r.val
			keys[o.key] = p
		}
	}
	b.queuedMu.Unlock()
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
		clear(c.ops)
		select {
		case b.free <- c.ops[:0]:
		default:
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
