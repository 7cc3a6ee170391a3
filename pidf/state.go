package pidf

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// Status is the presence status the whole project shares (server, SDK, CLI). Its mapping to PIDF/RPID is
// in the package documentation.
type Status uint8

// Status values. The zero value is StatusUnknown: nothing is known about the presentity.
const (
	StatusUnknown Status = iota
	StatusAvailable
	StatusBusy
	StatusAway
	StatusDoNotDisturb
	StatusOffline
	StatusInCall
	StatusCustom // the text is in State.Custom
)

var statusNames = [...]string{"unknown", "available", "busy", "away", "dnd", "offline", "in-call", "custom"}

// String returns the status in lower case, as the CLI and the SDK spell it: "available", "dnd", "in-call"….
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "Status(" + itoa(int(s)) + ")"
}

// ParseStatus is the inverse of String. ok is false for a name it does not know.
func ParseStatus(name string) (s Status, ok bool) {
	for i, n := range statusNames {
		if n == name {
			return Status(i), true
		}
	}
	return StatusUnknown, false
}

// Caps is a set of service capabilities (RFC 5196 servcaps).
type Caps uint8

// Capabilities.
const (
	CapAudio Caps = 1 << iota
	CapVideo
	CapText
	CapMessage
)

// capNames is in the order of the RFC 5196 schema, which is also the order of encoding.
var capNames = []struct {
	bit  Caps
	name string
}{{CapAudio, "audio"}, {CapMessage, "message"}, {CapText, "text"}, {CapVideo, "video"}}

func capByName(name string) Caps {
	for _, c := range capNames {
		if c.name == name {
			return c.bit
		}
	}
	return 0
}

// String lists the capabilities joined by "+", e.g. "audio+video", or "none".
func (c Caps) String() string {
	var parts []string
	for _, n := range capNames {
		if c&n.bit != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// State is a presentity's status with its details. Custom is used only with StatusCustom. Device is a
// device ID URI (RFC 4479 §3.1.4, e.g. urn:uuid:…); Location is a free-text place type.
type State struct {
	Status   Status
	Custom   string
	Note     string
	Device   string
	Location string
	Caps     Caps
}

// DNDMarker is the <rpid:other> text that, with <rpid:busy/>, marks Do Not Disturb. RPID has no such
// activity; a watcher that does not know the marker still sees busy.
const DNDMarker = "dnd"

// StatePersonID is the person ID of the documents State.Document builds.
const StatePersonID = "p"

// StateTupleID returns the tuple ID State.Document uses for a device: "t" without a device, else "t" and
// a hash of the device ID. Each device thus publishes its own tuple ID, which Compose relies on: it keeps
// one tuple per ID (a device's stale publication and its new one share it).
func StateTupleID(device string) string {
	if device == "" {
		return "t"
	}
	return "t" + hashID(device)
}

// hashID is a short stable ID for s. 32 bits are plenty among one presentity's devices and contacts,
// and every byte counts in a NOTIFY over UDP.
func hashID(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return strconv.FormatUint(uint64(h.Sum32()), 36)
}

// Document returns the PIDF document for s: one tuple and, when there is anything to say about the
// person, one person.
func (s State) Document(entity string) *Document {
	t := Tuple{ID: StateTupleID(s.Device), Basic: BasicOpen, DeviceID: s.Device}
	switch s.Status {
	case StatusOffline:
		t.Basic = BasicClosed
	case StatusUnknown:
		t.Basic = BasicUnknown
	}
	if s.Caps != 0 {
		t.Caps = &ServCaps{Supported: s.Caps}
	}
	d := &Document{Entity: entity, Tuples: []Tuple{t}}
	p := Person{ID: StatePersonID, Activities: s.activities()}
	if s.Location != "" {
		p.PlaceType = &PlaceType{Other: s.Location}
	}
	if s.Note != "" {
		p.Notes = []Note{{Text: s.Note}}
	}
	if p.Activities != nil || p.PlaceType != nil || p.Notes != nil {
		d.Persons = []Person{p}
	}
	return d
}

func (s State) activities() *Activities {
	switch s.Status {
	case StatusBusy:
		return &Activities{Names: []string{ActivityBusy}}
	case StatusAway:
		return &Activities{Names: []string{ActivityAway}}
	case StatusDoNotDisturb:
		return &Activities{Names: []string{ActivityBusy}, Other: []string{DNDMarker}}
	case StatusInCall:
		return &Activities{Names: []string{ActivityOnThePhone}}
	case StatusCustom:
		return &Activities{Other: []string{s.Custom}}
	}
	return nil
}
