package presence

import (
	"testing"
	"time"
)

// TestNotifyDestination: a NOTIFY goes to the remote target, or to where
// the SUBSCRIBE came from when the target is behind a NAT (registrar.Flow,
// the rule MESSAGE and forwarded OPTIONS follow too), or by the route set.
func TestNotifyDestination(t *testing.T) {
	for _, tc := range []struct {
		name, target, source string
		routes               []string
		want                 string
	}{
		{"routable target listening elsewhere", "sip:w@192.0.2.9:5070", "udp:192.0.2.9:40000", nil, "192.0.2.9:5070"},
		{"target behind a NAT", "sip:w@10.0.0.9:5060", "udp:198.51.100.3:31000", nil, "198.51.100.3:31000"},
		{"over TCP: the connection", "sip:w@192.0.2.9:5070;transport=tcp", "tcp:192.0.2.9:41000", nil, "192.0.2.9:41000"},
		{"route set", "sip:w@10.0.0.9:5060", "udp:198.51.100.3:31000", []string{"sip:edge.example.net;lr"}, "edge.example.net:5060"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Subscription{callID: "c", localTag: "l", remoteTag: "r", rec: &subRecord{
				Presentity: "sip:alice@example.com", Watcher: "sip:w@example.com", LocalURI: "sip:alice@example.com",
				RemoteURI: "sip:w@example.com", RemoteTarget: tc.target, Source: tc.source, Routes: tc.routes, Created: time.Now().UnixNano()}}
			req, err := s.request(StateActive, "", nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := req.Destination(); got != tc.want {
				t.Errorf("destination %q, want %q", got, tc.want)
			}
		})
	}
}
