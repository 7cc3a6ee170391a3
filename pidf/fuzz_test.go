package pidf

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// addSeeds adds every file matching the patterns to the fuzz corpus.
func addSeeds(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// FuzzDecode: a body that decodes re-encodes to a body that decodes to an equal Document, and encoding
// that again gives the same bytes.
func FuzzDecode(f *testing.F) {
	addSeeds(f, "testdata/rfc/*.xml", "testdata/compose/*.xml")
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			return
		}
		out := d.Marshal()
		d2, err := (Limits{MaxBytes: 1 << 30}).Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v\nin  %q\nout %q", err, b, out)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip differs\nin  %q\nout %q\n%#v\n%#v", b, out, d, d2)
		}
		if out2 := d2.Marshal(); !bytes.Equal(out, out2) {
			t.Fatalf("encoding not stable\n%q\n%q", out, out2)
		}
		_ = FromDocument(d)
	})
}

// FuzzDecodeWatcherInfo is FuzzDecode for watcherinfo bodies.
func FuzzDecodeWatcherInfo(f *testing.F) {
	addSeeds(f, "testdata/winfo-*.xml", "testdata/winfo-*.golden")
	f.Fuzz(func(t *testing.T, b []byte) {
		wi, err := ParseWatcherInfo(b)
		if err != nil {
			return
		}
		out := wi.Marshal()
		wi2, err := (Limits{MaxBytes: 1 << 30}).ParseWatcherInfo(out)
		if err != nil {
			t.Fatalf("re-parse: %v\nin  %q\nout %q", err, b, out)
		}
		if !reflect.DeepEqual(wi, wi2) {
			t.Fatalf("round trip differs\nin  %q\nout %q\n%#v\n%#v", b, out, wi, wi2)
		}
	})
}
