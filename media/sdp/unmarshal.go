package sdp

import (
	"fmt"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// unmarshal parses body with pion/sdp, working around what pion refuses
// that endpoints send:
//   - a last line without its line ending;
//   - a CR that does not end a line (pion cuts as many bytes off the end
//     of a line as it has CRs anywhere);
//   - m= lines of media and protos that pion does not know (pion checks
//     them against a list that lacks "image" and "udptl", T.38 fax:
//     "m=image 0 udptl t38"): those are parsed with a stand-in media and
//     proto, then given their own back.
func unmarshal(body []byte) (*psdp.SessionDescription, error) {
	text := string(body)
	if strings.Count(text, "\r") != strings.Count(text, "\r\n") {
		text = strayCR(text)
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\r\n"
	}
	var orig []mediaProto
	if needsStandIn(text) {
		text, orig = standIn(text)
	}
	s := new(psdp.SessionDescription)
	if err := s.UnmarshalString(text); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	// pion takes the end of the input anywhere as the end of a session
	// description: "" or "v=0" parse. A t= line comes after v=, o= and s=,
	// and before any m= line: without one, the body was cut short.
	if len(s.TimeDescriptions) == 0 {
		return nil, fmt.Errorf("%w: no t= line", ErrMalformed)
	}
	if orig != nil {
		if len(orig) != len(s.MediaDescriptions) {
			return nil, fmt.Errorf("%w: m= lines", ErrMalformed)
		}
		for i, m := range s.MediaDescriptions {
			m.MediaName.Media = orig[i].media
			m.MediaName.Protos = strings.Split(orig[i].proto, "/")
		}
	}
	return s, nil
}

type mediaProto struct{ media, proto string }

// The media and protos pion/sdp v3.0.20 accepts (unmarshalMediaDescription).
var (
	pionMedia  = map[string]bool{"audio": true, "video": true, "text": true, "application": true, "message": true}
	pionProtos = map[string]bool{
		"UDP": true, "RTP": true, "AVP": true, "SAVP": true, "SAVPF": true, "TLS": true, "DTLS": true,
		"SCTP": true, "AVPF": true, "TCP": true, "MSRP": true, "BFCP": true, "UDT": true, "IX": true,
		"MRCPv2": true, "FEC": true,
	}
)

// mLines calls fn with the fields of each m= line of text, split as pion
// splits them (on spaces and tabs), and the line's bounds.
func mLines(text string, fn func(f []string, start, end int)) {
	for start := 0; start < len(text); {
		end := strings.IndexByte(text[start:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += start
		}
		line := strings.TrimLeft(text[start:end], "\r")
		if rest, ok := strings.CutPrefix(line, "m="); ok {
			rest = strings.TrimRight(rest, "\r")
			fn(strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' }), start, end)
		}
		start = end + 1
	}
}

func needsStandIn(text string) bool {
	need := false
	mLines(text, func(f []string, _, _ int) {
		if len(f) < 3 || !pionMedia[f[0]] {
			need = need || len(f) >= 3
			return
		}
		for p := range strings.SplitSeq(f[2], "/") {
			if !pionProtos[p] {
				need = true
			}
		}
	})
	return need
}

// standIn is text with every m= line's media and proto replaced by ones
// pion accepts, and the originals in m= line order.
func standIn(text string) (string, []mediaProto) {
	var b strings.Builder
	b.Grow(len(text))
	var orig []mediaProto
	last := 0
	mLines(text, func(f []string, start, end int) {
		if len(f) < 3 {
			orig = append(orig, mediaProto{}) // pion fails on it anyway
			return
		}
		orig = append(orig, mediaProto{f[0], f[2]})
		b.WriteString(text[last:start])
		b.WriteString("m=audio " + f[1] + " RTP")
		for _, fm := range f[3:] {
			b.WriteString(" " + fm)
		}
		b.WriteString("\r")
		last = end
	})
	b.WriteString(text[last:])
	return b.String(), orig
}

// strayCR is text without the CRs that are not followed by LF.
func strayCR(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	for i := 0; i < len(text); i++ {
		if text[i] != '\r' || i+1 < len(text) && text[i+1] == '\n' {
			b.WriteByte(text[i])
		}
	}
	return b.String()
}
