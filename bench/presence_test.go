package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPresence runs the scenario end to end against the fake presence
// server: setup, PUBLISHes, every NOTIFY answered and matched.
func TestPresence(t *testing.T) {
	tests := []struct {
		name    string
		fake    fakeOptions
		opt     PresenceOptions
		sockets int
		rate    float64
		total   uint64
		// reuse: some PUBLISH must carry a valid SIP-If-Match; reject: some
		// must get 412.
		reuse, reject bool
	}{
		{name: "one presentity", opt: PresenceOptions{Presentities: 1, Watchers: 20}, rate: 10, total: 5, reuse: true},
		{name: "three presentities, two sockets", opt: PresenceOptions{Presentities: 3, Watchers: 4}, sockets: 2,
			rate: 20, total: 9, reuse: true},
		{name: "publish only", opt: PresenceOptions{Presentities: 50, Watchers: 0}, rate: 200, total: 50},
		{name: "retransmitted notifies", fake: fakeOptions{dupNotify: true}, opt: PresenceOptions{Presentities: 1, Watchers: 5},
			rate: 10, total: 2, reuse: true},
		{name: "412 starts a new publication", fake: fakeOptions{rejectIfMatch: true},
			opt: PresenceOptions{Presentities: 1, Watchers: 2}, rate: 10, total: 3, reject: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePresence(t, tc.fake)
			tc.opt.NotifyWait = 300 * time.Millisecond
			s, err := NewScenario("presence", ScenarioOptions{Presence: tc.opt})
			if err != nil {
				t.Fatal(err)
			}
			// The rates leave each PUBLISH time to be answered before the
			// next one to the same presentity, so SIP-If-Match is rarely
			// stale; the checks below hold even when it is.
			cfg := Config{Scenario: s, Target: f.addr(), Rate: tc.rate, Total: tc.total, Sockets: max(tc.sockets, 1),
				MaxFailures: 1, Timeout: 2 * time.Second}
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			pr := res.Presence
			if pr == nil {
				t.Fatal("no presence result")
			}
			subs := uint64(tc.opt.Presentities * tc.opt.Watchers)
			if pr.SubscribeOK != subs || pr.SubscribeFailed != 0 || pr.NotifyInitial != subs {
				t.Errorf("setup: %d ok, %d failed, %d initial NOTIFYs; want %d", pr.SubscribeOK, pr.SubscribeFailed, pr.NotifyInitial, subs)
			}
			ok, rejected := res.Total.OK, res.FailuresByStatus[412]
			initial, ifMatch, _, _ := f.counts()
			if ok+rejected != tc.total || res.Total.Failed != rejected || uint64(initial+ifMatch) != ok {
				t.Errorf("PUBLISH ok %d, 412 %d of %d; server took %d initial + %d If-Match", ok, rejected, tc.total, initial, ifMatch)
			}
			if tc.reuse && ifMatch == 0 || tc.reject && rejected == 0 || !tc.reject && rejected > 0 && ifMatch == 0 {
				t.Errorf("SIP-If-Match: %d accepted, %d rejected", ifMatch, rejected)
			}
			want := ok * uint64(tc.opt.Watchers)
			dups := uint64(0)
			if tc.fake.dupNotify {
				dups = subs + want
			}
			if pr.NotifyExpected != want || pr.NotifyExpectedSubscribed != want || pr.NotifyReceived != want || pr.NotifyDuplicates != dups || pr.NotifyForeign != 0 {
				t.Errorf("NOTIFY expected %d received %d dup %d foreign %d; want %d %d %d 0", pr.NotifyExpected,
					pr.NotifyReceived, pr.NotifyDuplicates, pr.NotifyForeign, want, want, dups)
			}
			l := pr.NotifyLatency
			if l.Count != int64(want) || want > 0 && (l.P50 <= 0 || l.P99 < l.P50 || l.Max > time.Second) {
				t.Errorf("latency %+v", l)
			}
			if want > 0 && (pr.NotifyRate <= 0 || pr.NotifyWindow <= 0) {
				t.Errorf("notify rate %v over %v", pr.NotifyRate, pr.NotifyWindow)
			}
			// Every NOTIFY copy was answered 200.
			if copies, answered := f.answers(time.Second); answered != copies {
				t.Errorf("%d NOTIFYs sent, %d answered", copies, answered)
			}
			line := SummaryLine(res)
			for _, key := range []string{"notify_received=", "notify_p99_ms=", "subscribe_ok=", "bytes_per_sub=-"} {
				if !strings.Contains(line, " "+key) {
					t.Errorf("SUMMARY lacks %s: %s", key, line)
				}
			}
		})
	}
}

// With --target-pid the memory of the target is sampled around the setup.
func TestPresenceMemory(t *testing.T) {
	f := newFakePresence(t, fakeOptions{})
	s, _ := NewScenario("presence", ScenarioOptions{Presence: PresenceOptions{Presentities: 2, Watchers: 10,
		NotifyWait: 200 * time.Millisecond}})
	res, err := Run(context.Background(), Config{Scenario: s, Target: f.addr(), Rate: 50, Total: 2,
		TargetPID: os.Getpid(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pr := res.Presence
	if pr.MemBefore == 0 || pr.MemSetup == 0 || pr.MemAfter == 0 || pr.BytesPerSub == -1 || pr.BytesPerPresentity != -1 {
		t.Errorf("memory %d %d %d, per sub %v, per presentity %v", pr.MemBefore, pr.MemSetup, pr.MemAfter,
			pr.BytesPerSub, pr.BytesPerPresentity)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Summary struct {
			Presence struct {
				Expected uint64  `json:"notify_expected"`
				Received uint64  `json:"notify_received"`
				PerSub   float64 `json:"bytes_per_sub"`
			} `json:"presence"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if p := out.Summary.Presence; p.Expected != 20 || p.Received != 20 || p.PerSub != pr.BytesPerSub {
		t.Errorf("JSON presence %+v", p)
	}
}
func TestCSeqWindow(t *testing.T) {
	tests := []struct {
		name  string
		cseqs []uint32
		fresh []bool
	}{
		{name: "in order", cseqs: []uint32{1, 2, 3}, fresh: []bool{true, true, true}},
		{name: "retransmission", cseqs: []uint32{1, 2, 2, 1}, fresh: []bool{true, true, false, false}},
		{name: "reordered", cseqs: []uint32{2, 4, 3, 1, 3}, fresh: []bool{true, true, true, true, false}},
		{name: "zero first", cseqs: []uint32{0, 0, 1}, fresh: []bool{true, false, true}},
		{name: "jump past the window", cseqs: []uint32{1, 100, 1, 37, 36}, fresh: []bool{true, true, false, true, false}},
		{name: "largest", cseqs: []uint32{1<<32 - 1, 1<<32 - 2, 1<<32 - 1}, fresh: []bool{true, true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w cseqWindow
			for i, c := range tc.cseqs {
				if got := w.add(c); got != tc.fresh[i] {
					t.Errorf("add(%d) #%d = %v, want %v", c, i, got, tc.fresh[i])
				}
			}
		})
	}
}

// The requests of both phases carry what RFC 3903 and RFC 6665 ask for,
// and a PUBLISH body holds a marker that FindMarker reads back.
func TestPresenceRequests(t *testing.T) {
	env := &Env{Domain: "example.com", Transport: "UDP", Expires: 600, run: "01234567"}
	p := newPresence(ScenarioOptions{Presence: PresenceOptions{Presentities: 3, Watchers: 2}}).(*presenceScenario)
	p.run = env.run
	p.etags = make([]atomic.Pointer[etagRef], 3)
	tests := []struct {
		name    string
		scen    Scenario
		seq     uint64
		etag    string
		headers map[string]string
		marker  bool
	}{
		{name: "subscribe", scen: presenceSubscribe{p}, seq: 4, headers: map[string]string{
			"From": "<sip:watcher4@example.com>;tag=t012345674", "To": "<sip:pres1@example.com>",
			"Contact": "<sip:watcher4@127.0.0.1:5070>", "Event": "presence", "Accept": "application/pidf+xml",
			"Expires": "600", "CSeq": "1 SUBSCRIBE", "SIP-If-Match": ""}},
		{name: "initial publish", scen: p, seq: 6 + 5, headers: map[string]string{
			"From": "<sip:pres2@example.com>;tag=t01234567b", "To": "<sip:pres2@example.com>", "Event": "presence",
			"Expires": "600", "Content-Type": "application/pidf+xml", "CSeq": "1 PUBLISH", "SIP-If-Match": ""},
			marker: true},
		{name: "modifying publish", scen: p, seq: 6, etag: "a.1795989892.8224.1.0", headers: map[string]string{
			"To": "<sip:pres0@example.com>", "SIP-If-Match": "a.1795989892.8224.1.0"}, marker: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Request{Seq: tc.seq, CSeq: 1, Env: env, Local: "127.0.0.1:5070", Start: 123456789}
			if tc.etag != "" {
				r.ETag = []byte(tc.etag)
			}
			b := tc.scen.AppendRequest(nil, &r)
			for name, want := range tc.headers {
				if got := header(b, name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			var req IncomingRequest
			if err := ParseRequest(b, &req); err != nil {
				t.Fatal(err)
			}
			m, ok := FindMarker(req.Body, env.run)
			if ok != tc.marker || ok && (m.Seq != tc.seq-6 || m.Start != 123456789) {
				t.Errorf("marker %+v, %v", m, ok)
			}
			if tc.marker && (len(req.Body) < 300 || len(req.Body) > 400) {
				t.Errorf("PIDF body of %d bytes:\n%s", len(req.Body), req.Body)
			}
		})
	}
}
