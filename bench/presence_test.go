package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPresence runs the scenario end to end against the fake presence
// server: setup, PUBLISHes, every NOTIFY answered and matched.
func TestPresence(t *testing.T) {
	tests := []struct {
		name     string
		fake     fakeOptions
		opt      PresenceOptions
		sockets  int
		total    uint64
		ok       uint64
		fail412  uint64
		received uint64
		dups     uint64
		// initial and ifMatch are the fake server's PUBLISH counts.
		initial, ifMatch int
	}{
		{name: "one presentity", opt: PresenceOptions{Presentities: 1, Watchers: 20}, total: 5,
			ok: 5, received: 100, initial: 1, ifMatch: 4},
		{name: "three presentities, two sockets", opt: PresenceOptions{Presentities: 3, Watchers: 4}, sockets: 2,
			total: 9, ok: 9, received: 36, initial: 3, ifMatch: 6},
		{name: "publish only", opt: PresenceOptions{Presentities: 50, Watchers: 0}, total: 50,
			ok: 50, initial: 50},
		{name: "retransmitted notifies", fake: fakeOptions{dupNotify: true}, opt: PresenceOptions{Presentities: 1, Watchers: 5},
			total: 2, ok: 2, received: 10, dups: 15, initial: 1, ifMatch: 1},
		{name: "412 starts a new publication", fake: fakeOptions{rejectIfMatch: true},
			opt: PresenceOptions{Presentities: 1, Watchers: 2}, total: 5, ok: 3, fail412: 2, received: 6, initial: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePresence(t, tc.fake)
			tc.opt.NotifyWait = 300 * time.Millisecond
			s, err := NewScenario("presence", ScenarioOptions{Presence: tc.opt})
			if err != nil {
				t.Fatal(err)
			}
			// 50/s leaves each PUBLISH time to be answered before the next
			// one to the same presentity, so SIP-If-Match is never stale.
			cfg := Config{Scenario: s, Target: f.addr(), Rate: 50, Total: tc.total, Sockets: max(tc.sockets, 1),
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
			if res.Total.OK != tc.ok || res.FailuresByStatus[412] != tc.fail412 {
				t.Errorf("PUBLISH ok %d, 412 %d; want %d, %d", res.Total.OK, res.FailuresByStatus[412], tc.ok, tc.fail412)
			}
			if want := tc.ok * uint64(tc.opt.Watchers); pr.NotifyExpected != want || pr.NotifyReceived != tc.received ||
				pr.NotifyDuplicates != tc.dups || pr.NotifyForeign != 0 {
				t.Errorf("NOTIFY expected %d received %d dup %d foreign %d; want %d %d %d 0", pr.NotifyExpected,
					pr.NotifyReceived, pr.NotifyDuplicates, pr.NotifyForeign, want, tc.received, tc.dups)
			}
			l := pr.NotifyLatency
			if l.Count != int64(tc.received) || tc.received > 0 && (l.P50 <= 0 || l.P99 < l.P50 || l.Max > time.Second) {
				t.Errorf("latency %+v", l)
			}
			if tc.received > 0 && (pr.NotifyRate <= 0 || pr.NotifyWindow <= 0) {
				t.Errorf("notify rate %v over %v", pr.NotifyRate, pr.NotifyWindow)
			}
			initial, ifMatch, notified, answered := f.counts()
			if initial != tc.initial || ifMatch != tc.ifMatch {
				t.Errorf("server saw %d initial and %d If-Match PUBLISHes, want %d and %d", initial, ifMatch, tc.initial, tc.ifMatch)
			}
			// Every NOTIFY copy was answered 200.
			copies := notified * (1 + btoi(tc.fake.dupNotify))
			if answered != copies {
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
