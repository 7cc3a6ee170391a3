package pidf

import (
	"testing"
	"time"
)

// typicalComposed is what a watcher of an ordinary user gets: two devices and a registration.
func typicalComposed() *Document {
	t0 := time.Unix(1_800_000_000, 0)
	desk := State{Status: StatusBusy, Note: "deadline", Device: "urn:uuid:desk", Caps: CapAudio | CapVideo}.Document("sip:alice@example.com")
	mobile := State{Status: StatusAway, Note: "at lunch", Device: "urn:uuid:mobile", Location: "restaurant"}.Document("sip:alice@example.com")
	return Compose("sip:alice@example.com", Publication(desk, t0), Publication(mobile, t0.Add(time.Minute)),
		Registration("sip:alice@198.51.100.7:5060", true))
}

func BenchmarkMarshal(b *testing.B) {
	d := typicalComposed()
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(d.Marshal())))
		for b.Loop() {
			_ = d.Marshal()
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 2048)
		b.SetBytes(int64(len(d.Marshal())))
		for b.Loop() {
			buf = d.AppendXML(buf[:0])
		}
	})
}

func BenchmarkParse(b *testing.B) {
	body := typicalComposed().Marshal()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompose(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = typicalComposed()
	}
}

// TestAppendXMLNoAllocs: rendering a typical document into a reused buffer does not allocate.
func TestAppendXMLNoAllocs(t *testing.T) {
	d := typicalComposed()
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = d.AppendXML(buf[:0]) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
