package edge_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
)

// TestMethodLabelBounded sends requests with made-up method names over UDP
// and TCP: each gets 405, and the method label of the request counter
// takes only the method table's names and "other", so a client cannot
// grow the server's series (and memory) without bound.
func TestMethodLabelBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := startServerOpts(t, options{metrics: edge.NewMetrics(reg)})
	r := rand.New(rand.NewPCG(3, 4))
	for _, network := range []string{"udp", "tcp"} {
		c := s.dial(t, network)
		for i := range 40 {
			method := randomToken(r)
			res, err := c.Do(siptest.Lines(
				method+" sip:localhost SIP/2.0",
				"Via: SIP/2.0/"+map[string]string{"udp": "UDP", "tcp": "TCP"}[network]+" "+c.LocalAddr()+fmt.Sprintf(";branch=z9hG4bK-m%d%s", i, network),
				"From: <sip:m@localhost>;tag=1",
				"To: <sip:m@localhost>",
				fmt.Sprintf("Call-ID: m-%d-%s", i, network),
				"CSeq: 1 "+method,
				"Content-Length: 0",
			), 2*time.Second)
			if err != nil || siptest.Status(res) != 405 {
				t.Fatalf("%s: %v\n%s", method, err, res)
			}
		}
		if res, err := c.Do(optionsTo(c, "m-options-"+network), 2*time.Second); err != nil || siptest.Status(res) != 200 {
			t.Fatalf("OPTIONS: %v\n%s", err, res)
		}
	}
	labels := methodLabels(t, reg)
	if len(labels) != 2 || labels["other"] != 80 || labels["OPTIONS"] != 2 {
		t.Fatalf("method labels %v, want other: 80 and OPTIONS: 2", labels)
	}
}

// randomToken is a method name nobody implements: upper-case letters.
func randomToken(r *rand.Rand) string {
	b := make([]byte, 3+r.IntN(10))
	for i := range b {
		b[i] = byte('A' + r.IntN(26))
	}
	return "X" + string(b)
}

// methodLabels sums b2bua_sip_requests_total by method label.
func methodLabels(t *testing.T, reg *prometheus.Registry) map[string]int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range families {
		if f.GetName() != "b2bua_sip_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					out[l.GetValue()] += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return out
}
