package pidf

import (
	"encoding/xml"
	"strings"
)

// Node is an element this package does not model (an extension from another namespace, or one it does
// not interpret), kept so that a decode→encode round trip preserves it. Name.Space is the namespace URI,
// not a prefix: prefixes are chosen again on encode. A text node has an empty Name and only Text.
//
// Namespace declarations are not kept as attributes; they are written where needed. Text is kept with
// its place among child elements, except text that is only whitespace, which is dropped.
type Node struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []Node
	Text     string
}

// IsText reports whether n is a text node.
func (n *Node) IsText() bool { return n.Name.Local == "" }

// InnerText returns the concatenated text directly inside n, ignoring child elements.
func (n *Node) InnerText() string {
	if len(n.Children) == 1 && n.Children[0].IsText() {
		return n.Children[0].Text
	}
	var b strings.Builder
	for i := range n.Children {
		if n.Children[i].IsText() {
			b.WriteString(n.Children[i].Text)
		}
	}
	return b.String()
}

// attr returns the value of the attribute named space/local, or "".
func (n *Node) attr(space, local string) string {
	for _, a := range n.Attr {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (n *Node) is(space, local string) bool {
	return n.Name.Space == space && n.Name.Local == local
}

func (n *Node) dropBlankText() {
	out := n.Children[:0]
	for _, c := range n.Children {
		if c.IsText() && strings.TrimSpace(c.Text) == "" {
			continue
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		out = nil
	}
	n.Children = out
}

// textNode returns an element holding only text, as the encoders build them.
func textNode(space, local, text string) Node {
	n := Node{Name: xml.Name{Space: space, Local: local}}
	if text != "" {
		n.Children = []Node{{Text: text}}
	}
	return n
}
