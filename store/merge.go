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

// mergeGroup is the most segments one merge transaction takes. When the
// merger falls behind (a large file whose every merge rewrites thousands
// of leaves, a CPU shared with a load peak), the segments waiting for it
// are merged together: a leaf that two segments touch is rewritten once,
// so a merge costs less per write the further behind it is, and the
// writer does not block on a full hand-over queue (pendingSegments).
const mergeGroup = 8

// pendingSegments is how many closed segments may wait for the merger
// before the writer blocks (and the queue behind it fills into ErrBusy):
// 64 segments of MergeWrites (8,192) writes, half a million writes held in
// memory and readable through the index while the merger catches up.
const pendingSegments = 64

// merger moves the segments the writer hands over into bbolt, in order.
// It runs alone against bbolt's write lock, so a long merge delays no
// acknowledgement: the writer only appends to the journal.
func (b *Bolt) merger() {
	defer close(b.mergerDone)
	stuck := false
	group := make([]*segment, 0, mergeGroup)
	for s := range b.segments {
		group = append(group[:0], s)
	fill:
		for len(group) < mergeGroup {
			select {
			case more, ok := <-b.segments:
				if !ok {
					break fill
				}
				group = append(group, more)
			default:
				break fill
			}
		}
		if stuck || !b.mergeSegments(group) {
			// The store is closing and a merge keeps failing: leave this
			// segment and every later one (order matters) to the replay.
			stuck = true
			b.mergeErr = errUnmerged
		}
		clear(group)
	}
}

// mergeSegments commits the writes of ss (in order) into bbolt in one
// transaction, forgets them in the index, then removes the files in
// order. It retries until it succeeds, or returns false when the store is
// closing and a few attempts failed; a file is removed only once it and
// every earlier one are in bbolt, so what is left on disk is always a
// suffix of the journal.
func (b *Bolt) mergeSegments(ss []*segment) bool {
	writes := 0
	for _, s := range ss {
		writes += len(s.recs)
	}
	merged := writes == 0
	removed := 0
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
				for _, s := range ss {
					if err := apply(tx, s.recs); err != nil {
						return err
					}
				}
				return nil
			})
			if err == nil {
				merged = true
				b.observeMerge(writes, time.Since(start))
				for _, s := range ss {
					b.forget(s.recs)
				}
			}
		}
		for merged && removed < len(ss) {
			s := ss[removed]
			if err = removeSegment(s.path, b.fsync); err != nil {
				break
			}
			s.recycle(b.chunks, b.spare)
			removed++
		}
		if merged && removed == len(ss) {
			return true
		}
		b.mergeFailed()
		b.log.Error("store merge failed", zap.String("journal", ss[removed].path), zap.Int("segments", len(ss)-removed),
			zap.Int("writes", writes), zap.Bool("merged", merged), zap.Int("attempt", attempt), zap.Error(err))
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
