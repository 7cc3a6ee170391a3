package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat: 100 on
// every Linux architecture Go runs on in practice.
const clockTicks = 100

// ProcSample is one reading of a process: CPU in percent of one core over
// the last period (200 = two cores busy), RSS in bytes.
type ProcSample struct {
	CPU float64 `json:"cpu_pct"`
	RSS uint64  `json:"rss_bytes"`
}

// ProcStats summarises the samples of a process over a run.
type ProcStats struct {
	PID     int     `json:"pid"`
	CPUAvg  float64 `json:"cpu_avg_pct"`
	CPUMax  float64 `json:"cpu_max_pct"`
	RSSMax  uint64  `json:"rss_max_bytes"`
	RSSLast uint64  `json:"rss_last_bytes"`
}

// procSampler reads /proc/PID/stat; PID 0 disables it.
type procSampler struct {
	pid       int
	lastTicks uint64
	lastT     time.Time
	primed    bool
	sumCPU    float64
	n         int
	st        ProcStats
}

func newProcSampler(pid int) *procSampler {
	p := &procSampler{pid: pid}
	p.st.PID = pid
	if pid != 0 {
		p.sample(time.Now()) // prime the CPU counter
	}
	return p
}

// sample reads the process; the first reading only primes the counters.
// A process that is gone reads as zero.
func (p *procSampler) sample(now time.Time) ProcSample {
	if p.pid == 0 {
		return ProcSample{}
	}
	ticks, rss, err := readProcStat(p.pid)
	if err != nil {
		return ProcSample{}
	}
	var s ProcSample
	s.RSS = rss
	if p.primed {
		if dt := now.Sub(p.lastT).Seconds(); dt > 0 {
			s.CPU = float64(ticks-p.lastTicks) / clockTicks / dt * 100
		}
		p.sumCPU += s.CPU
		p.n++
		p.st.CPUMax = max(p.st.CPUMax, s.CPU)
		p.st.CPUAvg = p.sumCPU / float64(p.n)
	}
	p.primed, p.lastTicks, p.lastT = true, ticks, now
	p.st.RSSMax = max(p.st.RSSMax, rss)
	p.st.RSSLast = rss
	return s
}

func (p *procSampler) stats() ProcStats { return p.st }

// readProcStat returns utime+stime in ticks and RSS in bytes (proc(5):
// fields 14, 15 and 24, counted after the parenthesised comm).
func readProcStat(pid int) (uint64, uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("proc stat of %d: no comm", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("proc stat of %d: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state).
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	rss, err3 := strconv.ParseInt(string(f[21]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, fmt.Errorf("proc stat of %d: bad number", pid)
	}
	return ut + st, uint64(max(rss, 0)) * uint64(os.Getpagesize()), nil
}
