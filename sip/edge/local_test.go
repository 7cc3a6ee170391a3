package edge

import (
	"slices"
	"testing"
)

// TestLocalHostPorts: a listener on an unspecified address is reached
// through every host of ours, one on a given address through that address
// and our names, never through our other addresses.
func TestLocalHostPorts(t *testing.T) {
	hosts := map[string]bool{"example.com": true, "localhost": true, "127.0.0.1": true, "192.0.2.5": true, "::1": true}
	tests := []struct {
		name      string
		listeners []Listener
		want      []string
	}{
		{"unspecified", []Listener{{"udp", "0.0.0.0:5060"}, {"tcp", "0.0.0.0:5060"}},
			[]string{"127.0.0.1:5060", "192.0.2.5:5060", "[::1]:5060", "example.com:5060", "localhost:5060"}},
		{"one address", []Listener{{"udp", "192.0.2.5:5070"}},
			[]string{"192.0.2.5:5070", "example.com:5070", "localhost:5070"}},
		{"ipv6", []Listener{{"udp", "[::1]:5080"}}, []string{"[::1]:5080", "example.com:5080", "localhost:5080"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := localHostPorts(hosts, tc.listeners)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}
