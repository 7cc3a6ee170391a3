package config

import (
	"errors"
	"math"
	"testing"
)

func TestResolveRuntime(t *testing.T) {
	const gib = 1 << 30
	machine := func() (uint64, error) { return 8 * gib, nil }
	unknown := func() (uint64, error) { return 0, errors.New("no cgroup, no meminfo") }
	tests := []struct {
		name      string
		gcPercent int
		limit     string
		env       map[string]string
		available func() (uint64, error)
		want      Runtime
	}{
		{"defaults", 0, "", nil, machine,
			Runtime{GCPercent: DefaultGCPercent, GCFrom: "default", MemoryLimit: 6 * gib, LimitFrom: "cgroup or machine"}},
		{"GOGC wins over the default", 0, "", map[string]string{"GOGC": "150"}, machine,
			Runtime{GCPercent: 150, GCFrom: "GOGC", MemoryLimit: 6 * gib, LimitFrom: "cgroup or machine"}},
		{"GOGC off", 0, "", map[string]string{"GOGC": "off"}, machine,
			Runtime{GCPercent: -1, GCFrom: "GOGC", MemoryLimit: 6 * gib, LimitFrom: "cgroup or machine"}},
		{"unparsable GOGC keeps the default", 0, "", map[string]string{"GOGC": "lots"}, machine,
			Runtime{GCPercent: DefaultGCPercent, GCFrom: "default", MemoryLimit: 6 * gib, LimitFrom: "cgroup or machine"}},
		{"configuration wins over GOGC", 200, "", map[string]string{"GOGC": "150"}, machine,
			Runtime{GCPercent: 200, GCFrom: "config", MemoryLimit: 6 * gib, LimitFrom: "cgroup or machine"}},
		{"configured limit", 0, "800MiB", map[string]string{"GOMEMLIMIT": "1GiB"}, machine,
			Runtime{GCPercent: DefaultGCPercent, GCFrom: "default", MemoryLimit: 800 << 20, LimitFrom: "config"}},
		{"GOMEMLIMIT is left to the runtime", 0, "", map[string]string{"GOMEMLIMIT": "1GiB"}, machine,
			Runtime{GCPercent: DefaultGCPercent, GCFrom: "default", MemoryLimit: -1, LimitFrom: "GOMEMLIMIT"}},
		{"none", 0, NoMemoryLimit, nil, machine,
			Runtime{GCPercent: DefaultGCPercent, GCFrom: "default", MemoryLimit: math.MaxInt64, LimitFrom: "none"}},
		{"memory unknown: no limit", 0, "", nil, unknown,
			Runtime{GCPercent: DefaultGCPercent, GCFrom: "default", MemoryLimit: math.MaxInt64, LimitFrom: "none"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.GCPercent, c.MemoryLimit = tc.gcPercent, tc.limit
			getenv := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			if got := c.ResolveRuntime(getenv, tc.available); got != tc.want {
				t.Fatalf("ResolveRuntime = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAvailableMemory(t *testing.T) {
	n, err := AvailableMemory()
	if err != nil || n == 0 {
		t.Fatalf("AvailableMemory = %d, %v: want the cgroup's or the machine's memory", n, err)
	}
}
