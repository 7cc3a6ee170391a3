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

func TestParseProcIO(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ProcIO
		bad  bool
	}{
		{name: "proc(5) example", in: "rchar: 323934931\nwchar: 323929600\nsyscr: 632687\nsyscw: 632675\n" +
			"read_bytes: 0\nwrite_bytes: 323932160\ncancelled_write_bytes: 0\n",
			want: ProcIO{Wchar: 323929600, WriteBytes: 323932160, OK: true}},
		{name: "no write_bytes", in: "rchar: 1\nwchar: 2\n", bad: true},
		{name: "bad number", in: "wchar: x\nwrite_bytes: 1\n", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcIO([]byte(tc.in))
			if (err != nil) != tc.bad || got != tc.want {
				t.Errorf("parseProcIO = %+v, %v; want %+v, bad %v", got, err, tc.want, tc.bad)
			}
		})
	}
}
