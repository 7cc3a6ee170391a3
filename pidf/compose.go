package pidf

import (
	"sort"
	"time"
)

// SourceKind says what a Source is.
type SourceKind uint8

// Source kinds. The zero value is not a valid source and is ignored.
const (
	SourceUnknown SourceKind = iota
	SourcePublication
	SourceRegistration
	SourceCall
)

// Source is one input of Compose. Build it with Publication, Registration or Call.
type Source struct {
	Kind SourceKind
	// Time orders publications: the newest one's person note, place type and extensions win.
	Time time.Time
	// Doc is a device's published document (SourcePublication).
	Doc *Document
	// Contact is a registered contact URI (SourceRegistration).
	Contact string
	// Active is whether the contact is reachable (SourceRegistration) or a call is up (SourceCall).
	Active bool
}

// Publication is the document a device published (RFC 3903) at the given time.
func Publication(doc *Document, at time.Time) Source {
	return Source{Kind: SourcePublication, Doc: doc, Time: at}
}

// Registration is a registered contact; a live binding is open.
func Registration(contact string, open bool) Source {
	return Source{Kind: SourceRegistration, Contact: contact, Active: open}
}

// Call is the presentity's call state: while inCall, the person is on the phone.
func Call(inCall bool) Source { return Source{Kind: SourceCall, Active: inCall} }

// ComposedPersonID and ClosedTupleID are the IDs of the person and of the fallback tuple Compose writes.
const (
	ComposedPersonID = "p"
	ClosedTupleID    = "closed"
)

// Compose merges the sources of one presentity into one document (RFC 4479 §4). Inputs are not modified;
// the result shares their extension Nodes. The rules:
//
//   - Tuples: every tuple of every publication; one open (or closed) tuple per registered contact,
//     with ID "r" plus a hash of the contact, unless a published tuple already has that contact. When
//     two tuples have the same ID the newest publication's wins. With no tuple at all, one closed
//     tuple (ClosedTupleID) says the presentity is offline. Tuples are sorted by ID.
//   - Devices: every device of every publication, one per ID (the newest wins), sorted by ID.
//   - Person: one, ComposedPersonID. Its activities are the union of every published person's
//     (names and other texts, each once, in order of first appearance, newest publication first),
//     plus on-the-phone while a call is up. Its place type, notes, timestamp and extensions are those
//     of the newest publication that has a person with any of them. Without activities, place type,
//     notes or extensions there is no person.
//   - Presence notes and extensions are those of the newest publication that has any.
//
// Publications are taken newest first; publications with the same Time keep their argument order.
func Compose(entity string, sources ...Source) *Document {
	pubs := publications(sources)
	d := &Document{Entity: entity}
	d.Tuples = composeTuples(pubs, sources)
	d.Devices = composeDevices(pubs)
	if p, ok := composePerson(pubs, sources); ok {
		d.Persons = []Person{p}
	}
	for _, doc := range pubs {
		if len(doc.Notes) > 0 || len(doc.Extra) > 0 {
			d.Notes, d.Extra = doc.Notes, doc.Extra
			break
		}
	}
	return d
}

// publications returns the published documents, newest first.
func publications(sources []Source) []*Document {
	var srcs []Source
	for _, s := range sources {
		if s.Kind == SourcePublication && s.Doc != nil {
			srcs = append(srcs, s)
		}
	}
	sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].Time.After(srcs[j].Time) })
	docs := make([]*Document, len(srcs))
	for i, s := range srcs {
		docs[i] = s.Doc
	}
	return docs
}

func composeTuples(pubs []*Document, sources []Source) []Tuple {
	var ts []Tuple
	ids := map[string]bool{}
	contacts := map[string]bool{}
	for _, doc := range pubs {
		for _, t := range doc.Tuples {
			if ids[t.ID] {
				continue
			}
			ids[t.ID] = true
			ts = append(ts, t)
			if t.Contact != nil {
				contacts[t.Contact.URI] = true
			}
		}
	}
	for _, s := range sources {
		if s.Kind != SourceRegistration || contacts[s.Contact] {
			continue
		}
		t := registrationTuple(s)
		if ids[t.ID] {
			continue
		}
		ids[t.ID] = true
		contacts[s.Contact] = true
		ts = append(ts, t)
	}
	if len(ts) == 0 {
		return []Tuple{{ID: ClosedTupleID, Basic: BasicClosed}}
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].ID < ts[j].ID })
	return ts
}

// registrationTuple derives a stable ID from the contact, so the tuple keeps its ID across NOTIFYs.
func registrationTuple(s Source) Tuple {
	t := Tuple{ID: "r" + hashID(s.Contact), Basic: BasicClosed, Contact: &Contact{URI: s.Contact}}
	if s.Active {
		t.Basic = BasicOpen
	}
	return t
}

func composeDevices(pubs []*Document) []Device {
	var ds []Device
	ids := map[string]bool{}
	for _, doc := range pubs {
		for _, dv := range doc.Devices {
			if !ids[dv.ID] {
				ids[dv.ID] = true
				ds = append(ds, dv)
			}
		}
	}
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	return ds
}

func composePerson(pubs []*Document, sources []Source) (Person, bool) {
	p := Person{ID: ComposedPersonID}
	var acts *Activities
	for _, doc := range pubs {
		for i := range doc.Persons {
			acts = unionActivities(acts, doc.Persons[i].Activities)
		}
	}
	for _, s := range sources {
		if s.Kind == SourceCall && s.Active {
			acts = unionActivities(acts, &Activities{Names: []string{ActivityOnThePhone}})
		}
	}
	p.Activities = acts
	if q := newestPersonDetails(pubs); q != nil {
		p.PlaceType, p.Notes, p.Timestamp, p.Extra = q.PlaceType, q.Notes, q.Timestamp, q.Extra
	}
	ok := p.Activities != nil || p.PlaceType != nil || p.Notes != nil || p.Extra != nil
	return p, ok
}

func newestPersonDetails(pubs []*Document) *Person {
	for _, doc := range pubs {
		for i := range doc.Persons {
			q := &doc.Persons[i]
			if q.PlaceType != nil || len(q.Notes) > 0 || q.Timestamp != "" || len(q.Extra) > 0 {
				return q
			}
		}
	}
	return nil
}

// unionActivities returns a new Activities with the names and other texts of a and b, each once. The
// notes and extensions, and the from/until times, of the first one that has any are kept.
func unionActivities(a, b *Activities) *Activities {
	if b == nil {
		return a
	}
	u := &Activities{}
	if a != nil {
		u.Names = append(u.Names, a.Names...)
		u.Other = append(u.Other, a.Other...)
		u.Notes, u.Extra = a.Notes, a.Extra
		u.From, u.Until = a.From, a.Until
	}
	for _, n := range b.Names {
		if !hasString(u.Names, n) {
			u.Names = append(u.Names, n)
		}
	}
	for _, o := range b.Other {
		if !hasString(u.Other, o) {
			u.Other = append(u.Other, o)
		}
	}
	if u.Notes == nil && u.Extra == nil {
		u.Notes, u.Extra = b.Notes, b.Extra
	}
	if a == nil || a.From == "" && a.Until == "" {
		u.From, u.Until = b.From, b.Until
	}
	return u
}
