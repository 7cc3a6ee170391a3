package pidf

// Marshal encodes d as compact PIDF (no indentation, no XML declaration).
func (d *Document) Marshal() []byte { return d.AppendXML(make([]byte, 0, 1024)) }

// AppendXML appends the encoding of d to dst and returns the extended slice. With a reused dst it
// allocates only for documents with extension elements in unknown namespaces.
func (d *Document) AppendXML(dst []byte) []byte {
	w := writer{buf: dst, root: NamespacePIDF}
	d.useNamespaces(&w)
	w.openRoot("presence")
	w.attr("entity", d.Entity)
	w.buf = append(w.buf, '>')
	for i := range d.Tuples {
		d.Tuples[i].write(&w)
	}
	writeNotes(&w, NamespacePIDF, d.Notes)
	for i := range d.Persons {
		d.Persons[i].write(&w)
	}
	for i := range d.Devices {
		d.Devices[i].write(&w)
	}
	w.nodes(d.Extra, NamespacePIDF)
	w.buf = append(w.buf, "</presence>"...)
	return w.buf
}

// useNamespaces declares the namespaces d uses, the modelled ones first in a fixed order.
func (d *Document) useNamespaces(w *writer) {
	if len(d.Persons) > 0 || len(d.Devices) > 0 {
		w.use(NamespaceDataModel)
	}
	for i := range d.Tuples {
		t := &d.Tuples[i]
		if t.DeviceID != "" {
			w.use(NamespaceDataModel)
		}
		if t.Caps != nil {
			w.use(NamespaceCaps)
		}
	}
	for i := range d.Persons {
		if d.Persons[i].Activities != nil || d.Persons[i].PlaceType != nil {
			w.use(NamespaceRPID)
		}
	}
	w.useNodes(d.Extra)
	for i := range d.Tuples {
		t := &d.Tuples[i]
		w.useNodes(t.StatusExtra)
		if t.Caps != nil {
			w.useNodes(t.Caps.Extra)
		}
		w.useNodes(t.Extra)
	}
	for i := range d.Persons {
		d.Persons[i].useNamespaces(w)
	}
	for i := range d.Devices {
		w.useNodes(d.Devices[i].Extra)
	}
}

func (p *Person) useNamespaces(w *writer) {
	if a := p.Activities; a != nil {
		w.useNodes(a.Extra)
	}
	if pt := p.PlaceType; pt != nil {
		w.useNodes(pt.Extra)
	}
	w.useNodes(p.Extra)
}

func writeNotes(w *writer, space string, notes []Note) {
	for _, n := range notes {
		w.open(space, "note")
		w.optAttr("xml:lang", n.Lang)
		w.endText(space, "note", n.Text)
	}
}

// write encodes the tuple in the order of the RFC 3863 schema: status, extensions, contact, note,
// timestamp.
func (t *Tuple) write(w *writer) {
	w.open(NamespacePIDF, "tuple")
	w.attr("id", t.ID)
	w.buf = append(w.buf, '>')
	w.open(NamespacePIDF, "status")
	if t.Basic == BasicUnknown && len(t.StatusExtra) == 0 {
		w.buf = append(w.buf, "/>"...)
	} else {
		w.buf = append(w.buf, '>')
		if t.Basic != BasicUnknown {
			w.textElem(NamespacePIDF, "basic", t.Basic.String())
		}
		w.nodes(t.StatusExtra, NamespacePIDF)
		w.close(NamespacePIDF, "status")
	}
	if t.Caps != nil {
		t.Caps.write(w)
	}
	if t.DeviceID != "" {
		w.textElem(NamespaceDataModel, "deviceID", t.DeviceID)
	}
	w.nodes(t.Extra, NamespacePIDF)
	if t.Contact != nil {
		w.open(NamespacePIDF, "contact")
		w.optAttr("priority", t.Contact.Priority)
		w.endText(NamespacePIDF, "contact", t.Contact.URI)
	}
	writeNotes(w, NamespacePIDF, t.Notes)
	if t.Timestamp != "" {
		w.textElem(NamespacePIDF, "timestamp", t.Timestamp)
	}
	w.close(NamespacePIDF, "tuple")
}

func (sc *ServCaps) write(w *writer) {
	w.open(NamespaceCaps, "servcaps")
	if sc.Supported|sc.NotSupported == 0 && len(sc.Extra) == 0 {
		w.buf = append(w.buf, "/>"...)
		return
	}
	w.buf = append(w.buf, '>')
	for _, c := range capNames {
		switch {
		case sc.Supported&c.bit != 0:
			w.textElem(NamespaceCaps, c.name, "true")
		case sc.NotSupported&c.bit != 0:
			w.textElem(NamespaceCaps, c.name, "false")
		}
	}
	w.nodes(sc.Extra, NamespacePIDF)
	w.close(NamespaceCaps, "servcaps")
}

// write encodes the person: RPID elements and extensions, then notes and timestamp (RFC 4479 §4).
func (p *Person) write(w *writer) {
	w.open(NamespaceDataModel, "person")
	w.attr("id", p.ID)
	w.buf = append(w.buf, '>')
	if a := p.Activities; a != nil {
		a.write(w)
	}
	if pt := p.PlaceType; pt != nil {
		w.open(NamespaceRPID, "place-type")
		w.buf = append(w.buf, '>')
		if pt.Other != "" {
			w.textElem(NamespaceRPID, ActivityOther, pt.Other)
		}
		w.nodes(pt.Extra, NamespacePIDF)
		w.close(NamespaceRPID, "place-type")
	}
	w.nodes(p.Extra, NamespacePIDF)
	writeNotes(w, NamespaceDataModel, p.Notes)
	if p.Timestamp != "" {
		w.textElem(NamespaceDataModel, "timestamp", p.Timestamp)
	}
	w.close(NamespaceDataModel, "person")
}

func (a *Activities) write(w *writer) {
	w.open(NamespaceRPID, "activities")
	w.optAttr("from", a.From)
	w.optAttr("until", a.Until)
	w.buf = append(w.buf, '>')
	writeNotes(w, NamespaceRPID, a.Notes)
	for _, n := range a.Names {
		w.open(NamespaceRPID, n)
		w.buf = append(w.buf, "/>"...)
	}
	for _, o := range a.Other {
		w.textElem(NamespaceRPID, ActivityOther, o)
	}
	w.nodes(a.Extra, NamespacePIDF)
	w.close(NamespaceRPID, "activities")
}

func (d *Device) write(w *writer) {
	w.open(NamespaceDataModel, "device")
	w.attr("id", d.ID)
	w.buf = append(w.buf, '>')
	w.nodes(d.Extra, NamespacePIDF)
	if d.DeviceID != "" {
		w.textElem(NamespaceDataModel, "deviceID", d.DeviceID)
	}
	writeNotes(w, NamespaceDataModel, d.Notes)
	if d.Timestamp != "" {
		w.textElem(NamespaceDataModel, "timestamp", d.Timestamp)
	}
	w.close(NamespaceDataModel, "device")
}
