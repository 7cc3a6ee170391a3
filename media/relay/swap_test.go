package relay

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b2bua/b2bua/media/sdp"
)

// TestLinkSwap is early media from two forks: the caller's stream is
// relinked between the forks' streams while all three endpoints send.
// Run under -race: the readers must see every link and remote only
// through the atomics.
func TestLinkSwap(t *testing.T) {
	for _, suite := range []sdp.Suite{sdp.None, sdp.AES_CM_128_HMAC_SHA1_80} {
		t.Run(suite.String(), func(t *testing.T) {
			caller := newEndpoint(t, key(suite, 1), key(suite, 2))
			f1, f2 := newEndpoint(t, key(suite, 3), key(suite, 4)), newEndpoint(t, key(suite, 5), key(suite, 6))
			a, s1, s2 := newStream(t, Options{}, true), newStream(t, Options{}, true), newStream(t, Options{}, true)
			a.SetRemote(caller.remote())
			s1.SetRemote(f1.remote())
			s2.SetRemote(f2.remote())
			var stop atomic.Bool
			var wg sync.WaitGroup
			for _, x := range []struct {
				e    *endpoint
				s    *Stream
				ssrc uint32
			}{{caller, a, 0xCA}, {f1, s1, 0xF1}, {f2, s2, 0xF2}} {
				// Each endpoint encrypts on its own goroutine with its own context.
				wg.Go(func() {
					for seq := uint16(0); !stop.Load(); seq++ {
						x.e.sendRTP(x.s.LocalRTP(), seq, x.ssrc, []byte("media"))
						time.Sleep(100 * time.Microsecond)
					}
				})
			}
			// The caller hears both forks, one at a time.
			heard := map[uint32]int{}
			var rmu sync.Mutex
			wg.Go(func() {
				for !stop.Load() {
					b := caller.recv(caller.rtp, 20*time.Millisecond)
					if b == nil {
						continue
					}
					if caller.dec != nil {
						var err error
						if b, err = caller.dec.DecryptRTP(nil, b, nil); err != nil {
							t.Errorf("caller decrypt: %v", err)
							return
						}
					}
					rmu.Lock()
					heard[uint32(b[8])<<24|uint32(b[9])<<16|uint32(b[10])<<8|uint32(b[11])]++
					rmu.Unlock()
				}
			})
			for i := range 200 {
				Link(a, []*Stream{s1, s2}[i%2])
				time.Sleep(time.Millisecond)
			}
			Link(a, nil)
			stop.Store(true)
			wg.Wait()
			rmu.Lock()
			defer rmu.Unlock()
			if heard[0xF1] == 0 || heard[0xF2] == 0 {
				t.Fatalf("caller heard %v", heard)
			}
			if st := a.Stats(); st.AuthFailed != 0 || st.Hijack != 0 {
				t.Fatalf("caller stream %+v", st)
			}
		})
	}
}

// TestReaderPanic: a reader that panics closes its stream, reports once
// through Failed, and leaves no goroutine behind (TestMain's goleak).
func TestReaderPanic(t *testing.T) {
	for _, kind := range []int{kindRTP, kindRTCP} {
		t.Run([]string{"RTP", "RTCP"}[kind], func(t *testing.T) {
			failed := make(chan any, 2)
			s := NewStream(listen(t), listen(t), Options{Failed: func(r any) { failed <- r }})
			s.hook = func(k int) {
				if k == kind {
					panic("boom")
				}
			}
			s.Start()
			ep := newEndpoint(t, Crypto{}, Crypto{})
			to := s.LocalRTP()
			if kind == kindRTCP {
				to = localRTCP(s)
			}
			ep.sendFrom(ep.rtp, to, rtpPacket(t, 1, 1, []byte("x")))
			select {
			case r := <-failed:
				if r != "boom" {
					t.Fatalf("Failed(%v)", r)
				}
			case <-time.After(wait):
				t.Fatal("Failed not called")
			}
			done := make(chan error)
			go func() { done <- s.Close() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(wait):
				t.Fatal("Close hangs after a panic")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.conns[kindRTP].WriteToUDPAddrPort([]byte("x"), addr(ep.rtp)); err == nil || !errors.Is(err, net.ErrClosed) {
				t.Fatalf("socket still open: %v", err)
			}
			if len(failed) != 0 {
				t.Fatal("Failed called twice")
			}
		})
	}
}

// TestFailedMayClose: Failed may call Close itself (the media-leg actor
// might), without deadlocking on the reader it runs on.
func TestFailedMayClose(t *testing.T) {
	var s *Stream
	done := make(chan struct{})
	s = NewStream(listen(t), listen(t), Options{Failed: func(any) { s.Close(); close(done) }})
	s.hook = func(int) { panic("boom") }
	s.Start()
	ep := newEndpoint(t, Crypto{}, Crypto{})
	ep.sendFrom(ep.rtp, s.LocalRTP(), rtpPacket(t, 1, 1, nil))
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Close from Failed deadlocked")
	}
	s.Close()
}

func TestCloseIdempotent(t *testing.T) {
	a, b := newStream(t, Options{}, true), newStream(t, Options{}, false)
	Link(a, b)
	for range 3 {
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if a.route.Load() != nil || b.route.Load() != nil {
		t.Fatal("a closed stream stays linked")
	}
	b.Close() // never started
	Link(nil, b)
	Link(nil, nil)
}
