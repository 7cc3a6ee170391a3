package pidf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits bound what a decoder accepts from the network. A zero field takes its default.
type Limits struct {
	// MaxBytes is the largest body accepted (ErrTooLarge). Default 64 KiB.
	MaxBytes int
	// MaxDepth is the deepest element nesting accepted, the root being depth 1 (ErrTooDeep). Default 32.
	MaxDepth int
	// MaxElements is the most elements accepted in one body (ErrTooManyElements). Default 2,000.
	MaxElements int
}

// DefaultLimits are the limits Parse and ParseWatcherInfo apply.
var DefaultLimits = Limits{MaxBytes: 64 << 10, MaxDepth: 32, MaxElements: 2000}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	return l
}

// parseTree reads b into a tree of Nodes in one token pass, enforcing l as it goes, so no hostile body
// is ever unmarshalled. A DOCTYPE (and with it any entity declaration: billion laughs, external
// entities) is refused outright; encoding/xml would not expand it, but nothing legitimate needs one.
func (l Limits) parseTree(b []byte) (*Node, error) {
	l = l.withDefaults()
	if len(b) > l.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), l.MaxBytes)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark, which some clients send
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	p := treeParser{lim: l}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if err := p.token(tok); err != nil {
			return nil, err
		}
	}
	if p.root == nil || len(p.stack) != 0 {
		return nil, fmt.Errorf("%w: no complete root element", ErrMalformed)
	}
	return p.root, nil
}

// treeParser builds the tree from tokens. stack holds the open elements, innermost last.
type treeParser struct {
	lim      Limits
	root     *Node
	stack    []*Node
	elements int
	text     []byte // text of the innermost open element since its last child, see flushText
}

// flushText adds the text gathered since the last start or end tag as one text node. Gathering it first
// merges text split by comments or CDATA sections in linear time, so it decodes as it will be written.
func (p *treeParser) flushText() {
	if len(p.text) == 0 {
		return
	}
	n := p.stack[len(p.stack)-1]
	n.Children = append(n.Children, Node{Text: string(p.text)})
	p.text = p.text[:0]
}

func (p *treeParser) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		return p.start(t)
	case xml.EndElement:
		p.flushText()
		n := p.stack[len(p.stack)-1]
		n.dropBlankText()
		p.stack = p.stack[:len(p.stack)-1]
	case xml.CharData:
		if len(p.stack) == 0 {
			if len(bytes.TrimSpace(t)) != 0 {
				return fmt.Errorf("%w: text outside the root element", ErrMalformed)
			}
			return nil
		}
		p.text = append(p.text, t...)
	case xml.Directive:
		return fmt.Errorf("%w: DOCTYPE or other directive not allowed", ErrMalformed)
	case xml.ProcInst, xml.Comment:
	}
	return nil
}

func (p *treeParser) start(t xml.StartElement) error {
	if len(p.stack) > 0 {
		p.flushText()
	}
	p.elements++
	if p.elements > p.lim.MaxElements {
		return fmt.Errorf("%w: limit %d", ErrTooManyElements, p.lim.MaxElements)
	}
	if len(p.stack)+1 > p.lim.MaxDepth {
		return fmt.Errorf("%w: limit %d", ErrTooDeep, p.lim.MaxDepth)
	}
	if !validName(t.Name) {
		return fmt.Errorf("%w: bad element name", ErrMalformed)
	}
	n := Node{Name: t.Name}
	for _, a := range t.Attr {
		if isNamespaceDecl(a.Name) {
			continue // declarations are regenerated on encode
		}
		if !validName(a.Name) {
			return fmt.Errorf("%w: bad attribute name", ErrMalformed)
		}
		n.Attr = append(n.Attr, a)
	}
	if len(p.stack) == 0 {
		if p.root != nil {
			return fmt.Errorf("%w: more than one root element", ErrMalformed)
		}
		p.root = &n
		p.stack = append(p.stack, p.root)
		return nil
	}
	parent := p.stack[len(p.stack)-1]
	parent.Children = append(parent.Children, n)
	p.stack = append(p.stack, &parent.Children[len(parent.Children)-1])
	return nil
}

// validName rejects names encoding/xml lets through but that could not be written back unchanged.
func validName(n xml.Name) bool {
	return n.Local != "" && !strings.Contains(n.Local, ":")
}

func isNamespaceDecl(n xml.Name) bool {
	return n.Space == "xmlns" || (n.Space == "" && n.Local == "xmlns")
}
