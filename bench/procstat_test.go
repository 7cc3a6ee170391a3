package bench

import (
	"os"
	"testing"
	"time"
)

func TestProcSampler(t *testing.T) {
	p := newProcSampler(os.Getpid())
	deadline := time.Now().Add(200 * time.Millisecond)
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

func TestProcTree(t *testing.T) {
	pids, err := descendants(os.Getppid())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pids {
		found = found || p == os.Getpid()
	}
	if !found || pids[0] != os.Getppid() {
		t.Fatalf("%d not below its parent: %v", os.Getpid(), pids)
	}
	if pss, ok := readPSS(os.Getpid()); ok && pss == 0 {
		t.Error("zero PSS")
	}
}
