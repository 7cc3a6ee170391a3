package registrar

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestFlow(t *testing.T) {
	for _, c := range []struct {
		name, contact, source string
		path                  []string
		want                  string // "" = the Contact
	}{
		{"routable contact", "sip:a@192.0.2.10:5070", "udp:192.0.2.10:5060", nil, ""},
		{"loopback, another port", "sip:a@127.0.0.1:5070", "udp:127.0.0.1:40000", nil, ""},
		{"private contact behind NAT", "sip:a@10.0.0.5:5060", "udp:198.51.100.7:31000", nil, "udp:198.51.100.7:31000"},
		{"private contact, same address", "sip:a@10.0.0.5:5070", "udp:10.0.0.5:5060", nil, ""},
		{"CGNAT contact", "sip:a@100.64.1.2", "udp:198.51.100.7:31000", nil, "udp:198.51.100.7:31000"},
		{"unspecified contact", "sip:a@0.0.0.0:5060", "udp:127.0.0.1:5060", nil, "udp:127.0.0.1:5060"},
		{"host name contact", "sip:a@phone.example.com", "udp:192.0.2.10:5060", nil, "udp:192.0.2.10:5060"},
		{"ob parameter", "sip:a@192.0.2.10:5070;ob", "udp:192.0.2.10:5060", nil, "udp:192.0.2.10:5060"},
		{"tcp source", "sip:a@192.0.2.10:5070;transport=tcp", "tcp:192.0.2.10:41000", nil, "tcp:192.0.2.10:41000"},
		{"tcp contact over udp", "sip:a@192.0.2.10:5070;transport=tcp", "udp:192.0.2.10:5060", nil, "udp:192.0.2.10:5060"},
		{"path wins", "sip:a@10.0.0.5", "udp:198.51.100.7:31000", []string{"<sip:edge.example.com;lr>"}, ""},
		{"no source", "sip:a@10.0.0.5", "", nil, ""},
		{"ipv6 ULA behind NAT", "sip:a@[fd00::1]:5060", "udp:[2001:db8::7]:31000", nil, "udp:[2001:db8::7]:31000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var u sip.Uri
			if err := sip.ParseUri(c.contact, &u); err != nil {
				t.Fatal(err)
			}
			n, a, ok := Flow(&u, c.source, c.path)
			got := ""
			if ok {
				got = n + ":" + a
			}
			if got != c.want {
				t.Errorf("Flow(%q, %q) = %q, want %q", c.contact, c.source, got, c.want)
			}
		})
	}
}
