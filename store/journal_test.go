package store_test

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/store"
)

// crashDirEnv tells the test binary, run again by
// TestAcknowledgedWritesSurviveKill9, to write and wait to be killed.
const crashDirEnv = "B2BUA_STORE_CRASH_DIR"

// crashWrites is what the child writes, in order, and the state it leaves:
// every key saved twice, one in five deleted, across many journal segments
// of which the last ones are not merged when it is killed.
func crashWrites() (ops []func(s store.Store, done func(error)), want map[string]string) {
	want = map[string]string{}
	for round := range 2 {
		for i := range 600 {
			key, val := fmt.Sprintf("sip:user%d@localhost", i), fmt.Sprintf("v%d-%d", round, i)
			ops = append(ops, func(s store.Store, done func(error)) { s.Save("reg", key, []byte(val), done) })
			want[key] = val
		}
	}
	for i := 0; i < 600; i += 5 {
		key := fmt.Sprintf("sip:user%d@localhost", i)
		ops = append(ops, func(s store.Store, done func(error)) { s.Delete("reg", key, done) })
		delete(want, key)
	}
	return ops, want
}

// crashChild writes crashWrites, says "acked" once every write was
// answered, and waits for its kill.
func crashChild(dir string) {
	s, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(dir, "b2bua.db"), MergeWrites: 256, MergeInterval: time.Hour}, zap.NewNop())
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	ops, _ := crashWrites()
	var wg sync.WaitGroup
	for i, o := range ops {
		wg.Add(1)
		o(s, func(err error) {
			if err != nil {
				fmt.Println("write:", err)
				os.Exit(1)
			}
			wg.Done()
		})
		if i%50 == 49 {
			wg.Wait() // batches of all sizes, as under load
		}
	}
	wg.Wait()
	fmt.Println("acked")
	select {}
}

// TestAcknowledgedWritesSurviveKill9 runs a process that writes, waits for
// every done, and is killed with SIGKILL before it merged its journal:
// opening the store then returns the latest value of every key, and the
// deleted keys stay deleted.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedWritesSurviveKill9$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	_ = cmd.Process.Kill() // SIGKILL: no Close, no merge
	_ = cmd.Wait()
	if strings.TrimSpace(line) != "acked" {
		t.Fatalf("child: %q", line)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "b2bua.db.journal.*"))
	if len(left) == 0 {
		t.Fatal("the child merged everything before its kill: the test proves nothing")
	}

	s := open(t, filepath.Join(dir, "b2bua.db"))
	defer s.Close()
	if left, _ := filepath.Glob(filepath.Join(dir, "b2bua.db.journal.*")); len(left) != 0 {
		t.Fatalf("journal files %v left after the open", left)
	}
	_, want := crashWrites()
	got := map[string]string{}
	if err := s.Scan("reg", func(k string, v []byte) error { got[k] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after the kill: %d records, want %d", len(got), len(want))
	}
	if _, err := s.Load("reg", "sip:user5@localhost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted key: %v", err)
	}
}

// TestReadsSeeUnmergedWrites: with the merge held back, Load, Scan and
// ScanPrefix read the journaled writes over the file: saves, overwrites
// and deletions of keys on file, and new keys; Scan in key order. Close
// merges them, and a reopened store reads the same from the file.
func TestReadsSeeUnmergedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b2bua.db")
	s := open(t, path)
	for _, k := range []string{"a\x00x", "a\x00y", "b\x00x", "c"} {
		save(t, s, "w", k, "file "+k)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenBolt(store.BoltConfig{Path: path, MergeInterval: time.Hour}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	save(t, s, "w", "a\x00y", "journal a.y") // overwrites the file
	save(t, s, "w", "a\x00a", "journal a.a") // new, sorts first
	save(t, s, "w", "bb", "journal bb")      // new, between two on file
	del := make(chan error, 1)
	s.Delete("w", "b\x00x", func(err error) { del <- err })
	if err := <-del; err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(path + ".journal.*"); len(left) != 1 {
		t.Fatalf("journal files %v, want the one being written", left)
	}
	want := [][2]string{{"a\x00a", "journal a.a"}, {"a\x00x", "file a\x00x"}, {"a\x00y", "journal a.y"}, {"bb", "journal bb"}, {"c", "file c"}}
	check := func(s store.Store, when string) {
		t.Helper()
		var got [][2]string
		if err := s.Scan("w", func(k string, v []byte) error { got = append(got, [2]string{k, string(v)}); return nil }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: Scan = %q\nwant %q", when, got, want)
		}
		prefixed := map[string]string{}
		if err := s.ScanPrefix("w", "a\x00", func(k string, v []byte) error { prefixed[k] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
		if wantA := map[string]string{"a\x00a": "journal a.a", "a\x00x": "file a\x00x", "a\x00y": "journal a.y"}; !reflect.DeepEqual(prefixed, wantA) {
			t.Fatalf("%s: ScanPrefix = %q, want %q", when, prefixed, wantA)
		}
		for _, tc := range []struct{ key, want string }{{"a\x00y", "journal a.y"}, {"bb", "journal bb"}, {"b\x00x", ""}} {
			v, err := s.Load("w", tc.key)
			if tc.want == "" && !errors.Is(err, store.ErrNotFound) || tc.want != "" && string(v) != tc.want {
				t.Fatalf("%s: Load(%q) = %q, %v; want %q", when, tc.key, v, err, tc.want)
			}
		}
	}
	check(s, "journaled")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(path + ".journal.*"); len(left) != 0 {
		t.Fatalf("journal files %v after Close", left)
	}
	s = open(t, path)
	defer s.Close()
	check(s, "merged and reopened")
}

// TestConcurrentWritersAndMerges: writers that each own their keys save,
// delete and read them back while merges run all the time and readers
// scan. Every Load returns the owner's last write, every Scan is in
// strict key order, and the reopened file holds the last writes.
func TestConcurrentWritersAndMerges(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsync=%v", fsync), func(t *testing.T) { concurrentWritersAndMerges(t, fsync) })
	}
}

func concurrentWritersAndMerges(t *testing.T, fsync bool) {
	path := filepath.Join(t.TempDir(), "b2bua.db")
	s, err := store.OpenBolt(store.BoltConfig{Path: path, Fsync: fsync, MergeWrites: 16, MergeInterval: time.Millisecond}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	const writers, keys, rounds = 6, 20, 150
	final := make([]map[string]string, writers)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			last := ""
			err := s.Scan("k", func(k string, _ []byte) error {
				if k <= last {
					return fmt.Errorf("Scan: %q after %q", k, last)
				}
				last = k
				return nil
			})
			if err == nil {
				err = s.ScanPrefix("k", "w1-", func(string, []byte) error { return nil })
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := map[string]string{}
			acks := make(chan error, rounds*keys)
			for r := range rounds {
				key := fmt.Sprintf("w%d-%02d", w, rand.IntN(keys))
				if r%7 == 3 {
					s.Delete("k", key, func(err error) { acks <- err })
					delete(mine, key)
				} else {
					val := fmt.Sprintf("%d", r)
					s.Save("k", key, []byte(val), func(err error) { acks <- err })
					mine[key] = val
				}
				v, err := s.Load("k", key)
				if want, ok := mine[key]; ok && string(v) != want || !ok && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Load(%s) = %q, %v right after writing %q", key, v, err, want)
				}
			}
			for range rounds {
				if err := <-acks; err != nil {
					t.Error(err)
				}
			}
			final[w] = mine
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	want := map[string]string{}
	for _, m := range final {
		for k, v := range m {
			want[k] = v
		}
	}
	got := map[string]string{}
	if err := s.Scan("k", func(k string, v []byte) error { got[k] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reopened: %d records, want %d", len(got), len(want))
	}
}

// TestWriterMayReuseItsValueAfterDone: once done ran the store holds its
// own copy of the value, in memory (Load, Scan, before the merge) and in
// the merge: a writer that recycles its buffer from done (a pool) changes
// nothing that was saved.
func TestWriterMayReuseItsValueAfterDone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b2bua.db")
	s, err := store.OpenBolt(store.BoltConfig{Path: path, MergeInterval: time.Hour}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	var wg sync.WaitGroup
	for i := range 100 {
		key, buf := fmt.Sprintf("sip:user%d@localhost", i), []byte(fmt.Sprintf("binding %d", i))
		want[key] = string(buf)
		wg.Add(1)
		s.Save("reg", key, buf, func(err error) {
			if err != nil {
				t.Error(err)
			}
			for j := range buf {
				buf[j] = 'X' // recycled
			}
			wg.Done()
		})
	}
	wg.Wait()
	check := func(s store.Store, when string) {
		t.Helper()
		got := map[string]string{}
		if err := s.Scan("reg", func(k string, v []byte) error { got[k] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: Scan = %q", when, got)
		}
		if v, err := s.Load("reg", "sip:user7@localhost"); err != nil || string(v) != "binding 7" {
			t.Fatalf("%s: Load = %q, %v", when, v, err)
		}
	}
	check(s, "journaled")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	check(s, "merged")
}
