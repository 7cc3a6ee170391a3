package bench

import (
	"fmt"
	"io"
	"strings"
)

// writeMessage prints the message lines of the summary table.
func writeMessage(w io.Writer, mr *MessageResult) {
	uas := mr.UAS
	if uas == "" {
		uas = "the generator"
	}
	fmt.Fprintf(w, "recipients\t%d %s (contact at %s)\n", mr.Recipients, mr.To, uas)
	fmt.Fprintf(w, "setup\t%d registered, %d failed, %d retransmissions in %.2fs (%.0f/s)\n",
		mr.RegisterOK, mr.RegisterFailed, mr.RegisterRetrans, mr.SetupTime.Seconds(), mr.RegisterRate)
	if len(mr.RegisterFailures) > 0 {
		fmt.Fprintf(w, "setup failures\t%s\n", strings.Join(statusList(mr.RegisterFailures, ": "), ", "))
	}
	fmt.Fprintf(w, "requests in\t%d answered by the generator\n", mr.RequestsAnswered)
	if mr.UAS != "" && mr.RequestsAnswered > 0 {
		// A server that routes to where the REGISTER came from (ours)
		// rather than to its Contact delivers to the generator.
		fmt.Fprintf(w, "warning\t%d requests came to the generator, not to the UAS %s\n", mr.RequestsAnswered, mr.UAS)
	}
	if mr.MemBefore > 0 {
		fmt.Fprintf(w, "target cost\t%.1f MB before, %.1f MB after; %s B memory, %s B written (wchar), %s B to disk per MESSAGE\n",
			mb(mr.MemBefore), mb(mr.MemAfter), perUnitText(mr.BytesPerMsg), perUnitText(mr.WcharPerMsg),
			perUnitText(mr.WriteBytesPerMsg))
	}
}

// messageKeys appends the message keys of the SUMMARY line.
func messageKeys(b *strings.Builder, mr *MessageResult) {
	uas := mr.UAS
	if uas == "" {
		uas = "-"
	}
	fmt.Fprintf(b, " to=%s recipients=%d uas=%s register_ok=%d register_failed=%d register_retrans=%d "+
		"register_rate=%.0f setup_s=%.2f requests_in=%d mem_before_mb=%.1f mem_after_mb=%.1f "+
		"bytes_per_msg=%s wchar_per_msg=%s write_bytes_per_msg=%s",
		mr.To, mr.Recipients, uas, mr.RegisterOK, mr.RegisterFailed, mr.RegisterRetrans,
		mr.RegisterRate, mr.SetupTime.Seconds(), mr.RequestsAnswered, mb(mr.MemBefore), mb(mr.MemAfter),
		perUnitText(mr.BytesPerMsg), perUnitText(mr.WcharPerMsg), perUnitText(mr.WriteBytesPerMsg))
}

// jsonMessage is the "message" object of the summary: the keys of the
// message SUMMARY line.
type jsonMessage struct {
	To               string            `json:"to"`
	Recipients       int               `json:"recipients"`
	UAS              string            `json:"uas"`
	RegisterOK       uint64            `json:"register_ok"`
	RegisterFailed   uint64            `json:"register_failed"`
	RegisterRetrans  uint64            `json:"register_retrans"`
	RegisterFailures map[string]uint64 `json:"register_failures_by_status"`
	RegisterRate     float64           `json:"register_rate"`
	SetupS           float64           `json:"setup_s"`
	RequestsIn       uint64            `json:"requests_in"`
	MemBefore        uint64            `json:"mem_before_bytes"`
	MemAfter         uint64            `json:"mem_after_bytes"`
	BytesPerMsg      float64           `json:"bytes_per_msg"`
	WcharPerMsg      float64           `json:"wchar_per_msg"`
	WriteBytesPerMsg float64           `json:"write_bytes_per_msg"`
}

func messageJSON(mr *MessageResult) *jsonMessage {
	if mr == nil {
		return nil
	}
	return &jsonMessage{
		To: mr.To, Recipients: mr.Recipients, UAS: mr.UAS, RegisterOK: mr.RegisterOK,
		RegisterFailed: mr.RegisterFailed, RegisterRetrans: mr.RegisterRetrans,
		RegisterFailures: statusKeys(mr.RegisterFailures), RegisterRate: mr.RegisterRate,
		SetupS: mr.SetupTime.Seconds(), RequestsIn: mr.RequestsAnswered, MemBefore: mr.MemBefore,
		MemAfter: mr.MemAfter, BytesPerMsg: mr.BytesPerMsg, WcharPerMsg: mr.WcharPerMsg,
		WriteBytesPerMsg: mr.WriteBytesPerMsg,
	}
}
