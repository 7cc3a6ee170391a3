package edge

import (
	"fmt"
	"slices"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestHeadersNamedAsSipgo checks that headerNamed and headersNamed find
// the headers sipgo's GetHeader and GetHeaders find, in the same order, for
// every name the edge looks up, on every golden request and on names
// written in odd cases.
func TestHeadersNamedAsSipgo(t *testing.T) {
	odd := "REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-1\r\n" +
		"From: <sip:a@localhost>;tag=1\r\nTo: <sip:a@localhost>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n" +
		"EXPIRES: 60\r\nuser-AGENT: x\r\nPATH: <sip:p1@proxy;lr>\r\npath: <sip:p2@proxy;lr>\r\n" +
		"m: <sip:a@127.0.0.1>\r\nCONTACT: <sip:b@127.0.0.1>\r\nrequire: path\r\nRequire: timer\r\n" +
		"DATE: Sat, 13 Nov 2010 23:29:00 GMT\r\nContent-Length: 0\r\n\r\n"
	raws := append(seeds(t), []byte(odd))
	names := []string{"Expires", "User-Agent", "Path", "Contact", "Require", "Date", "Via", "CSeq", "Subject"}
	parser := sip.NewParser()
	for i, raw := range raws {
		msg, err := parser.ParseSIP(raw)
		if err != nil {
			continue
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			continue
		}
		for _, name := range names {
			t.Run(fmt.Sprintf("%d/%s", i, name), func(t *testing.T) {
				lower := sip.HeaderToLower(name)
				if got, want := headerNamed(req, lower), req.GetHeader(name); got != want {
					t.Errorf("headerNamed = %v, GetHeader = %v", got, want)
				}
				got := slices.Collect(headersNamed(req, lower))
				if want := req.GetHeaders(name); !slices.Equal(got, want) {
					t.Errorf("headersNamed = %v, GetHeaders = %v", got, want)
				}
			})
		}
	}
}
