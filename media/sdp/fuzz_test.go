package sdp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seeds are the golden inputs, CRLF and LF.
func seeds(f *testing.F) [][]byte {
	files, _ := filepath.Glob("testdata/rewrite/*.sdp")
	var s [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		s = append(s, b, bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
	}
	return s
}

// fuzzLocal is a Local for n streams.
func fuzzLocal(n int, port uint16, secure bool) Local {
	l := Local{Addr: relay4, SessionID: 1, Version: 2, Streams: make([]LocalStream, n)}
	for i := range l.Streams {
		l.Streams[i] = LocalStream{RTP: int(port % 65534), Secure: secure}
		if secure {
			l.Streams[i].Crypto = []Crypto{cm80, gcm}
		}
	}
	return l
}

// FuzzParse: Parse never panics, and what it accepts holds together: a
// stream with a port has an address, keys have their suite's length; the
// relay's rewrite of it parses back to as many streams, and rewriting
// that again changes nothing.
func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Parse(body)
		if err != nil {
			return
		}
		for _, s := range d.Streams {
			if s.Port < 0 || s.Port > 65535 || s.Port != 0 && !s.Addr.IsValid() {
				t.Fatalf("stream %+v", s)
			}
			for _, c := range s.Crypto {
				if c.Suite == None || len(c.Key) != c.Suite.KeyLen() {
					t.Fatalf("crypto %v with %d bytes", c.Suite, len(c.Key))
				}
			}
		}
		l := fuzzLocal(len(d.Streams), 30000, true)
		out, err := Rewrite(body, l)
		if err != nil {
			t.Fatalf("Parse took it, Rewrite: %v", err)
		}
		checkRewritten(t, out, l, len(d.Streams))
	})
}

// FuzzRewrite: Rewrite never panics; its output parses, has the streams
// of the input, and is a fixed point.
func FuzzRewrite(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, uint16(20000), false)
		f.Add(s, uint16(20002), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, port uint16, secure bool) {
		l := fuzzLocal(4, port, secure)
		out, err := Rewrite(body, l)
		if err != nil {
			return
		}
		d, err := Parse(out)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, out)
		}
		checkRewritten(t, out, l, len(d.Streams))
	})
}

func checkRewritten(t *testing.T, out []byte, l Local, n int) {
	t.Helper()
	d, err := Parse(out)
	if err != nil {
		t.Fatalf("output does not parse: %v\n%q", err, out)
	}
	if len(d.Streams) != n {
		t.Fatalf("%d streams out of %d\n%q", len(d.Streams), n, out)
	}
	for i, s := range d.Streams {
		if s.Port == 0 {
			continue
		}
		ls := l.Streams[i]
		if s.Port != ls.RTP || !s.RTP || s.Secure != ls.Secure || s.RTCPMux ||
			s.Addr != relay4 && !s.Addr.IsUnspecified() ||
			s.RTCP.Port() != uint16(ls.RTP+1) ||
			s.RTCP.Addr() != s.Addr && s.RTCP.Addr() != relay4 && !s.RTCP.Addr().IsUnspecified() {
			t.Fatalf("stream %d %+v for %+v\n%q", i, s, ls, out)
		}
		if ls.Secure && len(s.Crypto) != len(ls.Crypto) {
			t.Fatalf("stream %d: %d keys\n%q", i, len(s.Crypto), out)
		}
	}
	again, err := Rewrite(out, l)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("rewriting the output again: %v\n%q\n%q", err, out, again)
	}
}
