package store_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/store"
)

// BenchmarkSaveRandomKeys reproduces the server under a REGISTER load of
// new AORs: a file already holding 50,000 registrations of 150 B, and
// writers that each save a new random AOR and wait for its done before the
// next one, as a registrar actor waits before answering. With 4 writers
// the batches are of 1 to 4 writes, as at 5,000 REGISTER/s; with 128 they
// are large. batch/commit is the mean writes per commit. The timer stops
// after Close, so the figures include merging every write into bbolt; the
// key strings are built before it starts.
func BenchmarkSaveRandomKeys(b *testing.B) {
	for _, writers := range []int{4, 1024} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			reg := prometheus.NewRegistry()
			s, err := store.OpenBolt(store.BoltConfig{Path: filepath.Join(b.TempDir(), "b2bua.db")}, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			val := make([]byte, 150)
			fill(b, s, 50000, val)
			s.SetMetrics(store.NewMetrics(reg))
			keys := make([]string, b.N)
			for i := range keys {
				keys[i] = fmt.Sprintf("sip:user%d@localhost", 1_000_000+rand.IntN(1_000_000_000))
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res := make(chan error, 1)
					done := func(err error) { res <- err }
					for {
						i := int(next.Add(1)) - 1
						if i >= len(keys) {
							return
						}
						s.Save("reg", keys[i], val, done)
						if err := <-res; err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if sum, count := histogramSumCount(b, reg, "b2bua_store_batch_writes"); count > 0 {
				b.ReportMetric(sum/count, "batch/commit")
			}
		})
	}
}

// fill saves n registrations sip:userI@localhost, 2,000 at a time.
func fill(tb testing.TB, s store.Store, n int, val []byte) {
	tb.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		s.Save("reg", fmt.Sprintf("sip:user%d@localhost", i), val, func(err error) {
			if err != nil {
				tb.Error(err)
			}
			wg.Done()
		})
		if i%2000 == 1999 {
			wg.Wait()
		}
	}
	wg.Wait()
}

func histogramSumCount(tb testing.TB, reg *prometheus.Registry, name string) (sum, count float64) {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleSum(), float64(h.GetSampleCount())
		}
	}
	return 0, 0
}
