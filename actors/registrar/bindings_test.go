package registrar

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func ct(uri string, q int16, exp int) Contact { return Contact{URI: uri, Q: q, Expires: exp} }

func bind(uri string, q int16, left time.Duration, callID string, cseq uint32) Binding {
	return Binding{Contact: uri, Q: q, Expires: t0.Add(left).UnixNano(), CallID: callID, CSeq: cseq}
}

func TestApply(t *testing.T) {
	c := DefaultConfig()
	c.MaxContacts = 3
	existing := []Binding{bind("sip:a@1.1.1.1", -1, time.Hour, "call-1", 5)}
	tests := []struct {
		name string
		cur  []Binding
		req  Register
		want []string // contacts, in order
		exp  []int    // remaining seconds, in order
		err  error
	}{
		{name: "add with header expires", req: Register{Contacts: []Contact{ct("sip:a@1.1.1.1", -1, -1)}, Expires: 600, CallID: "c", CSeq: 1},
			want: []string{"sip:a@1.1.1.1"}, exp: []int{600}},
		{name: "contact expires wins over header", req: Register{Contacts: []Contact{ct("sip:a@1.1.1.1", -1, 120)}, Expires: 600, CallID: "c", CSeq: 1},
			want: []string{"sip:a@1.1.1.1"}, exp: []int{120}},
		{name: "default expires", req: Register{Contacts: []Contact{ct("sip:a@1.1.1.1", -1, -1)}, Expires: -1, CallID: "c", CSeq: 1},
			want: []string{"sip:a@1.1.1.1"}, exp: []int{3600}},
		{name: "clamped to max", req: Register{Contacts: []Contact{ct("sip:a@1.1.1.1", -1, 99999)}, Expires: -1, CallID: "c", CSeq: 1},
			want: []string{"sip:a@1.1.1.1"}, exp: []int{7200}},
		{name: "too brief is 423", req: Register{Contacts: []Contact{ct("sip:a@1.1.1.1", -1, 30)}, Expires: -1, CallID: "c", CSeq: 1},
			err: &IntervalTooBriefError{}},
		{name: "one too brief contact fails the whole request", cur: existing,
			req: Register{Contacts: []Contact{ct("sip:b@2.2.2.2", -1, 600), ct("sip:c@3.3.3.3", -1, 1)}, Expires: -1, CallID: "x", CSeq: 1},
			err: &IntervalTooBriefError{}},
		{name: "q-value order", req: Register{Contacts: []Contact{ct("sip:low@1", 100, 600), ct("sip:none@1", -1, 600), ct("sip:high@1", 900, 600)}, Expires: -1, CallID: "c", CSeq: 1},
			want: []string{"sip:none@1", "sip:high@1", "sip:low@1"}, exp: []int{600, 600, 600}},
		{name: "second contact added to existing", cur: existing,
			req:  Register{Contacts: []Contact{ct("sip:b@2.2.2.2", 500, 600)}, Expires: -1, CallID: "other", CSeq: 1},
			want: []string{"sip:a@1.1.1.1", "sip:b@2.2.2.2"}, exp: []int{3600, 600}},
		{name: "refresh same call-id higher cseq", cur: existing,
			req:  Register{Contacts: []Contact{ct("sip:A@1.1.1.1", -1, 300)}, Expires: -1, CallID: "call-1", CSeq: 6},
			want: []string{"sip:A@1.1.1.1"}, exp: []int{300}},
		{name: "same call-id equal cseq is 500", cur: existing,
			req: Register{Contacts: []Contact{ct("sip:a@1.1.1.1", -1, 300)}, Expires: -1, CallID: "call-1", CSeq: 5}, err: ErrOutOfOrder},
		{name: "same call-id lower cseq is 500", cur: existing,
			req: Register{Contacts: []Contact{ct("sip:a@1.1.1.1", -1, 300)}, Expires: -1, CallID: "call-1", CSeq: 2}, err: ErrOutOfOrder},
		{name: "other call-id replaces whatever its cseq", cur: existing,
			req:  Register{Contacts: []Contact{ct("sip:a@1.1.1.1", -1, 300)}, Expires: -1, CallID: "call-2", CSeq: 1},
			want: []string{"sip:a@1.1.1.1"}, exp: []int{300}},
		{name: "expires 0 removes one", cur: append(existing, bind("sip:b@2.2.2.2", -1, time.Hour, "call-9", 1)),
			req:  Register{Contacts: []Contact{ct("sip:b@2.2.2.2", -1, 0)}, Expires: -1, CallID: "call-9", CSeq: 2},
			want: []string{"sip:a@1.1.1.1"}, exp: []int{3600}},
		{name: "expires 0 of unknown contact is fine", cur: existing,
			req:  Register{Contacts: []Contact{ct("sip:z@9", -1, 0)}, Expires: -1, CallID: "q", CSeq: 1},
			want: []string{"sip:a@1.1.1.1"}, exp: []int{3600}},
		{name: "wildcard removes all", cur: existing, req: Register{Wildcard: true, Expires: 0, CallID: "call-2", CSeq: 1}},
		{name: "wildcard same call-id needs higher cseq", cur: existing, req: Register{Wildcard: true, Expires: 0, CallID: "call-1", CSeq: 5}, err: ErrOutOfOrder},
		{name: "wildcard with expires is 400", cur: existing, req: Register{Wildcard: true, Expires: 60, CallID: "x", CSeq: 1}, err: ErrBadWildcard},
		{name: "wildcard without expires is 400", cur: existing, req: Register{Wildcard: true, Expires: -1, CallID: "x", CSeq: 1}, err: ErrBadWildcard},
		{name: "wildcard with contacts is 400", cur: existing, req: Register{Wildcard: true, Contacts: []Contact{ct("sip:a@1", -1, 0)}, Expires: 0, CallID: "x", CSeq: 1}, err: ErrBadWildcard},
		{name: "query returns current", cur: existing, req: Register{Expires: -1, CallID: "q", CSeq: 1},
			want: []string{"sip:a@1.1.1.1"}, exp: []int{3600}},
		{name: "expired bindings are gone", cur: []Binding{bind("sip:old@1", -1, -time.Second, "o", 1)}, req: Register{Expires: -1, CallID: "q", CSeq: 1}},
		{name: "too many contacts", cur: existing,
			req: Register{Contacts: []Contact{ct("sip:b@1", -1, 60), ct("sip:c@1", -1, 60), ct("sip:d@1", -1, 60)}, Expires: -1, CallID: "x", CSeq: 1},
			err: ErrTooManyContacts},
		{name: "instance and reg-id identify the binding", cur: []Binding{{Contact: "sip:a@1.1.1.1:5060", Expires: t0.Add(time.Hour).UnixNano(), CallID: "f", CSeq: 1, InstanceID: "urn:uuid:1", RegID: 1}},
			req:  Register{Contacts: []Contact{{URI: "sip:a@5.5.5.5:6000", Q: -1, Expires: 600, InstanceID: "urn:uuid:1", RegID: 1}}, Expires: -1, CallID: "g", CSeq: 1},
			want: []string{"sip:a@5.5.5.5:6000"}, exp: []int{600}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			before := append([]Binding(nil), tc.cur...)
			got, err := apply(tc.cur, &req, t0, c)
			if tc.err != nil {
				var brief *IntervalTooBriefError
				if errors.As(tc.err, &brief) {
					if !errors.As(err, &brief) || brief.MinExpires != 60 {
						t.Fatalf("err = %v, want 423 with Min-Expires 60", err)
					}
					return
				}
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d bindings %+v, want %v", len(got), got, tc.want)
			}
			for i, b := range got {
				if b.Contact != tc.want[i] || b.Remaining(t0) != tc.exp[i] {
					t.Errorf("binding %d = %s (%d s), want %s (%d s)", i, b.Contact, b.Remaining(t0), tc.want[i], tc.exp[i])
				}
			}
			for i := range before {
				if tc.cur[i].Contact != before[i].Contact || tc.cur[i].Expires != before[i].Expires {
					t.Fatal("apply changed its input")
				}
			}
		})
	}
}

func TestRemainingRoundsUp(t *testing.T) {
	b := Binding{Expires: t0.Add(1500 * time.Millisecond).UnixNano()}
	if got := b.Remaining(t0); got != 2 {
		t.Fatalf("Remaining = %d, want 2", got)
	}
	if got := b.Remaining(t0.Add(time.Hour)); got != 0 {
		t.Fatalf("Remaining after expiry = %d, want 0", got)
	}
}
