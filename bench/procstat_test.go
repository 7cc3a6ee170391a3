package bench

import (
	"os"
	"testing"
	"time"
)

func TestProcSampler(t *testing.T) {
	p := newProcSampler(os.Getpid())
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) { // burn a little CPU
	}
	s := p.sample(time.Now())
	if s.RSS == 0 || s.CPU <= 0 || s.CPU > 400 {
		t.Fatalf("sample %+v", s)
	}
	if st := p.stats(); st.PID != os.Getpid() || st.RSSMax == 0 {
		t.Fatalf("stats %+v", st)
	}
	off := newProcSampler(0)
	if s := off.sample(time.Now()); s != (ProcSample{}) {
		t.Fatalf("disabled sampler read %+v", s)
	}
	gone := newProcSampler(1 << 30)
	if s := gone.sample(time.Now()); s != (ProcSample{}) {
		t.Fatalf("missing pid read %+v", s)
	}
}
