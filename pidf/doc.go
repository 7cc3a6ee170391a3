// Package pidf is the presence document model the project shares (server, SDK, CLI): PIDF (RFC 3863)
// with the data model (RFC 4479), RPID (RFC 4480) and service capabilities (RFC 5196); the status model
// (State) and its mapping to PIDF; composition of several sources into one document (RFC 4479 §4); and
// watcher information (RFC 3858). It imports only the standard library.
//
// # Decoding
//
// Parse and ParseWatcherInfo read a body in one token pass (encoding/xml Decoder.Token) that enforces
// Limits (size, depth, element count) before anything is interpreted, and refuses any DOCTYPE, so
// entity expansion (billion laughs) and external entities cannot happen. Errors wrap ErrTooLarge (413)
// or ErrMalformed, ErrTooDeep, ErrTooManyElements (400). Elements this package does not model are kept
// as Nodes (namespace URI, attributes, children) in the Extra field of the element that held them, and
// written back on encode, so a decode→encode round trip preserves extensions and their namespaces.
//
// # Encoding
//
// Document.Marshal writes compact XML without indentation: PIDF is the default namespace and every
// other namespace gets one prefix declared on <presence> (dm, rpid, caps; n1, n2… for the others).
// An ordinary State renders in 150–750 bytes (Available 146, Busy with a note 346, DND with note, device,
// location and every capability 743), under the ~850 bytes a NOTIFY over UDP can carry.
//
// # Status mapping
//
// State.Document and FromDocument map the shared status model to PIDF/RPID. For our own documents the
// mapping is lossless (State → Document → XML → Document → State is the identity); foreign documents
// are read as the table's right column says, with the extra rules on FromDocument.
//
//	State                 PIDF/RPID written                                read back from
//	StatusUnknown         tuple with <status/> (no basic)                  no basic and no activities
//	StatusAvailable       basic open, no activities                        basic open, no known activity
//	StatusBusy            basic open + <rpid:busy/>                        busy, meeting, appointment, …
//	StatusAway            basic open + <rpid:away/>                        away, vacation, travel, meal, …
//	StatusDoNotDisturb    basic open + <rpid:busy/> + <rpid:other>dnd      busy with other "dnd"
//	StatusInCall          basic open + <rpid:on-the-phone/>                on-the-phone (wins over all)
//	StatusOffline         basic closed                                     no tuple open, one closed
//	StatusCustom, text    basic open + <rpid:other>text</rpid:other>       other text, no known activity
//	Note                  <dm:note> of the person                          person, presence, tuple note
//	Device                <dm:deviceID> of the tuple                       tuple deviceID, device deviceID
//	Location              <rpid:place-type><rpid:other>text                place-type other text
//	Caps                  <caps:servcaps> true elements of the tuple       servcaps of the open tuples
//
// Phones that send only <basic>open</basic> read as StatusAvailable, and only <basic>closed</basic> as
// StatusOffline. DoNotDisturb is busy plus a marker, so that a watcher that does not know the marker
// still shows busy; a Custom text "dnd" without busy stays Custom.
//
// # Composition
//
// Compose merges the sources of one presentity (device publications, registered contacts, call state)
// into one document; its documentation gives the rules.
package pidf
