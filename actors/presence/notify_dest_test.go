package presence

import (
	"strings"
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

// TestNotifyContentLength: a NOTIFY with a body carries one Content-Length,
// last, as SetBody alone would append it (request appends it first, which
// spares SetBody a header lookup); without a body it has none (the port
// adds it).
func TestNotifyContentLength(t *testing.T) {
	s := &Subscription{callID: "c", localTag: "l", remoteTag: "r", rec: &subRecord{
		Presentity: "sip:alice@example.com", Watcher: "sip:w@example.com", LocalURI: "sip:alice@example.com", Event: EventPresence,
		RemoteURI: "sip:w@example.com", RemoteTarget: "sip:w@192.0.2.9:5070", Source: "udp:192.0.2.9:5070", Created: time.Now().UnixNano()}}
	body := []byte("<presence/>")
	req, err := s.request(StateActive, "", body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hs := req.Headers()
	last := hs[len(hs)-1]
	if last.Name() != "Content-Length" || last.Value() != "11" || hs[len(hs)-2].Name() != "Content-Type" {
		t.Errorf("headers end %s: %s, want Content-Type then Content-Length: 11\n%s", last.Name(), last.Value(), req)
	}
	if n := strings.Count(req.String(), "Content-Length"); n != 1 {
		t.Errorf("%d Content-Length headers:\n%s", n, req)
	}
	// The reference: the same headers, the body set by SetBody alone.
	ref := req.Clone()
	ref.RemoveHeader("Content-Length")
	ref.SetBody(body)
	if req.String() != ref.String() {
		t.Errorf("request:\n%s\nSetBody alone:\n%s", req, ref)
	}
	req, err = s.request(StateActive, "", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(req.String(), "Content-Length") {
		t.Errorf("Content-Length without a body:\n%s", req)
	}
}
