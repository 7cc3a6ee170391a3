package pidf

// Basic is the document a watcher with basic visibility sees: each
// tuple's open/closed status and the person's activities, and nothing
// else: no notes, contacts, capabilities, devices, place type, timestamps
// or extensions. d is not modified; the result shares no slice with it
// that it could change.
func (d *Document) Basic() *Document {
	out := &Document{Entity: d.Entity}
	for _, t := range d.Tuples {
		out.Tuples = append(out.Tuples, Tuple{ID: t.ID, Basic: t.Basic})
	}
	for _, p := range d.Persons {
		if p.Activities == nil {
			continue
		}
		a := &Activities{Names: append([]string(nil), p.Activities.Names...), Other: append([]string(nil), p.Activities.Other...)}
		out.Persons = append(out.Persons, Person{ID: p.ID, Activities: a})
	}
	return out
}
