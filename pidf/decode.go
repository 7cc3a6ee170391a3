package pidf

import (
	"fmt"
	"strings"
)

// Parse decodes a PIDF body under DefaultLimits.
func Parse(b []byte) (*Document, error) { return DefaultLimits.Parse(b) }

// Parse decodes a PIDF body (RFC 3863) under l. Errors wrap ErrTooLarge, ErrTooDeep, ErrTooManyElements or
// ErrMalformed.
func (l Limits) Parse(b []byte) (*Document, error) {
	root, err := l.parseTree(b)
	if err != nil {
		return nil, err
	}
	if !root.is(NamespacePIDF, "presence") {
		return nil, fmt.Errorf("%w: root is not {%s}presence", ErrMalformed, NamespacePIDF)
	}
	d := &Document{Entity: root.attr("", "entity")}
	for i := range root.Children {
		d.child(&root.Children[i])
	}
	return d, nil
}

func (d *Document) child(c *Node) {
	switch {
	case c.IsText():
		// Text directly in <presence> has no meaning (RFC 3863 §4.1); it is not kept.
	case c.is(NamespacePIDF, "tuple"):
		d.Tuples = append(d.Tuples, parseTuple(c))
	case c.is(NamespacePIDF, "note"):
		d.Notes = append(d.Notes, parseNote(c))
	case c.is(NamespaceDataModel, "person"):
		d.Persons = append(d.Persons, parsePerson(c))
	case c.is(NamespaceDataModel, "device"):
		d.Devices = append(d.Devices, parseDevice(c))
	default:
		d.Extra = append(d.Extra, *c)
	}
}

func parseNote(n *Node) Note {
	return Note{Lang: n.attr(xmlURL, "lang"), Text: n.InnerText()}
}

// parseTuple reads a tuple. A second <status>, <contact>, <timestamp> or <dm:deviceID> is dropped: the
// schema allows one, and keeping it as an extension would make it the first one after a round trip.
func parseTuple(n *Node) Tuple {
	t := Tuple{ID: n.attr("", "id")}
	var seen seenSet
	for i := range n.Children {
		c := &n.Children[i]
		switch {
		case c.IsText():
		case c.is(NamespacePIDF, "status"):
			if seen.first("status") {
				t.Basic, t.StatusExtra = parseStatus(c)
			}
		case c.is(NamespaceCaps, "servcaps"):
			if seen.first("servcaps") {
				t.Caps = parseServCaps(c)
			}
		case c.is(NamespaceDataModel, "deviceID"):
			if seen.first("deviceID") {
				t.DeviceID = strings.TrimSpace(c.InnerText())
			}
		case c.is(NamespacePIDF, "contact"):
			if seen.first("contact") {
				t.Contact = &Contact{URI: strings.TrimSpace(c.InnerText()), Priority: c.attr("", "priority")}
			}
		case c.is(NamespacePIDF, "note"):
			t.Notes = append(t.Notes, parseNote(c))
		case c.is(NamespacePIDF, "timestamp"):
			if seen.first("timestamp") {
				t.Timestamp = strings.TrimSpace(c.InnerText())
			}
		default:
			t.Extra = append(t.Extra, *c)
		}
	}
	return t
}

func parseStatus(n *Node) (Basic, []Node) {
	b := BasicUnknown
	var extra []Node
	basicSeen := false
	for i := range n.Children {
		c := &n.Children[i]
		switch {
		case c.IsText():
		case c.is(NamespacePIDF, "basic"):
			if !basicSeen {
				basicSeen = true
				b = parseBasic(c.InnerText())
			}
		default:
			extra = append(extra, *c)
		}
	}
	return b, extra
}

func parseBasic(s string) Basic {
	switch strings.TrimSpace(s) {
	case "open":
		return BasicOpen
	case "closed":
		return BasicClosed
	}
	return BasicUnknown
}

func parseServCaps(n *Node) *ServCaps {
	sc := &ServCaps{}
	for i := range n.Children {
		c := &n.Children[i]
		if c.IsText() {
			continue
		}
		bit := capByName(c.Name.Local)
		if c.Name.Space != NamespaceCaps || bit == 0 {
			sc.Extra = append(sc.Extra, *c)
			continue
		}
		switch strings.TrimSpace(c.InnerText()) {
		case "true", "1":
			sc.Supported |= bit
		case "false", "0":
			sc.NotSupported |= bit
		}
	}
	return sc
}

func parsePerson(n *Node) Person {
	p := Person{ID: n.attr("", "id")}
	var seen seenSet
	for i := range n.Children {
		c := &n.Children[i]
		switch {
		case c.IsText():
		case c.is(NamespaceRPID, "activities"):
			if seen.first("activities") {
				p.Activities = parseActivities(c)
			}
		case c.is(NamespaceRPID, "place-type"):
			if seen.first("place-type") {
				p.PlaceType = parsePlaceType(c)
			}
		case c.is(NamespaceDataModel, "note"):
			p.Notes = append(p.Notes, parseNote(c))
		case c.is(NamespaceDataModel, "timestamp"):
			if seen.first("timestamp") {
				p.Timestamp = strings.TrimSpace(c.InnerText())
			}
		default:
			p.Extra = append(p.Extra, *c)
		}
	}
	return p
}

func parseActivities(n *Node) *Activities {
	a := &Activities{From: n.attr("", "from"), Until: n.attr("", "until")}
	for i := range n.Children {
		c := &n.Children[i]
		switch {
		case c.IsText():
		case c.is(NamespaceRPID, "note"):
			a.Notes = append(a.Notes, parseNote(c))
		case c.is(NamespaceRPID, ActivityOther):
			a.Other = append(a.Other, c.InnerText())
		case c.Name.Space == NamespaceRPID && len(c.Children) == 0 && len(c.Attr) == 0:
			a.Names = append(a.Names, c.Name.Local)
		default:
			a.Extra = append(a.Extra, *c)
		}
	}
	return a
}

func parsePlaceType(n *Node) *PlaceType {
	pt := &PlaceType{}
	otherSeen := false
	for i := range n.Children {
		c := &n.Children[i]
		switch {
		case c.IsText():
		case c.is(NamespaceRPID, ActivityOther) && !otherSeen:
			otherSeen = true
			pt.Other = c.InnerText()
		default:
			pt.Extra = append(pt.Extra, *c)
		}
	}
	return pt
}

func parseDevice(n *Node) Device {
	d := Device{ID: n.attr("", "id")}
	var seen seenSet
	for i := range n.Children {
		c := &n.Children[i]
		switch {
		case c.IsText():
		case c.is(NamespaceDataModel, "deviceID"):
			if seen.first("deviceID") {
				d.DeviceID = strings.TrimSpace(c.InnerText())
			}
		case c.is(NamespaceDataModel, "note"):
			d.Notes = append(d.Notes, parseNote(c))
		case c.is(NamespaceDataModel, "timestamp"):
			if seen.first("timestamp") {
				d.Timestamp = strings.TrimSpace(c.InnerText())
			}
		default:
			d.Extra = append(d.Extra, *c)
		}
	}
	return d
}

// seenSet remembers which single-occurrence elements were already read.
type seenSet []string

func (s *seenSet) first(name string) bool {
	for _, n := range *s {
		if n == name {
			return false
		}
	}
	*s = append(*s, name)
	return true
}
