package ua

import (
	"errors"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Media directions of an SDP stream (RFC 3264 §5.1, §8.4).
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// defaultMediaPort is the RTP port the SDK offers when WithMediaPort is
// not given. The SDK carries no media: the port only makes the SDP valid.
const defaultMediaPort = 40000

// ctSDP is the content type of offers and answers.
const ctSDP = "application/sdp"

// errNoAudio: an SDP without an audio stream.
var errNoAudio = errors.New("ua: sdp without an audio stream")

// buildSDP is the SDK's minimal session description (RFC 4566): one
// audio stream offering PCMU, PCMA and telephone-event (RFC 4733), in
// direction dir.
func buildSDP(host string, port int, sessID, version uint64, dir string) []byte {
	addrType := "IP4"
	if strings.Contains(host, ":") {
		addrType = "IP6"
	}
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{Username: "-", SessionID: sessID, SessionVersion: version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: host},
		SessionName:           "b2bua-ua",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: host}},
		TimeDescriptions:      []sdp.TimeDescription{{Timing: sdp.Timing{}}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: port},
				Protos: []string{"RTP", "AVP"}, Formats: []string{"0", "8", "101"}},
			Attributes: []sdp.Attribute{
				{Key: "rtpmap", Value: "0 PCMU/8000"},
				{Key: "rtpmap", Value: "8 PCMA/8000"},
				{Key: "rtpmap", Value: "101 telephone-event/8000"},
				{Key: "fmtp", Value: "101 0-16"},
				{Key: dir},
			},
		}},
	}
	b, err := sd.Marshal()
	if err != nil { // only a nil field could fail, and none is
		panic(err)
	}
	return b
}

// sdpDirection is the direction of the first audio stream of an SDP
// body: its own attribute, else the session's, else sendrecv (RFC 3264
// §5.1). A stream with port 0 (rejected) or a connection address of
// 0.0.0.0 (the RFC 2543 way to hold, RFC 3264 §8.4) counts as inactive.
func sdpDirection(body []byte) (string, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return "", err
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		if m.MediaName.Port.Value == 0 {
			return dirInactive, nil
		}
		c := m.ConnectionInformation
		if c == nil {
			c = sd.ConnectionInformation
		}
		if c != nil && c.Address != nil && c.Address.Address == "0.0.0.0" {
			return dirInactive, nil
		}
		if d := directionOf(m.Attributes); d != "" {
			return d, nil
		}
		if d := directionOf(sd.Attributes); d != "" {
			return d, nil
		}
		return dirSendRecv, nil
	}
	return "", errNoAudio
}

func directionOf(attrs []sdp.Attribute) string {
	for _, a := range attrs {
		switch k := strings.ToLower(a.Key); k {
		case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
			return k
		}
	}
	return ""
}

// answerDirection is the direction that answers an offer of direction
// offered (RFC 3264 §6.1), when we hold the call ourselves or not.
func answerDirection(offered string, holding bool) string {
	switch offered {
	case dirSendOnly:
		if holding {
			return dirInactive
		}
		return dirRecvOnly
	case dirRecvOnly:
		return dirSendOnly
	case dirInactive:
		return dirInactive
	}
	if holding {
		return dirSendOnly
	}
	return dirSendRecv
}

// holds says whether an offer of direction d puts us on hold: the remote
// party stops listening to us (RFC 3264 §8.4).
func holds(d string) bool { return d == dirSendOnly || d == dirInactive }

// DTMF relay (application/dtmf-relay): the INFO body of one digit, as
// Cisco and most PBXes send it.
const ctDTMFRelay = "application/dtmf-relay"

// dtmfDuration is the length of a digit we send, in ms.
const dtmfDuration = 160

// validDigit says whether r is a DTMF digit (RFC 4733 events 0-15).
func validDigit(r rune) bool {
	return r >= '0' && r <= '9' || r == '*' || r == '#' || r >= 'A' && r <= 'D'
}

// formatDTMFRelay is the body that sends digit for ms milliseconds.
func formatDTMFRelay(digit rune, ms int) []byte {
	return []byte("Signal=" + string(digit) + "\r\nDuration=" + strconv.Itoa(ms) + "\r\n")
}

// parseDTMFRelay reads the digit and duration of a dtmf-relay body: lines
// of key=value, keys in any case, Signal required (a digit, or the event
// number 10 for * and 11 for #). ok is false when there is no valid digit.
func parseDTMFRelay(body []byte) (digit rune, ms int, ok bool) {
	for _, line := range strings.Split(string(body), "\n") {
		k, v, found := strings.Cut(line, "=")
		if !found {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "signal":
			switch {
			case v == "10":
				digit, ok = '*', true
			case v == "11":
				digit, ok = '#', true
			case len(v) == 1 && validDigit(rune(strings.ToUpper(v)[0])):
				digit, ok = rune(strings.ToUpper(v)[0]), true
			default:
				return 0, 0, false
			}
		case "duration":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 60000 {
				ms = n
			}
		}
	}
	if !ok {
		return 0, 0, false
	}
	return digit, ms, true
}
