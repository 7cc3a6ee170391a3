package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"
)

// ngClient speaks rtpengine's ng control protocol: one UDP datagram per
// command, "COOKIE bencoded-dict", answered with "COOKIE bencoded-dict"
// carrying "result" ("ok", "error" with "error-reason"). Commands are sent
// one at a time and retransmitted with the same cookie, which rtpengine
// answers from its cache instead of running the command twice.
type ngClient struct {
	conn    *net.UDPConn
	timeout time.Duration
	buf     []byte
	n       uint64
	prefix  string
}

// errNG reports a command rtpengine refused or did not answer.
var errNG = errors.New("bench: rtpengine ng")

func dialNG(addr string, timeout time.Duration) (*ngClient, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNG, err)
	}
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNG, err)
	}
	var p [4]byte
	_, _ = rand.Read(p[:])
	return &ngClient{conn: c, timeout: timeout, buf: make([]byte, 65536), prefix: hex.EncodeToString(p[:])}, nil
}

func (c *ngClient) Close() error { return c.conn.Close() }

// do sends cmd and returns the answer's dictionary; a "result" other than
// "ok" is an error with rtpengine's reason.
func (c *ngClient) do(ctx context.Context, cmd map[string]any) (map[string]any, error) {
	c.n++
	cookie := fmt.Sprintf("%s_%d", c.prefix, c.n)
	msg, err := appendBencode([]byte(cookie+" "), cmd)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.timeout)
	for try := 0; time.Now().Before(deadline); try++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := c.conn.Write(msg); err != nil {
			return nil, fmt.Errorf("%w: %v", errNG, err)
		}
		wait := min(time.Duration(200<<min(try, 4))*time.Millisecond, time.Until(deadline))
		_ = c.conn.SetReadDeadline(time.Now().Add(wait))
		for {
			n, err := c.conn.Read(c.buf)
			if err != nil {
				break // timeout: send again
			}
			got, ok := parseNGReply(c.buf[:n], cookie)
			if !ok {
				continue // an answer to an earlier command
			}
			return got, ngResult(cmd, got)
		}
	}
	return nil, fmt.Errorf("%w: %v: no answer in %v", errNG, cmd["command"], c.timeout)
}

// parseNGReply splits "COOKIE dict" and decodes the dict when the cookie
// is want.
func parseNGReply(b []byte, want string) (map[string]any, bool) {
	if len(b) <= len(want) || string(b[:len(want)]) != want || b[len(want)] != ' ' {
		return nil, false
	}
	v, err := decodeBencode(b[len(want)+1:])
	d, ok := v.(map[string]any)
	return d, err == nil && ok
}

func ngResult(cmd, got map[string]any) error {
	if r, _ := got["result"].(string); r != "ok" && r != "pong" {
		reason, _ := got["error-reason"].(string)
		return fmt.Errorf("%w: %v: %s %s", errNG, cmd["command"], r, reason)
	}
	return nil
}

// ngControl sets the calls up in rtpengine: for call c an "offer" with
// peer A's SDP (what rtpengine returns goes to peer B) and an "answer"
// with peer B's SDP (what it returns goes to peer A), and a "delete" at
// the end. SRTP on one side is rtpengine's "transport-protocol" toward the
// other: with --srtp a the offer is RTP/SAVP and rtpengine offers B plain
// RTP/AVP; with --srtp b the offer is plain and rtpengine offers B
// RTP/SAVP with its own a=crypto lines, and B answers with the
// AES_CM_128_HMAC_SHA1_80 one.
type ngControl struct {
	c    *ngClient
	srtp MediaSRTP
	// callID prefixes every call's Call-ID, so two runs against one
	// rtpengine never share a call.
	callID string
}

func newNGControl(addr string, srtp MediaSRTP) (*ngControl, error) {
	c, err := dialNG(addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &ngControl{c: c, srtp: srtp, callID: "bench-" + c.prefix + "-"}, nil
}

func (n *ngControl) ids(call int) (callID, fromTag, toTag string) {
	id := fmt.Sprintf("%s%d", n.callID, call)
	return id, "a" + id, "b" + id
}

// setup runs offer and answer for every call in turn.
func (n *ngControl) setup(ctx context.Context, calls []*mediaCall) error {
	if _, err := n.c.do(ctx, map[string]any{"command": "ping"}); err != nil {
		return err
	}
	for _, mc := range calls {
		if err := n.setupOne(ctx, mc); err != nil {
			return fmt.Errorf("call %d: %w", mc.idx, err)
		}
	}
	return nil
}

func (n *ngControl) setupOne(ctx context.Context, mc *mediaCall) error {
	callID, fromTag, toTag := n.ids(mc.idx)
	offer := map[string]any{
		"command": "offer", "call-id": callID, "from-tag": fromTag,
		"sdp":     string(mc.offerSDP()),
		"replace": []string{"origin", "session-connection"}, "ICE": "remove",
	}
	switch n.srtp {
	case SRTPA:
		offer["transport-protocol"] = "RTP/AVP"
	case SRTPB:
		offer["transport-protocol"] = "RTP/SAVP"
	}
	got, err := n.c.do(ctx, offer)
	if err != nil {
		return err
	}
	sdp, _ := got["sdp"].(string)
	if err := mc.readOfferAtB([]byte(sdp)); err != nil {
		return err
	}
	got, err = n.c.do(ctx, map[string]any{
		"command": "answer", "call-id": callID, "from-tag": fromTag, "to-tag": toTag,
		"sdp":     string(mc.answerSDP()),
		"replace": []string{"origin", "session-connection"}, "ICE": "remove",
	})
	if err != nil {
		return err
	}
	sdp, _ = got["sdp"].(string)
	return mc.readAnswerAtA([]byte(sdp))
}

// teardown deletes every call; it goes on past errors and returns the first.
func (n *ngControl) teardown(ctx context.Context, calls []*mediaCall) error {
	var first error
	for _, mc := range calls {
		callID, fromTag, _ := n.ids(mc.idx)
		// delete-delay 0: free the ports now, not 30 s later, so the next
		// step has them.
		_, err := n.c.do(ctx, map[string]any{"command": "delete", "call-id": callID, "from-tag": fromTag, "delete-delay": 0})
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (n *ngControl) Close() error { return n.c.Close() }
