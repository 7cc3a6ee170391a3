package edge_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/b2bua/b2bua/sip/siptest"
)

// register is a valid REGISTER that the malformed cases start from.
func register(callID string) string {
	return "REGISTER sip:localhost SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-" + callID + ";rport\r\n" +
		"From: <sip:mal@localhost>;tag=1\r\n" +
		"To: <sip:mal@localhost>\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 REGISTER\r\n" +
		"Contact: <sip:mal@127.0.0.1:5999>\r\n" +
		"Content-Length: 0\r\n\r\n"
}

// TestMalformed sends bad input of every kind over UDP and TCP. Each must
// get a 4xx or no answer at all (never a 2xx or 5xx), and the server must
// go on answering: a valid OPTIONS after every case proves it is alive.
func TestMalformed(t *testing.T) {
	garbage := make([]byte, 1500)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(r.IntN(256))
	}
	big := strings.Repeat("a", 70*1024)
	tests := []struct {
		name string
		msg  string
		want int // 0: no response expected; -1: 400 or nothing
		tcp  int // want over TCP when it differs
	}{
		{"binary garbage", string(garbage), 0, 0},
		{"register prefix then garbage", "REGISTER " + string(garbage), -1, 0},
		{"truncated mid header", register("t1")[:80], -1, 0},
		{"no blank line", strings.TrimSuffix(register("t2"), "\r\n"), -1, 0},
		{"content-length past the end", strings.Replace(register("t3"), "Content-Length: 0", "Content-Length: 500", 1), -1, 0},
		{"negative content-length", strings.Replace(register("t4"), "Content-Length: 0", "Content-Length: -5", 1), -1, 0},
		{"content-length not a number", strings.Replace(register("t5"), "Content-Length: 0", "Content-Length: abc", 1), -1, 0},
		{"no To (GHSA-c623-f998-8hhv)", strings.Replace(register("t6"), "To: <sip:mal@localhost>\r\n", "", 1), 400, 0},
		{"no To on INVITE", strings.NewReplacer("REGISTER sip", "INVITE sip", "CSeq: 1 REGISTER", "CSeq: 1 INVITE", "To: <sip:mal@localhost>\r\n", "").Replace(register("t7")), 400, 0},
		{"unparsable From (livekit/sip#199)", strings.Replace(register("t8"), "From: <sip:mal@localhost>;tag=1", "From: <sip:mal@localhost;tag=1", 1), -1, 0},
		{"unparsable To", strings.Replace(register("t9"), "To: <sip:mal@localhost>", "To: garbage<<", 1), -1, 0},
		{"CSeq overflow", strings.Replace(register("t10"), "CSeq: 1 REGISTER", "CSeq: 99999999999999999999 REGISTER", 1), -1, 0},
		{"Expires overflow is clamped", strings.Replace(register("t11"), "Content-Length", "Expires: 999999999999999999999999\r\nContent-Length", 1), 200, 0},
		{"NUL in header", strings.Replace(register("t12"), "Call-ID: t12", "Call-ID: t\x0012", 1), -1, 0},
		{"bare LF line ends", strings.ReplaceAll(register("t13"), "\r\n", "\n"), -1, 0},
		{"header injection in contact", strings.Replace(register("t14"), "Contact: <sip:mal@127.0.0.1:5999>", "Contact: <sip:mal@127.0.0.1:5999>\r\nContact: *", 1), 400, 0},
		{"20 KB header is within limits", strings.Replace(register("t15"), "Content-Length", "X-Big: "+big[:20000]+"\r\nContent-Length", 1), 200, 0},
		{"many Via", strings.Replace(register("t16"), "From:", strings.Repeat("Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n", 200)+"From:", 1), 200, 0},
		{"CRLF keepalive", "\r\n\r\n", 0, 0},
		// RFC 3261 §7.5: CRLF before the start line is ignored on streams.
		{"empty line before request line", "\r\n" + register("t17"), -1, 200},
		{"wrong SIP version", strings.Replace(register("t18"), "SIP/2.0\r\n", "SIP/3.0\r\n", 1), 505, 0},
		{"request-URI garbage", strings.Replace(register("t19"), "REGISTER sip:localhost", "REGISTER ::::", 1), -1, 0},
		{"request-URI not sip", strings.Replace(register("t20"), "REGISTER sip:localhost", "REGISTER http://localhost/", 1), 416, 0},
	}
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			s := startServer(t)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					// A fresh connection per case: a TCP server may close on garbage.
					c := s.dial(t, network)
					msg := strings.ReplaceAll(tc.msg, "127.0.0.1:5999", c.LocalAddr())
					if network == "tcp" {
						msg = strings.ReplaceAll(msg, "SIP/2.0/UDP", "SIP/2.0/TCP")
					}
					if err := c.Send([]byte(msg)); err != nil {
						t.Fatal(err)
					}
					res, err := c.Read(400 * time.Millisecond)
					code := siptest.Status(res)
					if network == "tcp" && tc.tcp != 0 {
						tc.want = tc.tcp
					}
					switch {
					case err != nil && tc.want > 0:
						t.Fatalf("no response, want %d", tc.want)
					case err != nil:
					case tc.want == 0:
						t.Fatalf("answered %d, want no response", code)
					case tc.want == -1 && code != 400:
						t.Fatalf("answered %q, want 400 or nothing", firstLine(res))
					case tc.want > 0 && code != tc.want:
						t.Fatalf("answered %q, want %d", firstLine(res), tc.want)
					}
					alive(t, s, network)
				})
			}
		})
	}
}

// TestOversizedOverTCP sends a request announcing a body over 64 KB:
// sipgo must refuse it before allocating it (GHSA-pg59-5vwg-4jxq).
func TestOversizedOverTCP(t *testing.T) {
	s := startServer(t)
	c := s.dial(t, "tcp")
	msg := strings.Replace(register("big"), "Content-Length: 0", "Content-Length: 2000000000", 1)
	_ = c.Send([]byte(msg))
	_ = c.Send(bytes.Repeat([]byte("x"), 70*1024))
	if res, err := c.Read(500 * time.Millisecond); err == nil && siptest.Status(res) != 400 && siptest.Status(res) != 413 {
		t.Fatalf("oversized request answered %q", firstLine(res))
	}
	alive(t, s, "tcp")
}

func alive(t *testing.T, s *server, network string) {
	t.Helper()
	c := s.dial(t, network)
	via := "SIP/2.0/UDP"
	if network == "tcp" {
		via = "SIP/2.0/TCP"
	}
	res, err := c.Do(siptest.Lines(
		"OPTIONS sip:localhost SIP/2.0",
		"Via: "+via+" "+c.LocalAddr()+";branch=z9hG4bK-alive-"+time.Now().Format("150405.000000000"),
		"From: <sip:probe@localhost>;tag=p",
		"To: <sip:localhost>",
		"Call-ID: alive-"+time.Now().Format("150405.000000000"),
		"CSeq: 1 OPTIONS",
		"Content-Length: 0",
	), 2*time.Second)
	if err != nil || siptest.Status(res) != 200 {
		t.Fatalf("server not answering after bad input: %v %q", err, firstLine(res))
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}
