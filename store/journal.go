package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// The journal is what a group commit writes: the batch appended to a plain
// file beside the database, one write (and one fdatasync under Fsync) per
// batch, instead of a bbolt transaction that would rewrite the random leaf
// of every key, its branch path and a meta page. A merger then moves the
// journaled writes into the bbolt buckets, thousands per transaction, off
// the path of any request; Load and the scans see them meanwhile through
// the in-memory index (Bolt.queued).
//
// The journal is a sequence of segment files <Path>.journal.<seq, 16 hex
// digits>. The writer appends to the newest; it closes it and hands it to
// the merger once it holds MergeWrites writes or is MergeInterval old. The
// merger commits a segment's writes into bbolt in one transaction, then
// removes the file: segments are merged and removed strictly in order, so
// at any time the files on disk are a suffix of the journal whose first
// file may already be in bbolt. Replaying them in order at open is then
// correct (and idempotent: a write replayed twice sets the same value).
//
// A segment file is journalMagic then frames, one per batch: the payload
// length (uint32, little endian), its CRC-32C, the payload. The payload is
// the batch's records: uvarint len(kind), kind, uvarint len(key), key,
// uvarint v, and for v > 0 a value of v-1 bytes (v = 0: a deletion). A
// batch is replayed whole or not at all: a frame cut short by a crash, or
// whose checksum fails, ends the replay of its file. Such a frame was
// never acknowledged: done runs after the write (and its fdatasync) returned.

// journalMagic starts every segment file; the version is in it.
const journalMagic = "b2bua journal 1\n"

const frameHeader = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// rec is one journaled write (val nil: a deletion).
type rec struct {
	kind Kind
	key  string
	val  []byte
}

// segment is one journal file and the writes it holds, in order: the
// merger commits them from memory, the file is only read back at open.
type segment struct {
	seq   uint64
	path  string
	f     *os.File
	size  int64 // end of the last frame written whole
	recs  []rec
	since time.Time // when its first write was appended

	// chunks are the arena the frames were encoded in; recs' values point
	// into it. tail is the free end of the last one.
	chunks [][]byte
	tail   []byte
}

// journal is the writer's side: the open segment and the records of the
// last frame. Only the writer goroutine touches it.
type journal struct {
	base   string // the database's path; segments are base.journal.<seq>
	fsync  bool
	next   uint64 // seq of the next segment
	cur    *segment
	last   []rec       // the records of the last frame, in batch order
	spare  chan []rec  // recs slices the merger is done with
	chunks chan []byte // arena chunks the merger is done with
	// recsCap sizes a new segment's recs: the writes that rotate it.
	recsCap int
	out     chan<- *segment
}

// rotate closes the open segment (if any) and hands it to the merger. The
// writes in it are already durable, or were failed.
func (j *journal) rotate() error {
	s := j.cur
	if s == nil {
		return nil
	}
	j.cur = nil
	err := s.f.Close()
	s.f = nil
	j.out <- s
	return err
}

func segmentPath(base string, seq uint64) string {
	return fmt.Sprintf("%s.journal.%016x", base, seq)
}

// segments lists the journal files of the database at base, oldest first.
func segments(base string) ([]uint64, error) {
	entries, err := os.ReadDir(filepath.Dir(base))
	if err != nil {
		return nil, err
	}
	prefix := filepath.Base(base) + ".journal."
	var seqs []uint64
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || len(name) != 16 {
			continue
		}
		seq, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return seqs, nil
}

// open starts a new segment file.
func (j *journal) open() error {
	s := &segment{seq: j.next, path: segmentPath(j.base, j.next)}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(journalMagic)); err != nil {
		f.Close()
		os.Remove(s.path)
		return err
	}
	if j.fsync {
		// The file and its name must outlive a power loss before a write
		// in it is acknowledged.
		if err := fdatasync(f); err == nil {
			err = syncDir(j.base)
		}
		if err != nil {
			f.Close()
			os.Remove(s.path)
			return err
		}
	}
	j.next++
	s.f, s.size = f, int64(len(journalMagic))
	select {
	case s.recs = <-j.spare:
	default:
		s.recs = make([]rec, 0, j.recsCap)
	}
	j.cur = s
	return nil
}

// append journals the writes of batch whose errs entry is nil (errs nil:
// all of them) in one frame; it returns the error that fails them all.
// The frame is encoded into the segment's arena, and the records the
// merger will read (j.last, in the order of batch) point into it, not
// into the writers' buffers: a writer may reuse its value once done ran.
func (j *journal) append(batch []op, errs []error) error {
	size := frameHeader
	for i, o := range batch {
		if errs == nil || errs[i] == nil {
			size += uvarintLen(len(o.kind)) + len(o.kind) + uvarintLen(len(o.key)) + len(o.key) + uvarintLen(len(o.val)+1) + len(o.val)
		}
	}
	clear(j.last)
	j.last = j.last[:0]
	if size == frameHeader {
		return nil // every write of the batch failed alone
	}
	if size-frameHeader > math.MaxUint32 {
		return errors.New("store: journal: batch larger than a frame can hold")
	}
	if j.cur == nil {
		if err := j.open(); err != nil {
			return fmt.Errorf("store: journal: %w", err)
		}
	}
	s := j.cur
	buf := append(s.alloc(size, j.chunks), 0, 0, 0, 0, 0, 0, 0, 0) // the frame header, set below
	for i, o := range batch {
		if errs != nil && errs[i] != nil {
			continue
		}
		buf = binary.AppendUvarint(buf, uint64(len(o.kind)))
		buf = append(buf, o.kind...)
		buf = binary.AppendUvarint(buf, uint64(len(o.key)))
		buf = append(buf, o.key...)
		var val []byte // nil: a deletion
		if o.val == nil {
			buf = binary.AppendUvarint(buf, 0)
		} else {
			buf = binary.AppendUvarint(buf, uint64(len(o.val))+1)
			buf = append(buf, o.val...)
			val = buf[len(buf)-len(o.val) : len(buf) : len(buf)]
		}
		j.last = append(j.last, rec{o.kind, o.key, val})
	}
	binary.LittleEndian.PutUint32(buf, uint32(len(buf)-frameHeader))
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(buf[frameHeader:], castagnoli))
	_, err := s.f.WriteAt(buf, s.size)
	if err == nil && j.fsync {
		err = fdatasync(s.f)
	}
	if err != nil {
		clear(j.last)
		j.last = j.last[:0]
		// Cut the frame off, so that no later frame follows a torn one. If
		// that fails too, the file ends here: replay stops at the torn frame.
		if s.f.Truncate(s.size) != nil {
			j.rotate()
		}
		return fmt.Errorf("store: journal: %w", err)
	}
	s.size += int64(len(buf))
	if len(s.recs) == 0 {
		s.since = time.Now()
	}
	s.recs = append(s.recs, j.last...)
	return nil
}

// chunkSize is the unit of a segment's arena: the frames of a segment are
// kept in memory in chunks of it (a frame larger gets its own), recycled
// once the segment is merged.
const chunkSize = 64 << 10

// alloc returns n bytes (length 0, capacity n) of the segment's arena,
// taking a new chunk from spare (or the heap) when the last one is full.
func (s *segment) alloc(n int, spare chan []byte) []byte {
	if cap(s.tail)-len(s.tail) < n {
		var c []byte
		if n <= chunkSize {
			select {
			case c = <-spare:
			default:
				c = make([]byte, 0, chunkSize)
			}
		} else {
			c = make([]byte, 0, n)
		}
		s.chunks = append(s.chunks, c)
		s.tail = c
	}
	off := len(s.tail)
	s.tail = s.tail[:off+n]
	return s.tail[off : off : off+n]
}

// recycle hands the segment's chunks and records slice back once merged.
func (s *segment) recycle(chunks chan []byte, recs chan []rec) {
	for _, c := range s.chunks {
		if cap(c) != chunkSize {
			continue
		}
		select {
		case chunks <- c[:0]:
		default:
		}
	}
	clear(s.chunks)
	s.chunks, s.tail = nil, nil
	clear(s.recs)
	select {
	case recs <- s.recs[:0]:
	default:
	}
	s.recs = nil
}

func uvarintLen(n int) int {
	return (bits.Len64(uint64(n)|1) + 6) / 7
}

// decode returns the records of the segment file data, in order, and
// where the frames written whole end.
func decode(data []byte) ([]rec, int, error) {
	if len(data) < len(journalMagic) {
		if strings.HasPrefix(journalMagic, string(data)) {
			return nil, len(data), nil // cut short while it was created
		}
		return nil, 0, errors.New("not a journal file")
	}
	if string(data[:len(journalMagic)]) != journalMagic {
		return nil, 0, errors.New("not a journal file (or another version)")
	}
	var recs []rec
	off := len(journalMagic)
	for len(data)-off >= frameHeader {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if n > len(data)-off-frameHeader {
			break
		}
		payload := data[off+frameHeader : off+frameHeader+n]
		if crc32.Checksum(payload, castagnoli) != sum {
			break
		}
		batch, ok := decodeFrame(payload)
		if !ok {
			break
		}
		recs = append(recs, batch...)
		off += frameHeader + n
	}
	return recs, off, nil
}

func decodeFrame(p []byte) ([]rec, bool) {
	var recs []rec
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(p)
		if w <= 0 || n > uint64(len(p)-w) {
			return nil, false
		}
		f := p[w : w+int(n)]
		p = p[w+int(n):]
		return f, true
	}
	for len(p) > 0 {
		kind, ok := field()
		if !ok {
			return nil, false
		}
		key, ok := field()
		if !ok {
			return nil, false
		}
		v, w := binary.Uvarint(p)
		if w <= 0 || v > uint64(len(p)-w)+1 {
			return nil, false
		}
		p = p[w:]
		var val []byte // nil: a deletion
		if v > 0 {
			val, p = p[:v-1:v-1], p[v-1:]
		}
		recs = append(recs, rec{Kind(kind), string(key), val})
	}
	return recs, true
}

// apply writes recs into their buckets, in order.
func apply(tx *bolt.Tx, recs []rec) error {
	var bk *bolt.Bucket
	var kind Kind
	for _, r := range recs {
		if bk == nil || r.kind != kind {
			var err error
			if bk, err = tx.CreateBucketIfNotExists(bytesOf(string(r.kind))); err != nil {
				return fmt.Errorf("%s: %w", r.kind, err)
			}
			kind = r.kind
		}
		var err error
		if r.val == nil {
			err = bk.Delete(bytesOf(r.key))
		} else {
			err = bk.Put(bytesOf(r.key), r.val)
		}
		if err != nil {
			return fmt.Errorf("%s/%s: %w", r.kind, r.key, err)
		}
	}
	return nil
}

// bytesOf is s without a copy. bbolt only reads a key it is given (Put
// stores a clone), and the key outlives the call.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// replay merges the journal files a crash (or a Close whose merge failed)
// left behind, oldest first, and removes them; it returns the seq the
// next segment takes.
func replay(db *bolt.DB, base string, fsync bool) (next uint64, replayed int, err error) {
	seqs, err := segments(base)
	if err != nil {
		return 0, 0, err
	}
	next = 1
	for _, seq := range seqs {
		path := segmentPath(base, seq)
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, replayed, err
		}
		recs, _, err := decode(data)
		if err != nil {
			return 0, replayed, fmt.Errorf("%s: %w", path, err)
		}
		if len(recs) > 0 {
			if err := db.Update(func(tx *bolt.Tx) error { return apply(tx, recs) }); err != nil {
				return 0, replayed, fmt.Errorf("%s: %w", path, err)
			}
		}
		if err := removeSegment(path, fsync); err != nil {
			return 0, replayed, err
		}
		replayed += len(recs)
		next = seq + 1
	}
	return next, replayed, nil
}

// removeSegment deletes a merged segment. Under Fsync the removal is made
// durable before the next segment is merged: a file that came back after a
// power loss would be replayed over the newer writes merged after it.
func removeSegment(path string, fsync bool) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if fsync {
		return syncDir(path)
	}
	return nil
}

func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
