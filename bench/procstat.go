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

// ProcSample is one reading of a process and its descendants: CPU in
// percent of one core over the last period (200 = two cores busy), memory
// (PSS, see readTree) in bytes.
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

// sample reads the process tree; the first reading only primes the
// counters. A process that is gone reads as zero.
func (p *procSampler) sample(now time.Time) ProcSample {
	if p.pid == 0 {
		return ProcSample{}
	}
	ticks, mem, err := readTree(p.pid)
	if err != nil {
		return ProcSample{}
	}
	var s ProcSample
	s.RSS = mem
	if p.primed {
		// A child that exited takes its ticks along: never go below 0.
		if dt := now.Sub(p.lastT).Seconds(); dt > 0 && ticks > p.lastTicks {
			s.CPU = float64(ticks-p.lastTicks) / clockTicks / dt * 100
		}
		p.sumCPU += s.CPU
		p.n++
		p.st.CPUMax = max(p.st.CPUMax, s.CPU)
		p.st.CPUAvg = p.sumCPU / float64(p.n)
	}
	p.primed, p.lastTicks, p.lastT = true, ticks, now
	p.st.RSSMax = max(p.st.RSSMax, mem)
	p.st.RSSLast = mem
	return s
}

func (p *procSampler) stats() ProcStats { return p.st }

// readTree sums CPU ticks and memory over pid and its descendants: Kamailio
// works in forked children, our server in one process. Memory is the PSS
// of /proc/PID/smaps_rollup, which splits shared pages (Kamailio's shared
// memory) among the processes mapping them, so the sum counts them once;
// it falls back to RSS where smaps_rollup is unreadable.
func readTree(pid int) (ticks, mem uint64, err error) {
	pids, err := descendants(pid)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range pids {
		st, err := readProcStat(p)
		if err != nil {
			if p == pid {
				return 0, 0, err
			}
			continue // exited meanwhile
		}
		ticks += st.ticks
		if pss, ok := readPSS(p); ok {
			mem += pss
		} else {
			mem += st.rss
		}
	}
	return ticks, mem, nil
}

// descendants returns pid and every process below it, found through the
// parent pid of every process in /proc.
func descendants(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(p); err == nil {
			children[st.ppid] = append(children[st.ppid], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// procStat is what readProcStat takes from /proc/PID/stat.
type procStat struct {
	ppid  int
	ticks uint64
	rss   uint64
}

// readProcStat reads ppid, utime+stime in ticks and RSS in bytes (proc(5):
// fields 4, 14, 15 and 24, counted after the parenthesised comm).
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("proc stat of %d: no comm", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("proc stat of %d: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state).
	ppid, err0 := strconv.Atoi(string(f[1]))
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	rss, err3 := strconv.ParseInt(string(f[21]), 10, 64)
	if err0 != nil || err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("proc stat of %d: bad number", pid)
	}
	return procStat{ppid: ppid, ticks: ut + st, rss: uint64(max(rss, 0)) * uint64(os.Getpagesize())}, nil
}

// readPSS returns the Pss line of /proc/PID/smaps_rollup in bytes.
func readPSS(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, false
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("Pss:")); ok {
			f := bytes.Fields(v)
			if len(f) == 0 {
				return 0, false
			}
			kb, err := strconv.ParseUint(string(f[0]), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// ProcIO is the write side of /proc/PID/io summed over a process tree
// (proc(5)): Wchar counts bytes passed to write(2) and its kin (files,
// pipes, stderr; not sendto/sendmsg, so not the SIP traffic of a server
// on an unconnected UDP socket), WriteBytes the bytes the tree caused to
// be sent to the block layer (0 on tmpfs; page-cache writes count once
// they are flushed, at once after an fsync). OK is false when the counters
// could not be read (another user's process without privileges).
type ProcIO struct {
	Wchar, WriteBytes uint64
	OK                bool
}

// ioOf reads the write counters of pid and its descendants; the zero
// ProcIO without pid.
func ioOf(pid int) ProcIO {
	if pid == 0 {
		return ProcIO{}
	}
	pids, err := descendants(pid)
	if err != nil {
		return ProcIO{}
	}
	var sum ProcIO
	for _, p := range pids {
		io, err := readProcIO(p)
		if err != nil {
			if p == pid {
				return ProcIO{}
			}
			continue // exited meanwhile
		}
		sum.Wchar += io.Wchar
		sum.WriteBytes += io.WriteBytes
		sum.OK = true
	}
	return sum
}

// readProcIO parses /proc/PID/io.
func readProcIO(pid int) (ProcIO, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return ProcIO{}, err
	}
	return parseProcIO(b)
}

// parseProcIO reads the wchar and write_bytes lines of a /proc/PID/io.
func parseProcIO(b []byte) (ProcIO, error) {
	var io ProcIO
	var seen int
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		var dst *uint64
		switch string(k) {
		case "wchar":
			dst = &io.Wchar
		case "write_bytes":
			dst = &io.WriteBytes
		default:
			continue
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return ProcIO{}, fmt.Errorf("proc io: %s: %w", k, err)
		}
		*dst = n
		seen++
	}
	if seen != 2 {
		return ProcIO{}, fmt.Errorf("proc io: wchar or write_bytes missing")
	}
	io.OK = true
	return io, nil
}
