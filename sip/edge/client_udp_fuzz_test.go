package edge

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// FuzzClientResponse feeds the UDP read filter's response catch whatever
// comes: it takes (returns nil) exactly the responses whose top Via
// branch has our prefix, hands everything else on unchanged, and a branch
// that names no pending entry is counted stray, never delivered.
func FuzzClientResponse(f *testing.F) {
	sl := newUDPClient(time.Second, func() {}, zap.NewNop(), NewMetrics(nil))
	defer sl.close()
	s := &Server{log: zap.NewNop(), parser: sip.NewParser(), port: &clientPort{sl: sl}}
	head := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;branch="
	tail := "\r\nFrom: <sip:a@localhost>;tag=1\r\nTo: <sip:b@localhost>;tag=2\r\nCall-ID: c\r\nCSeq: 2 NOTIFY\r\nContent-Length: 0\r\n\r\n"
	for _, b := range []string{sl.branch(0, 1), sl.branch(7, 1<<40), branchPrefix + "00000000.0.1", branchPrefix, "z9hG4bK-other", sl.branch(1, 1) + ".x"} {
		f.Add([]byte(head + b + tail))
	}
	f.Add([]byte("SIP/2.0 100 Trying\r\nv: SIP/2.0/UDP h;branch=" + branchPrefix + "\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		out := s.clientResponse(data, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060})
		msg, err := sip.NewParser().ParseSIP(in)
		res, isRes := msg.(*sip.Response)
		taken := err == nil && isRes && ours(res)
		switch {
		case taken && out != nil:
			t.Fatalf("ours, not taken:\n%q", in)
		case !taken && !bytes.Equal(out, in):
			t.Fatalf("not ours, not handed on unchanged:\n%q", in)
		}
	})
}

// FuzzBranch: parseBranch inverts branch for every slot and sequence
// number, and refuses the branch of another instance.
func FuzzBranch(f *testing.F) {
	f.Add(uint32(0), uint64(1))
	f.Add(^uint32(0), ^uint64(0))
	a := &udpClient{instance: "0badcafe"}
	b := &udpClient{instance: "0badcaff"}
	f.Fuzz(func(t *testing.T, slot uint32, seq uint64) {
		got, gotSeq, ok := a.parseBranch(a.branch(slot, seq))
		if !ok || got != slot || gotSeq != seq {
			t.Fatalf("branch(%d, %d) parsed as %d, %d, %v", slot, seq, got, gotSeq, ok)
		}
		if _, _, ok := b.parseBranch(a.branch(slot, seq)); ok {
			t.Fatal("another instance's branch matched")
		}
	})
}
