package config

import (
	"math"
	"strconv"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// NoMemoryLimit is the MemoryLimit that sets none.
const NoMemoryLimit = "none"

// DefaultGCPercent is the GOGC the server runs with when neither the
// configuration nor GOGC sets one. Go's 100 collects every time the heap
// doubles; a registrar under load allocates garbage at a steady rate over a
// live heap that only grows, so the collector's mark phases (and the
// assists they charge to request goroutines) are the REGISTER latency tail.
// 400 collects a fifth as often for about 2.5 times the heap between
// collections; the memory limit below keeps that bounded (README,
// Performance: "Runtime defaults").
const DefaultGCPercent = 400

// autoLimitRatio is the share of the available memory that becomes the
// soft limit when none is configured.
const autoLimitRatio = 0.75

// Runtime is what the Go runtime is set to: the collector's percentage
// (-1 off) and the soft memory limit in bytes (math.MaxInt64: none), and
// where each came from, for the start-up log.
type Runtime struct {
	GCPercent   int
	GCFrom      string // "config", "GOGC" or "default"
	MemoryLimit int64
	LimitFrom   string // "config", "GOMEMLIMIT", "cgroup or machine" or "none"
}

// ResolveRuntime works out the runtime settings of c. getenv looks up GOGC
// and GOMEMLIMIT; available reports the memory the process may use (its
// cgroup's limit, else the machine's). The caller applies the result
// (debug.SetGCPercent, debug.SetMemoryLimit).
func (c Config) ResolveRuntime(getenv func(string) (string, bool), available func() (uint64, error)) Runtime {
	r := Runtime{GCPercent: DefaultGCPercent, GCFrom: "default", MemoryLimit: math.MaxInt64, LimitFrom: "none"}
	switch gogc, set := getenv("GOGC"); {
	case c.GCPercent != 0:
		r.GCPercent, r.GCFrom = c.GCPercent, "config"
	case set && strings.EqualFold(strings.TrimSpace(gogc), "off"):
		r.GCPercent, r.GCFrom = -1, "GOGC"
	case set:
		if n, err := strconv.Atoi(strings.TrimSpace(gogc)); err == nil && n >= 0 {
			r.GCPercent, r.GCFrom = n, "GOGC"
		}
	}
	switch limit, _ := ParseBytes(c.MemoryLimit); {
	case c.MemoryLimit == NoMemoryLimit:
	case limit > 0:
		r.MemoryLimit, r.LimitFrom = limit, "config"
	default:
		if v, ok := getenv("GOMEMLIMIT"); ok && strings.TrimSpace(v) != "" {
			r.MemoryLimit, r.LimitFrom = -1, "GOMEMLIMIT" // the runtime parsed it already: leave it
			break
		}
		if avail, err := available(); err == nil && avail > 0 && avail < math.MaxInt64 {
			r.MemoryLimit, r.LimitFrom = int64(float64(avail)*autoLimitRatio), "cgroup or machine"
		}
	}
	return r
}

// AvailableMemory is the memory this process may use: its cgroup's limit
// (v1 or v2) when it has one, else the machine's physical memory.
func AvailableMemory() (uint64, error) {
	return memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)()
}
