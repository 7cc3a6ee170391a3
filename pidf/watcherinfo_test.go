package pidf

import (
	"reflect"
	"testing"
)

func TestWatcherInfoRFC3858(t *testing.T) {
	wi, err := ParseWatcherInfo(mustRead(t, "testdata/winfo-rfc3858.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &WatcherInfo{Version: 0, State: WatcherInfoFull, Lists: []WatcherList{{
		Resource: "sip:professor@example.net", Package: "presence",
		Watchers: []Watcher{
			{ID: "8ajksjda7s", Status: WatcherActive, Event: WatcherEventApproved, DurationSubscribed: 509, URI: "sip:userA@example.net"},
			{ID: "hh8juja87s997-ass7", Status: WatcherPending, Event: WatcherEventSubscribe, DisplayName: "Mr. Subscriber", URI: "sip:userB@example.org"},
		},
	}}}
	if !reflect.DeepEqual(wi, want) {
		t.Fatalf("got %+v", wi)
	}
	out := wi.Marshal()
	golden(t, "testdata/winfo-rfc3858.golden", out)
	back, err := ParseWatcherInfo(out)
	if err != nil || !reflect.DeepEqual(back, wi) {
		t.Errorf("round trip: %v\n%+v", err, back)
	}
}

func TestWatcherInfoRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		wi   WatcherInfo
	}{
		{"empty", WatcherInfo{Version: 7, State: WatcherInfoPartial}},
		{"every event", WatcherInfo{Version: 1<<64 - 1, State: WatcherInfoFull, Lists: []WatcherList{{
			Resource: "sip:alice@example.com", Package: "presence",
			Watchers: []Watcher{
				{ID: "1", Status: WatcherTerminated, Event: WatcherEventDeactivated, URI: "sip:a@x"},
				{ID: "2", Status: WatcherTerminated, Event: WatcherEventProbation, Expiration: 3600, URI: "sip:b@x"},
				{ID: "3", Status: WatcherTerminated, Event: WatcherEventRejected, Lang: "en", URI: "sip:c@x"},
				{ID: "4", Status: WatcherTerminated, Event: WatcherEventTimeout, URI: "sip:d@x"},
				{ID: "5", Status: WatcherTerminated, Event: WatcherEventGiveup, URI: "sip:e@x"},
				{ID: "6", Status: WatcherTerminated, Event: WatcherEventNoresource, URI: "sip:f@x"},
				{ID: "7", Status: WatcherWaiting, Event: WatcherEventSubscribe, DisplayName: `"Eve" <&>`, URI: "sip:g@x"},
			},
		}, {Resource: "sip:alice@example.com", Package: "presence.winfo"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.wi.Marshal()
			back, err := ParseWatcherInfo(out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !reflect.DeepEqual(*back, tc.wi) {
				t.Errorf("got %+v\nwant %+v\n%s", *back, tc.wi, out)
			}
		})
	}
}

func TestWatcherInfoErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"pidf root", `<presence xmlns="urn:ietf:params:xml:ns:pidf"/>`},
		{"bad version", `<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="-1" state="full"/>`},
		{"bad expiration", `<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="0" state="full"><watcher-list resource="r" package="presence"><watcher id="1" status="active" event="approved" expiration="soon">sip:a@b</watcher></watcher-list></watcherinfo>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseWatcherInfo([]byte(tc.in)); !errorsIs(err, ErrMalformed) {
				t.Errorf("got %v", err)
			}
		})
	}
}
