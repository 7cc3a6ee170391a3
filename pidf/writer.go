package pidf

import (
	"encoding/xml"
	"unicode/utf8"
)

const xmlURL = "http://www.w3.org/XML/1998/namespace"

// writer appends compact XML (no indentation) to buf. The root element declares the root namespace as
// the default and every other namespace used anywhere with a prefix, so child elements carry no
// declarations; only an element outside any namespace inside the default one needs xmlns="".
type writer struct {
	buf  []byte
	root string
	// The namespaces in use: the first ones in an array, so that an ordinary Marshal does not allocate.
	fixed   [6]nsPrefix
	nfixed  int
	more    []nsPrefix
	unknown int // namespaces numbered so far: n1, n2…
}

// lookup returns the prefix of uri, or "" if it is not in use.
func (w *writer) lookup(uri string) string {
	for i := 0; i < w.nfixed; i++ {
		if w.fixed[i].uri == uri {
			return w.fixed[i].prefix
		}
	}
	for _, p := range w.more {
		if p.uri == uri {
			return p.prefix
		}
	}
	return ""
}

type nsPrefix struct{ uri, prefix string }

// knownPrefixes are the prefixes of the namespaces this package models, as the RFCs' examples spell them.
var knownPrefixes = []nsPrefix{
	{NamespaceDataModel, "dm"}, {NamespaceRPID, "rpid"}, {NamespaceCaps, "caps"},
}

func (w *writer) prefix(uri string) string {
	if uri == xmlURL {
		return "xml"
	}
	return w.lookup(uri)
}

// use records that uri needs a prefix. Call it for every namespace before writing the root.
func (w *writer) use(uri string) {
	if uri == "" || uri == xmlURL || w.prefix(uri) != "" {
		return
	}
	p := nsPrefix{uri: uri}
	for _, k := range knownPrefixes {
		if k.uri == uri {
			p.prefix = k.prefix
		}
	}
	if p.prefix == "" {
		w.unknown++
		p.prefix = "n" + itoa(w.unknown)
	}
	if w.nfixed < len(w.fixed) {
		w.fixed[w.nfixed] = p
		w.nfixed++
		return
	}
	w.more = append(w.more, p)
}

// useNode records the namespaces of an extension subtree. Elements in the root namespace or in none
// are written unprefixed; attributes in a namespace always need a prefix.
func (w *writer) useNode(n *Node) {
	if n.IsText() {
		return
	}
	if n.Name.Space != w.root {
		w.use(n.Name.Space)
	}
	for _, a := range n.Attr {
		w.use(a.Name.Space)
	}
	for i := range n.Children {
		w.useNode(&n.Children[i])
	}
}

func (w *writer) useNodes(ns []Node) {
	for i := range ns {
		w.useNode(&ns[i])
	}
}

// openRoot writes the root start tag with every declaration, leaving it open for attributes.
func (w *writer) openRoot(local string) {
	w.buf = append(w.buf, '<')
	w.buf = append(w.buf, local...)
	w.attr("xmlns", w.root)
	for _, p := range w.fixed[:w.nfixed] {
		w.prefixedAttr("xmlns", p.prefix, p.uri)
	}
	for _, p := range w.more {
		w.prefixedAttr("xmlns", p.prefix, p.uri)
	}
}

// open writes "<name" for an element of a modelled namespace (always the root one or a prefixed one).
func (w *writer) open(space, local string) {
	w.buf = append(w.buf, '<')
	w.name(space, local)
}

func (w *writer) name(space, local string) {
	if space != w.root {
		w.buf = append(w.buf, w.prefix(space)...)
		w.buf = append(w.buf, ':')
	}
	w.buf = append(w.buf, local...)
}

func (w *writer) close(space, local string) {
	w.buf = append(w.buf, "</"...)
	w.name(space, local)
	w.buf = append(w.buf, '>')
}

func (w *writer) attr(name, value string) {
	w.buf = append(w.buf, ' ')
	w.attrRest(name, value)
}

func (w *writer) attrRest(name, value string) {
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, `="`...)
	w.buf = appendEscaped(w.buf, value, true)
	w.buf = append(w.buf, '"')
}

// prefixedAttr writes prefix:local="value" without building the name (Marshal must not allocate).
func (w *writer) prefixedAttr(prefix, local, value string) {
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, prefix...)
	w.buf = append(w.buf, ':')
	w.attrRest(local, value)
}

// optAttr writes the attribute only when value is not empty.
func (w *writer) optAttr(name, value string) {
	if value != "" {
		w.attr(name, value)
	}
}

// textElem writes <name>text</name>, or <name/> when text is empty.
func (w *writer) textElem(space, local, text string) {
	w.open(space, local)
	w.endText(space, local, text)
}

// endText ends an open start tag with text content and the end tag.
func (w *writer) endText(space, local, text string) {
	if text == "" {
		w.buf = append(w.buf, "/>"...)
		return
	}
	w.buf = append(w.buf, '>')
	w.buf = appendEscaped(w.buf, text, false)
	w.close(space, local)
}

// node writes an extension subtree. def is the default namespace in scope where it is written.
func (w *writer) node(n *Node, def string) {
	if n.IsText() {
		w.buf = appendEscaped(w.buf, n.Text, false)
		return
	}
	w.buf = append(w.buf, '<')
	qname := w.nodeName(n.Name, def)
	if (n.Name.Space == "" || n.Name.Space == w.root) && n.Name.Space != def {
		def = n.Name.Space
		w.attr("xmlns", def)
	}
	for _, a := range n.Attr {
		w.nodeAttr(a)
	}
	if len(n.Children) == 0 {
		w.buf = append(w.buf, "/>"...)
		return
	}
	w.buf = append(w.buf, '>')
	for i := range n.Children {
		w.node(&n.Children[i], def)
	}
	w.buf = append(w.buf, "</"...)
	w.buf = append(w.buf, w.buf[qname[0]:qname[1]]...)
	w.buf = append(w.buf, '>')
}

// nodeName writes the element name and returns where it sits in buf, for the end tag.
func (w *writer) nodeName(n xml.Name, def string) [2]int {
	start := len(w.buf)
	if n.Space != "" && n.Space != w.root {
		w.buf = append(w.buf, w.prefix(n.Space)...)
		w.buf = append(w.buf, ':')
	}
	w.buf = append(w.buf, n.Local...)
	return [2]int{start, len(w.buf)}
}

func (w *writer) nodeAttr(a xml.Attr) {
	if a.Name.Space == "" {
		w.attr(a.Name.Local, a.Value)
		return
	}
	w.prefixedAttr(w.prefix(a.Name.Space), a.Name.Local, a.Value)
}

func (w *writer) nodes(ns []Node, def string) {
	for i := range ns {
		w.node(&ns[i], def)
	}
}

// appendEscaped escapes s for element content or an attribute value. Characters XML cannot carry become
// U+FFFD, as in xml.EscapeText; CR (and in attributes TAB and LF) become character references so that a
// parser gives them back unchanged.
func appendEscaped(dst []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == '&':
			esc = "&amp;"
		case r == '<':
			esc = "&lt;"
		case r == '>':
			esc = "&gt;"
		case r == '"' && attr:
			esc = "&quot;"
		case r == '\r':
			esc = "&#xD;"
		case r == '\n' && attr:
			esc = "&#xA;"
		case r == '\t' && attr:
			esc = "&#x9;"
		case !isXMLChar(r) || (r == utf8.RuneError && width == 1):
			esc = "\uFFFD"
		}
		if esc != "" {
			dst = append(dst, s[last:i]...)
			dst = append(dst, esc...)
			last = i + width
		}
		i += width
	}
	return append(dst, s[last:]...)
}

// isXMLChar reports whether r is in the XML 1.0 Char production.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
