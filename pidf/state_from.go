package pidf

// busyActivities and awayActivities are the RPID activities (RFC 4480 §3.2) read as Busy and Away when a
// foreign client sends them.
var (
	busyActivities = []string{ActivityBusy, ActivityMeeting, ActivityAppointment, ActivityPresentation,
		"performance", "worship"}
	awayActivities = []string{ActivityAway, ActivityVacation, "holiday", "travel", "in-transit",
		"meal", "breakfast", "dinner", "sleeping", "shopping", "steering", "permanent-absence",
		"playing", "spectator", "tv", "looking-for-work"}
)

// FromDocument reads the State of a presence document, ours or a phone's. The rules, in order:
//
//   - The basic status is open if any tuple is open, else closed if any tuple is closed. With no
//     <basic> at all it is open if a person has activities, else the State is StatusUnknown.
//   - Closed is StatusOffline, whatever the activities.
//   - Open is read from the activities of every person: on-the-phone gives InCall; busy with the
//     DNDMarker gives DoNotDisturb; a busy-like activity Busy; an away-like one Away; an <rpid:other>
//     text Custom; none of these Available (so a phone's bare <basic>open</basic> is Available).
//   - Note is the first person note, else the first presence note, else the first tuple note.
//   - Device is the deviceID of the first open tuple that has one, else of any tuple, else of the
//     first device. Location is the first person's place-type text. Caps are those the open tuples
//     (all tuples if none is open) declare supported.
func FromDocument(d *Document) State {
	if d == nil {
		return State{}
	}
	s := State{Note: documentNote(d), Device: documentDevice(d), Caps: documentCaps(d)}
	for i := range d.Persons {
		if pt := d.Persons[i].PlaceType; pt != nil && s.Location == "" {
			s.Location = pt.Other
		}
	}
	acts := mergedActivities(d.Persons)
	switch documentBasic(d) {
	case BasicClosed:
		s.Status = StatusOffline
	case BasicOpen:
		s.Status, s.Custom = statusOf(acts)
	default:
		if acts != nil {
			s.Status, s.Custom = statusOf(acts)
		}
	}
	return s
}

func documentBasic(d *Document) Basic {
	b := BasicUnknown
	for _, t := range d.Tuples {
		switch t.Basic {
		case BasicOpen:
			return BasicOpen
		case BasicClosed:
			b = BasicClosed
		}
	}
	return b
}

// mergedActivities joins the activities of every person, or returns nil if none has any.
func mergedActivities(ps []Person) *Activities {
	var m *Activities
	for i := range ps {
		a := ps[i].Activities
		if a == nil {
			continue
		}
		if m == nil {
			m = &Activities{}
		}
		m.Names = append(m.Names, a.Names...)
		m.Other = append(m.Other, a.Other...)
	}
	return m
}

func statusOf(a *Activities) (Status, string) {
	switch {
	case a.Has(ActivityOnThePhone):
		return StatusInCall, ""
	case a.Has(ActivityBusy) && hasString(a.Other, DNDMarker):
		return StatusDoNotDisturb, ""
	case hasAny(a, busyActivities):
		return StatusBusy, ""
	case hasAny(a, awayActivities):
		return StatusAway, ""
	case a != nil && len(a.Other) > 0:
		return StatusCustom, a.Other[0]
	}
	return StatusAvailable, ""
}

func hasAny(a *Activities, names []string) bool {
	for _, n := range names {
		if a.Has(n) {
			return true
		}
	}
	return false
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func documentNote(d *Document) string {
	for _, p := range d.Persons {
		if len(p.Notes) > 0 {
			return p.Notes[0].Text
		}
	}
	if len(d.Notes) > 0 {
		return d.Notes[0].Text
	}
	for _, t := range d.Tuples {
		if len(t.Notes) > 0 {
			return t.Notes[0].Text
		}
	}
	return ""
}

func documentDevice(d *Document) string {
	for _, t := range d.Tuples {
		if t.Basic == BasicOpen && t.DeviceID != "" {
			return t.DeviceID
		}
	}
	for _, t := range d.Tuples {
		if t.DeviceID != "" {
			return t.DeviceID
		}
	}
	for _, dv := range d.Devices {
		if dv.DeviceID != "" {
			return dv.DeviceID
		}
	}
	return ""
}

func documentCaps(d *Document) Caps {
	var open, all Caps
	anyOpen := false
	for _, t := range d.Tuples {
		var c Caps
		if t.Caps != nil {
			c = t.Caps.Supported
		}
		all |= c
		if t.Basic == BasicOpen {
			anyOpen = true
			open |= c
		}
	}
	if anyOpen {
		return open
	}
	return all
}
