package call

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/dialog"
)

// A dialog keeps its parties as text (party) and rebuilds From and To for
// each request: the URI with its parameters and the display name survive,
// the tags are the dialog's, other header parameters are dropped.
func TestPartiesRoundTrip(t *testing.T) {
	var from, to sip.Uri
	if err := sip.ParseUri("sip:alice@example.com;user=phone", &from); err != nil {
		t.Fatal(err)
	}
	if err := sip.ParseUri("sips:bob@[2001:db8::1]:5061", &to); err != nil {
		t.Fatal(err)
	}
	d := dlg{id: dialog.ID{CallID: "c", LocalTag: "ours", RemoteTag: "theirs"},
		local: party("Alice Smith", &from), remote: party("", &to)}
	f, tt := d.parties()
	if got, want := f.Value(), `"Alice Smith" <sip:alice@example.com;user=phone>;tag=ours`; got != want {
		t.Errorf("From %q, want %q", got, want)
	}
	if got, want := tt.Value(), `<sips:bob@[2001:db8::1]:5061>;tag=theirs`; got != want {
		t.Errorf("To %q, want %q", got, want)
	}
	d.id.RemoteTag = "" // an early INVITE: no To tag yet
	if _, tt = d.parties(); tt.Value() != `<sips:bob@[2001:db8::1]:5061>` {
		t.Errorf("To before the answer %q", tt.Value())
	}
	req := sip.NewRequest(sip.BYE, to)
	d.fill(req, 2, sip.BYE)
	if tag, _ := req.From().Params.Get("tag"); tag != "ours" || req.To() == nil {
		t.Errorf("filled request: From %v To %v", req.From(), req.To())
	}
}
