package ports

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

var lo = netip.MustParseAddr("127.0.0.1")

// freeRange finds an even port p with p..p+2*pairs-1 free on 127.0.0.1
// right now (other packages' tests run in parallel with these).
func freeRange(t *testing.T, pairs int) int {
	t.Helper()
	for range 100 {
		base := 40000 + 2*rand.IntN(9000)
		var held []*net.UDPConn
		ok := true
		for p := base; p < base+2*pairs; p++ {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func TestNewSize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo, hi int
		size   int
		err    error
	}{
		{"even bounds", 20000, 20009, 5, nil},
		{"odd low rounded up", 20001, 20010, 4, nil},
		{"even high: its RTCP is out of range", 20000, 20010, 5, nil},
		{"one pair", 20000, 20001, 1, nil},
		{"one port", 20000, 20000, 0, ErrRange},
		{"odd low leaves nothing", 20001, 20002, 0, ErrRange},
		{"above 65535", 65534, 65536, 0, ErrRange},
		{"zero", 0, 10, 0, ErrRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(lo, tc.lo, tc.hi, time.Second)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && a.Size() != tc.size {
				t.Fatalf("Size = %d, want %d", a.Size(), tc.size)
			}
		})
	}
}

// clock is a fake time.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestAlloc(t *testing.T) {
	type step struct {
		op   string // "alloc", "release" (of the i-th pair allocated), "wait", "hold" (bind a port outside)
		arg  int    // release: index of the allocated pair; wait: seconds; hold: offset from base
		port int    // alloc: expected port offset from base; -1: ErrExhausted
	}
	for _, tc := range []struct {
		name  string
		pairs int
		steps []step
	}{
		{"round robin then exhausted", 3, []step{
			{op: "alloc", port: 0}, {op: "alloc", port: 2}, {op: "alloc", port: 4}, {op: "alloc", port: -1},
		}},
		{"released pair is quarantined", 2, []step{
			{op: "alloc", port: 0}, {op: "alloc", port: 2}, {op: "release", arg: 0},
			{op: "alloc", port: -1}, {op: "wait", arg: 9}, {op: "alloc", port: -1},
			{op: "wait", arg: 1}, {op: "alloc", port: 0},
		}},
		{"round robin reuses a port as late as possible", 3, []step{
			{op: "alloc", port: 0}, {op: "release", arg: 0}, {op: "wait", arg: 10},
			{op: "alloc", port: 2}, {op: "alloc", port: 4}, {op: "alloc", port: 0},
		}},
		{"RTP port held by another socket", 3, []step{
			{op: "hold", arg: 2}, {op: "alloc", port: 0}, {op: "alloc", port: 4}, {op: "alloc", port: -1},
		}},
		{"RTCP port held by another socket", 3, []step{
			{op: "hold", arg: 1}, {op: "alloc", port: 2}, {op: "alloc", port: 4}, {op: "alloc", port: -1},
		}},
		{"double release counts once", 2, []step{
			{op: "alloc", port: 0}, {op: "release", arg: 0}, {op: "release", arg: 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := freeRange(t, tc.pairs)
			a, err := New(lo, base, base+2*tc.pairs-1, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c := &clock{t: time.Unix(1000, 0)}
			a.now = c.now
			var got []Pair
			defer func() {
				for _, p := range got {
					a.Release(p)
				}
			}()
			want := 0
			for i, s := range tc.steps {
				switch s.op {
				case "alloc":
					p, err := a.Alloc()
					if s.port < 0 {
						if !errors.Is(err, ErrExhausted) {
							t.Fatalf("step %d: err = %v, want ErrExhausted", i, err)
						}
						continue
					}
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					got = append(got, p)
					want++
					if p.Port != base+s.port {
						t.Fatalf("step %d: port %d, want %d", i, p.Port, base+s.port)
					}
					if ap := p.RTP.LocalAddr().(*net.UDPAddr); ap.Port != p.Port {
						t.Fatalf("step %d: RTP bound on %d", i, ap.Port)
					}
					if ap := p.RTCP.LocalAddr().(*net.UDPAddr); ap.Port != p.Port+1 {
						t.Fatalf("step %d: RTCP bound on %d", i, ap.Port)
					}
				case "release":
					if got[s.arg].RTP != nil { // not released yet
						want--
					}
					a.Release(got[s.arg])
					got[s.arg].RTP, got[s.arg].RTCP = nil, nil
				case "wait":
					c.t = c.t.Add(time.Duration(s.arg) * time.Second)
				case "hold":
					h, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: base + s.arg})
					if err != nil {
						t.Fatal(err)
					}
					defer h.Close()
				}
				if a.InUse() != want {
					t.Fatalf("step %d: InUse = %d, want %d", i, a.InUse(), want)
				}
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	const pairs = 8
	base := freeRange(t, pairs)
	a, err := New(lo, base, base+2*pairs-1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	held := map[int]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				p, err := a.Alloc()
				if errors.Is(err, ErrExhausted) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if held[p.Port] {
					t.Errorf("port %d handed out twice", p.Port)
				}
				held[p.Port] = true
				mu.Unlock()
				mu.Lock()
				delete(held, p.Port)
				mu.Unlock()
				a.Release(p)
			}
		})
	}
	wg.Wait()
	if a.InUse() != 0 {
		t.Fatalf("InUse = %d after all released", a.InUse())
	}
}
