package call

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzCheckBody feeds checkBody (and the SDP, multipart and header
// parsers behind it) any Content-Type and body: it must never panic.
func FuzzCheckBody(f *testing.F) {
	f.Add("application/sdp", offerSDP, "60;refresher=uac", "7 1 INVITE")
	f.Add("multipart/mixed;boundary=xx", "--xx\r\nContent-Type: application/sdp\r\n\r\n"+offerSDP+"\r\n--xx--", "x", "")
	f.Add("text/plain", "hi", "", "1 2")
	f.Add("", "v=0\r\nm=", "90", "a b c")
	f.Fuzz(func(t *testing.T, ct, body, se, rackValue string) {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", Host: "example.com"})
		if ct != "" {
			req.AppendHeader(sip.NewHeader("Content-Type", ct))
		}
		req.AppendHeader(sip.NewHeader("Session-Expires", se))
		req.AppendHeader(sip.NewHeader("Min-SE", se))
		req.AppendHeader(sip.NewHeader("RAck", rackValue))
		req.SetBody([]byte(body))
		_ = checkBody(req)
		_ = sdpVersion(req.Body())
		_ = isSDP(req)
		_, _, _ = sessionExpires(req)
		_ = minSE(req)
		_, _, _, _ = rack(req)
	})
}
