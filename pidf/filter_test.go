package pidf

import (
	"strings"
	"testing"
)

func TestBasicKeepsStatusAndActivitiesOnly(t *testing.T) {
	full := State{Status: StatusBusy, Note: "in a meeting", Device: "urn:uuid:d1", Location: "office", Caps: CapAudio | CapVideo}.Document("sip:alice@example.com")
	b := full.Basic()
	got := string(b.Marshal())
	for _, gone := range []string{"in a meeting", "urn:uuid:d1", "office", "servcaps", "<note"} {
		if strings.Contains(got, gone) {
			t.Errorf("basic document still has %q:\n%s", gone, got)
		}
	}
	if !strings.Contains(got, "busy") || !strings.Contains(got, "<basic>open</basic>") {
		t.Errorf("basic document lost status or activity:\n%s", got)
	}
	back := FromDocument(b)
	if back.Status != StatusBusy {
		t.Errorf("status after Basic = %v, want Busy", back.Status)
	}
	if strings.Contains(string(full.Marshal()), "in a meeting") == false {
		t.Error("Basic changed its input")
	}
}
