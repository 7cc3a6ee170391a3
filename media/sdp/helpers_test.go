package sdp

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with the file at path, or rewrites the file under
// -update. Goldens are stored with LF line endings so they read well in a
// diff; got must have CRLF ones only.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if bytes.Count(got, []byte("\n")) != bytes.Count(got, []byte("\r\n")) {
		t.Errorf("%s: output has a line ending that is not CRLF: %q", path, got)
	}
	got = bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n"))
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got %s\nwant %s", path, got, want)
	}
}

// input is testdata/rewrite/<name>.sdp with CRLF line endings, as it comes
// in a SIP body (the files have LF to read well).
func input(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/rewrite/" + name + ".sdp")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// key is a made-up key of n bytes, the same in every run.
func key(seed byte, n int) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}
