package bench

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeNG answers the ng protocol like an rtpengine that relays nothing:
// the offer's SDP goes to B unchanged (B sends straight to A) and the
// answer's to A. It drops the first copy of each cookie it sees when
// dropFirst is set, to exercise the retransmission.
type fakeNG struct {
	conn      *net.UDPConn
	wg        sync.WaitGroup
	mu        sync.Mutex
	commands  []string
	seen      map[string]bool
	dropFirst bool
}

func newFakeNG(t *testing.T, dropFirst bool) *fakeNG {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNG{conn: c, seen: map[string]bool{}, dropFirst: dropFirst}
	f.wg.Go(f.serve)
	t.Cleanup(func() { _ = c.Close(); f.wg.Wait() })
	return f
}

func (f *fakeNG) serve() {
	buf := make([]byte, 65536)
	for {
		n, from, err := f.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		cookie, body, ok := strings.Cut(string(buf[:n]), " ")
		if !ok {
			continue
		}
		v, err := decodeBencode([]byte(body))
		d, _ := v.(map[string]any)
		if err != nil || d == nil {
			continue
		}
		cmd, _ := d["command"].(string)
		f.mu.Lock()
		drop := f.dropFirst && !f.seen[cookie]
		f.seen[cookie] = true
		if !drop {
			f.commands = append(f.commands, cmd)
		}
		f.mu.Unlock()
		if drop {
			continue
		}
		reply := map[string]any{"result": "ok"}
		switch cmd {
		case "ping":
			reply["result"] = "pong"
		case "offer", "answer":
			reply["sdp"] = d["sdp"]
		case "delete":
		default:
			reply = map[string]any{"result": "error", "error-reason": "Unrecognized command"}
		}
		out, _ := appendBencode([]byte(cookie+" "), reply)
		_, _ = f.conn.WriteToUDPAddrPort(out, from)
	}
}

func TestRunMediaNG(t *testing.T) {
	f := newFakeNG(t, true)
	cfg := MediaConfig{Control: "ng", Target: f.conn.LocalAddr().String(), Calls: 2, PPS: 50,
		Duration: 500 * time.Millisecond, Drain: 500 * time.Millisecond}
	res, err := RunMedia(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 100 || res.Received != 100 || res.Misrouted != 0 || res.TeardownError != "" {
		t.Errorf("sent %d received %d misrouted %d teardown %q", res.Sent, res.Received, res.Misrouted, res.TeardownError)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := "ping offer answer offer answer delete delete"
	if got := strings.Join(f.commands, " "); got != want {
		t.Errorf("commands %q, want %q", got, want)
	}
}

func TestNGErrorReason(t *testing.T) {
	f := newFakeNG(t, false)
	c, err := dialNG(f.conn.LocalAddr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.do(context.Background(), map[string]any{"command": "bogus"})
	if !errors.Is(err, errNG) || !strings.Contains(err.Error(), "Unrecognized command") {
		t.Errorf("err %v", err)
	}
}

func TestNGTimeout(t *testing.T) {
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c, err := dialNG(silent.LocalAddr().String(), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.do(context.Background(), map[string]any{"command": "ping"}); !errors.Is(err, errNG) {
		t.Errorf("err %v, want errNG", err)
	}
}
