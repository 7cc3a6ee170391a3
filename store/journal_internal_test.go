package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

// writeSegment writes the journal file seq of the database at base, one
// frame per batch, then appends tail (a torn frame, say) as a crash would
// leave it.
func writeSegment(t testing.TB, base string, seq uint64, batches [][]op, tail []byte) {
	t.Helper()
	out := make(chan *segment, 1)
	j := &journal{base: base, next: seq, out: out}
	for _, batch := range batches {
		if err := j.append(batch, nil); err != nil {
			t.Fatal(err)
		}
	}
	if j.cur == nil {
		if err := j.open(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := j.cur.f.WriteAt(tail, j.cur.size); err != nil {
		t.Fatal(err)
	}
	if err := j.rotate(); err != nil {
		t.Fatal(err)
	}
}

func save(kind Kind, key, val string) op { return op{kind: kind, key: key, val: []byte(val)} }
func del(kind Kind, key string) op       { return op{kind: kind, key: key} }

func TestJournalDecode(t *testing.T) {
	two := [][]op{
		{save("reg", "sip:a@x", "1"), save("reg", "sip:b@x", ""), del("reg", "sip:c@x")},
		{save("w", "a\x00b", "watch")},
	}
	all := []rec{
		{"reg", "sip:a@x", []byte("1")}, {"reg", "sip:b@x", []byte{}}, {"reg", "sip:c@x", nil},
		{"w", "a\x00b", []byte("watch")},
	}
	for _, tc := range []struct {
		name    string
		batches [][]op
		edit    func([]byte) []byte // the file as a crash left it
		want    []rec
		err     bool
	}{
		{name: "two frames", batches: two, want: all},
		{name: "created, nothing written", edit: func([]byte) []byte { return nil }},
		{name: "torn while created", edit: func(b []byte) []byte { return b[:5] }},
		{name: "torn last frame", batches: two, edit: func(b []byte) []byte { return b[:len(b)-3] }, want: all[:3]},
		{name: "torn frame header", batches: two, edit: func(b []byte) []byte { return b[:len(b)-12-4] }, want: all[:3]},
		{name: "bad checksum", batches: two, edit: func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, want: all[:3]},
		{name: "garbage after the frames", batches: two, edit: func(b []byte) []byte { return append(b, 1, 2, 3, 4, 5, 6, 7, 8, 9) }, want: all},
		{name: "not a journal", edit: func([]byte) []byte { return []byte("bbolt, or another version\n") }, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "db")
			writeSegment(t, base, 1, tc.batches, nil)
			data, err := os.ReadFile(segmentPath(base, 1))
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				data = tc.edit(data)
			}
			got, _, err := decode(data)
			if (err != nil) != tc.err {
				t.Fatalf("decode: %v, want an error: %v", err, tc.err)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Fatalf("decode = %q\nwant     %q", got, tc.want)
			}
		})
	}
}

// TestOpenReplaysTheJournal leaves on disk what a crash leaves: a segment
// already merged but not removed, a later one with a key written several
// times and a deletion, and a last one ending in a torn frame. Opening
// merges them in order before anything reads the file.
func TestOpenReplaysTheJournal(t *testing.T) {
	base := filepath.Join(t.TempDir(), "b2bua.db")
	b, err := OpenBolt(BoltConfig{Path: base}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []op{save("reg", "a", "old"), save("reg", "b", "old"), save("reg", "gone", "x"), save("reg", "a", "merged")} {
		done := make(chan error, 1)
		b.Save(o.kind, o.key, o.val, func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	writeSegment(t, base, 7, [][]op{{save("reg", "a", "merged")}}, nil) // merged, then the crash
	writeSegment(t, base, 8, [][]op{
		{save("reg", "a", "2"), del("reg", "gone")},
		{save("reg", "c", "new"), save("reg", "a", "3")},
	}, nil)
	torn := []byte{40, 0, 0, 0, 1, 2, 3, 4, 3, 'r', 'e', 'g'}
	writeSegment(t, base, 9, [][]op{{save("reg", "b", "4")}}, torn)

	b, err = OpenBolt(BoltConfig{Path: base, MergeInterval: time.Hour}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if seqs, _ := segments(base); len(seqs) != 0 {
		t.Fatalf("journal files %v left after the replay", seqs)
	}
	if unmergedKeys(b) != 0 {
		t.Fatal("the replay went through the index, not into the file")
	}
	var got [][2]string
	if err := b.Scan("reg", func(k string, v []byte) error { got = append(got, [2]string{k, string(v)}); return nil }); err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"a", "3"}, {"b", "4"}, {"c", "new"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after the replay: %q, want %q", got, want)
	}
	if _, err := b.Load("reg", "gone"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a deletion in the journal: Load err = %v", err)
	}
	// The next segment does not reuse a replayed name.
	done := make(chan error, 1)
	b.Save("reg", "d", []byte("after"), func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if seqs, _ := segments(base); !reflect.DeepEqual(seqs, []uint64{10}) {
		t.Fatalf("journal files %v after a write, want [10]", seqs)
	}
}

// TestOpenRefusesAForeignJournal: a file named like a segment that is not
// one stops the open rather than being dropped.
func TestOpenRefusesAForeignJournal(t *testing.T) {
	base := filepath.Join(t.TempDir(), "b2bua.db")
	if err := os.WriteFile(segmentPath(base, 1), []byte("something else entirely"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := OpenBolt(BoltConfig{Path: base}, zap.NewNop()); err == nil {
		b.Close()
		t.Fatal("opened over a journal file it cannot read")
	}
}

// FuzzDecodeJournal: decoding any bytes neither panics nor returns
// records past the end of the frames it accepted.
func FuzzDecodeJournal(f *testing.F) {
	base := filepath.Join(f.TempDir(), "db")
	writeSegment(f, base, 1, [][]op{{save("reg", "sip:a@x", "1"), del("reg", "b")}, {save("w", "k", "")}}, nil)
	seed, err := os.ReadFile(segmentPath(base, 1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(journalMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, end, err := decode(data)
		if err != nil {
			return
		}
		if end > len(data) {
			t.Fatalf("frames end at %d past %d bytes", end, len(data))
		}
		again, end2, _ := decode(data[:end])
		if end2 != end || len(again) != len(recs) {
			t.Fatalf("decoding the accepted prefix again: %d records to %d, want %d to %d", len(again), end2, len(recs), end)
		}
	})
}

// TestFailedMergesAreRetried: while merges fail (a full disk, say) the
// writes stay readable from the index and are acknowledged; a merge that
// succeeds later empties the index. A Close whose merges keep failing
// returns an error and leaves the journal, which the next open replays.
func TestFailedMergesAreRetried(t *testing.T) {
	path, b, m := openMergingEveryTwo(t)
	var failing atomic.Int32
	failing.Store(3) // the next three merges fail
	b.testHookMerge = func() error {
		if failing.Add(-1) >= 0 {
			return errors.New("disk full")
		}
		return nil
	}
	write := func(key, val string) { t.Helper(); saveSync(t, b, key, val) }
	write("a", "1")
	write("b", "2")
	if v, err := b.Load("reg", "a"); err != nil || string(v) != "1" {
		t.Fatalf("during failing merges: Load = %q, %v", v, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for unmergedKeys(b) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the merge was not retried")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := testutil.ToFloat64(m.mergeFailed); got != 3 {
		t.Fatalf("merge_errors_total %v, want 3", got)
	}

	failing.Store(1 << 30) // from now on, every merge fails
	write("a", "3")
	write("c", "4")
	if err := b.Close(); !errors.Is(err, errUnmerged) {
		t.Fatalf("Close with failing merges: %v, want errUnmerged", err)
	}
	if seqs, _ := segments(path); len(seqs) == 0 {
		t.Fatal("Close dropped the journal it could not merge")
	}
	b, err := OpenBolt(BoltConfig{Path: path}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tc := range []struct{ key, want string }{{"a", "3"}, {"b", "2"}, {"c", "4"}} {
		if v, err := b.Load("reg", tc.key); err != nil || string(v) != tc.want {
			t.Fatalf("after the replay: Load(%s) = %q, %v; want %q", tc.key, v, err, tc.want)
		}
	}
}

// TestMergerCatchesUpInOneTransaction: segments that queue up while a
// merge runs are merged together, in order, in one transaction, and every
// write lands with its latest value.
func TestMergerCatchesUpInOneTransaction(t *testing.T) {
	path, b, m := openMergingEveryTwo(t)
	hold, held := make(chan struct{}), make(chan struct{}, 1)
	var first atomic.Bool
	b.testHookMerge = func() error {
		if first.CompareAndSwap(false, true) {
			held <- struct{}{}
			<-hold // the first merge waits while later segments queue
		}
		return nil
	}
	write := func(key, val string) { t.Helper(); saveSync(t, b, key, val) }
	write("a", "1")
	write("b", "1") // segment 1 full: its merge starts and holds
	<-held
	for i := range 5 { // segments 2-6 queue behind it; "a" written in each
		write("a", strconv.Itoa(i+2))
		write("k"+strconv.Itoa(i), "x")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(b.segments) < 5 { // the last rotation follows its write's done
		if time.Now().After(deadline) {
			t.Fatalf("%d segments queued, want 5", len(b.segments))
		}
		time.Sleep(time.Millisecond)
	}
	close(hold)
	for unmergedKeys(b) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the queued segments were not merged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := testutil.CollectAndCount(m.mergeWrites); got != 1 {
		t.Fatalf("%d merge series", got)
	}
	var hist dto.Metric
	if err := m.mergeWrites.Write(&hist); err != nil {
		t.Fatal(err)
	}
	if n := hist.GetHistogram().GetSampleCount(); n != 2 {
		t.Fatalf("%d merges, want 2: the first, then the five queued segments together", n)
	}
	if seqs, _ := segments(path); len(seqs) != 0 {
		t.Fatalf("journal files left after the merges: %v", seqs)
	}
	if v, err := b.Load("reg", "a"); err != nil || string(v) != "6" {
		t.Fatalf("Load(a) = %q, %v; want the last write, 6", v, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// saveSync saves val as the "reg" record of key and waits for its done.
func saveSync(t *testing.T, b *Bolt, key, val string) {
	t.Helper()
	done := make(chan error, 1)
	b.Save("reg", key, []byte(val), func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// openMergingEveryTwo opens a store in a temp dir whose journal segments
// hold two writes each (so every second write starts a merge), with
// metrics; the caller closes it.
func openMergingEveryTwo(t *testing.T) (string, *Bolt, *Metrics) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b2bua.db")
	b, err := OpenBolt(BoltConfig{Path: path, MergeWrites: 2}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	b.SetMetrics(m)
	return path, b, m
}
