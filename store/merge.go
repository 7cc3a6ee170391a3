package store

import (
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// errUnmerged is returned by Close when journal files are left for the
// next open to replay.
var errUnmerged = errors.New("store: journal not merged into the database; the next open replays it")

// mergeBackoff bounds the wait between two attempts at a failed merge.
const mergeBackoff = time.Second

// merger moves the segments the writer hands over into bbolt, in order.
// It runs alone against bbolt's write lock, so a long merge delays no
// acknowledgement: the writer only appends to the journal.
func (b *Bolt) merger() {
	defer close(b.mergerDone)
	stuck := false
	for s := range b.segments {
		if stuck || !b.mergeSegment(s) {
			// The store is closing and a merge keeps failing: leave this
			// segment and every later one (order matters) to the replay.
			stuck = true
			b.mergeErr = errUnmerged
		}
	}
}

// mergeSegment commits the writes of s into bbolt, forgets them in the
// index, then removes the file. It retries until it succeeds, or returns
// false when the store is closing and a few attempts failed.
func (b *Bolt) mergeSegment(s *segment) bool {
	merged := len(s.recs) == 0
	for attempt := 1; ; attempt++ {
		var err error
		if !merged {
			start := time.Now()
			err = b.db.Update(func(tx *bolt.Tx) error {
				if b.testHookMerge != nil {
					if err := b.testHookMerge(); err != nil {
						return err
					}
				}
				return apply(tx, s.recs)
			})
			if err == nil {
				merged = true
				b.observeMerge(len(s.recs), time.Since(start))
				b.forget(s.recs)
			}
		}
		if merged {
			if err = removeSegment(s.path, b.fsync); err == nil {
				s.recycle(b.chunks, b.spare)
				return true
			}
		}
		b.mergeFailed()
		b.log.Error("store merge failed", zap.String("journal", s.path), zap.Int("writes", len(s.recs)),
			zap.Bool("merged", merged), zap.Int("attempt", attempt), zap.Error(err))
		if b.closing.Load() && attempt >= 3 {
			return false
		}
		time.Sleep(min(time.Duration(attempt)*10*time.Millisecond, mergeBackoff))
	}
}

// forget drops the merged writes from the index: Load reads them from the
// file now.
func (b *Bolt) forget(recs []rec) {
	b.queuedMu.Lock()
	for _, r := range recs {
		b.unqueue(r.kind, r.key)
	}
	b.queuedMu.Unlock()
	b.journaled.Add(-int64(len(recs)))
}
