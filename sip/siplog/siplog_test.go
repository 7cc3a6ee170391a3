package siplog

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestNew: what a peer can provoke is demoted to debug, raw messages are
// reduced to their size, and the rest passes as logged.
func TestNew(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := New(zap.New(core))
	l.Warn("TCP ref went negative", "ref", -1)
	l.Error("failed to parse message", "data", "REGISTER sip:x SIP/2.0\r\nAuthorization: Digest secret\r\n")
	l.Warn("listener stopped", "data", "REGISTER sip:x SIP/2.0\r\nAuthorization: Digest secret\r\n")
	l.Info("plain", "k", "v")
	got := logs.All()
	if len(got) != 2 {
		t.Fatalf("%d entries, want the 2 not demoted: %v", len(got), got)
	}
	if got[0].Message != "listener stopped" || got[0].Level != zapcore.WarnLevel {
		t.Fatalf("first entry %+v", got[0])
	}
	fields := got[0].ContextMap()
	if _, raw := fields["data"]; raw {
		t.Fatalf("raw message kept: %v", fields)
	}
	if fields["data_bytes"] == nil {
		t.Fatalf("no data_bytes: %v", fields)
	}
	if got[1].Message != "plain" || got[1].ContextMap()["k"] != "v" {
		t.Fatalf("second entry %+v", got[1])
	}
}
