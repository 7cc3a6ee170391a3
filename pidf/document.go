package pidf

// Namespaces of the documents this package reads and writes.
const (
	NamespacePIDF        = "urn:ietf:params:xml:ns:pidf"            // RFC 3863
	NamespaceDataModel   = "urn:ietf:params:xml:ns:pidf:data-model" // RFC 4479
	NamespaceRPID        = "urn:ietf:params:xml:ns:pidf:rpid"       // RFC 4480
	NamespaceCaps        = "urn:ietf:params:xml:ns:pidf:caps"       // RFC 5196
	NamespaceWatcherInfo = "urn:ietf:params:xml:ns:watcherinfo"     // RFC 3858
)

// Content types of the bodies.
const (
	ContentType            = "application/pidf+xml"        // RFC 3863
	ContentTypeWatcherInfo = "application/watcherinfo+xml" // RFC 3858
)

// Document is a PIDF presence document (RFC 3863 §4) with the data-model elements of RFC 4479.
// Every Extra field holds the elements found at that place that this package does not model, so that
// they survive a decode→encode round trip. Attributes of modelled elements other than the ones given
// fields are not kept.
type Document struct {
	Entity  string // the presentity URI, required
	Tuples  []Tuple
	Notes   []Note
	Persons []Person
	Devices []Device
	Extra   []Node
}

// Basic is the <basic> status of a tuple (RFC 3863 §4.1.4).
type Basic uint8

// Basic values. BasicUnknown means no <basic> element, or a value other than open and closed.
const (
	BasicUnknown Basic = iota
	BasicOpen
	BasicClosed
)

// String returns "open", "closed" or "unknown".
func (b Basic) String() string {
	switch b {
	case BasicOpen:
		return "open"
	case BasicClosed:
		return "closed"
	}
	return "unknown"
}

// Tuple is a <tuple>: a service of the presentity (RFC 3863 §4.1.1, RFC 4479 §3.1).
type Tuple struct {
	ID          string
	Basic       Basic
	StatusExtra []Node    // other children of <status>
	Caps        *ServCaps // <caps:servcaps>, RFC 5196 §3.2
	DeviceID    string    // <dm:deviceID>: the device this service runs on, RFC 4479 §3.1.4
	Contact     *Contact
	Notes       []Note
	Timestamp   string // xs:dateTime, kept as written
	Extra       []Node
}

// Contact is a tuple's <contact> address with its optional priority (a decimal from 0 to 1, as written).
type Contact struct {
	URI      string
	Priority string
}

// Note is a <note> with its xml:lang.
type Note struct {
	Lang string
	Text string
}

// ServCaps are the service capabilities of a tuple (RFC 5196 <caps:servcaps>). Supported and
// NotSupported hold the audio, video, text and message elements that were true or false; other
// capabilities stay in Extra.
type ServCaps struct {
	Supported    Caps
	NotSupported Caps
	Extra        []Node
}

// Person is a <dm:person> (RFC 4479 §3.2) with its RPID activities and place type.
type Person struct {
	ID         string
	Activities *Activities
	PlaceType  *PlaceType
	Notes      []Note
	Timestamp  string
	Extra      []Node // rpid:mood, rpid:class and every other extension
}

// Activities is <rpid:activities> (RFC 4480 §3.2). Names lists the activity elements in the RPID
// namespace by local name ("busy", "on-the-phone", …) except <rpid:other>, whose texts are in Other.
type Activities struct {
	From  string // xs:dateTime the activities hold from, as written
	Until string // xs:dateTime they hold until
	Names []string
	Other []string
	Notes []Note
	Extra []Node
}

// Has reports whether the activity name is present.
func (a *Activities) Has(name string) bool {
	if a == nil {
		return false
	}
	for _, n := range a.Names {
		if n == name {
			return true
		}
	}
	return false
}

// PlaceType is <rpid:place-type> (RFC 4480 §3.6). Other holds an <rpid:other> text; the location types
// of RFC 4589 (<lt:office/>…) and anything else stay in Extra.
type PlaceType struct {
	Other string
	Extra []Node
}

// Device is a <dm:device> (RFC 4479 §3.3).
type Device struct {
	ID        string
	DeviceID  string
	Notes     []Note
	Timestamp string
	Extra     []Node // caps:devcaps and other extensions
}

// RPID activity names (RFC 4480 §3.2) this package maps to a Status.
const (
	ActivityAppointment  = "appointment"
	ActivityAway         = "away"
	ActivityBusy         = "busy"
	ActivityMeeting      = "meeting"
	ActivityOnThePhone   = "on-the-phone"
	ActivityPresentation = "presentation"
	ActivityVacation     = "vacation"
	ActivityOther        = "other"
)
