package bench

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// header returns the value of the first header called name in a raw request.
func header(req []byte, name string) string {
	s := string(req)
	i := strings.Index(s, "\r\n"+name+": ")
	if i < 0 {
		return ""
	}
	s = s[i+len(name)+4:]
	return s[:strings.Index(s, "\r\n")]
}

// dropFirst drops the first transmission of every transaction and answers
// its retransmissions, to count retransmissions deterministically.
func dropFirst() func([]byte, uint64) (int, string) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(req []byte, _ uint64) (int, string) {
		v := header(req, "Via")
		mu.Lock()
		defer mu.Unlock()
		if !seen[v] {
			seen[v] = true
			return 0, ""
		}
		return 200, ""
	}
}

// digestServer challenges requests without Authorization (RFC 3261 §22.1)
// and accepts a correct SHA-256 answer for password "pw".
func digestServer(t *testing.T) func([]byte, uint64) (int, string) {
	const chal = `Digest realm="bench", nonce="n-123", qop="auth", algorithm=SHA-256`
	return func(req []byte, _ uint64) (int, string) {
		auth := header(req, "Authorization")
		if auth == "" {
			return 401, "WWW-Authenticate: " + chal + "\r\n"
		}
		ch, err := ParseChallenge([]byte(chal))
		if err != nil {
			t.Error(err)
			return 500, ""
		}
		p, err := parseAuthParams(strings.TrimPrefix(auth, "Digest "))
		if err != nil || p["nc"] != "00000001" || p["qop"] != "auth" {
			t.Errorf("bad Authorization %q: %v", auth, err)
			return 400, ""
		}
		want, _ := ch.Response(Credentials{Username: p["username"], Password: "pw"}, "OPTIONS", p["uri"], p["cnonce"], 1)
		if p["response"] != want || header(req, "CSeq") != "2 OPTIONS" {
			return 403, ""
		}
		return 200, ""
	}
}

// rawServer answers every datagram with reply(req); nil sends nothing.
func rawServer(t *testing.T, reply func(req []byte) []byte) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := reply(buf[:n]); out != nil {
				_, _ = pc.WriteTo(out, addr)
			}
		}
	})
	t.Cleanup(func() { _ = pc.Close(); wg.Wait() })
	return pc.LocalAddr().String()
}

// deadAddr returns a loopback UDP address nothing listens on.
func deadAddr(t *testing.T, network string) string {
	var c interface {
		Close() error
	}
	var addr string
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, addr = pc, pc.LocalAddr().String()
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, addr = ln, ln.Addr().String()
	}
	_ = c.Close()
	return addr
}

func testConfig(t *testing.T, scenario string, o ScenarioOptions) Config {
	s, err := NewScenario(scenario, o)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Scenario: s, Rate: 1000, Total: 100, Duration: 10 * time.Second,
		T1: 50 * time.Millisecond, T2: 200 * time.Millisecond, Timeout: 2 * time.Second,
		MaxFailures: 0.01, Log: zaptest.NewLogger(t)}
}

// fast shortens the timers for cases that wait for Timer F: T1 20 ms
// doubling to T2 80 ms, Timer F 300 ms (retransmissions at 20, 60, 140, 220).
func fast(_ *testing.T, c *Config) {
	c.T1, c.T2, c.Timeout = 20*time.Millisecond, 80*time.Millisecond, 300*time.Millisecond
}

type runCase struct {
	name    string
	network string
	echo    *EchoConfig // nil: target is given by target
	target  func(t *testing.T) string
	setup   func(t *testing.T, c *Config)
	err     error
	want    Counts // compared field by field where want is not zero
	status  map[int]uint64
	check   func(t *testing.T, r *Result, echo *EchoServer)
}

func TestRun(t *testing.T) {
	tests := []runCase{
		{name: "options ok", echo: &EchoConfig{}, want: Counts{Started: 100, Transactions: 100, OK: 100},
			check: checkLatency},
		{name: "503 counted by status", echo: &EchoConfig{Status: 503}, err: ErrTooManyFailures,
			want: Counts{Started: 100, Failed: 100}, status: map[int]uint64{503: 100}},
		{name: "retransmissions", echo: &EchoConfig{Respond: dropFirst()},
			// A T1 long enough that the answer to the first retransmission
			// beats the second one even on a loaded machine.
			setup: func(_ *testing.T, c *Config) {
				c.T1, c.T2, c.Timeout = 100*time.Millisecond, 400*time.Millisecond, 2*time.Second
			},
			want: Counts{Started: 100, OK: 100, Retransmissions: 100}},
		{name: "timeouts", setup: fast, echo: &EchoConfig{Respond: func([]byte, uint64) (int, string) { return 0, "" }},
			err: ErrTooManyFailures, want: Counts{Started: 100, Timeouts: 100},
			check: func(t *testing.T, r *Result, _ *EchoServer) {
				// T1=20ms doubling to T2=80ms within 300ms: 20, 60, 140, 220 → 4 each.
				if got := r.Total.Retransmissions; got < 300 || got > 500 {
					t.Errorf("retransmissions = %d, want about 400", got)
				}
			}},
		{name: "target down", setup: fast, target: func(t *testing.T) string { return deadAddr(t, "udp") },
			err: ErrTooManyFailures, want: Counts{Started: 100, Timeouts: 100}},
		{name: "garbage answers", setup: fast, target: func(t *testing.T) string {
			return rawServer(t, func([]byte) []byte { return []byte("HTTP/1.1 400 Bad Request\r\n\r\n") })
		}, err: ErrTooManyFailures, want: Counts{Started: 100, Timeouts: 100, Garbage: 400}},
		{name: "unmatched answers", setup: fast, target: func(t *testing.T) string {
			return rawServer(t, func([]byte) []byte {
				return sipMsg("SIP/2.0 200 OK", "Via: SIP/2.0/UDP x;branch=z9hG4bKnotours", "Call-ID: c", "CSeq: 1 OPTIONS")
			})
		}, err: ErrTooManyFailures, want: Counts{Started: 100, Timeouts: 100, Unmatched: 400}},
		{name: "throttled", echo: &EchoConfig{Respond: func([]byte, uint64) (int, string) { return 0, "" }},
			setup: func(t *testing.T, c *Config) { fast(t, c); c.Concurrency, c.Total, c.Rate = 5, 50, 500 },
			err:   ErrTooManyFailures, want: Counts{Started: 5, Timeouts: 5, Throttled: 45}},
		{name: "digest challenge", echo: &EchoConfig{}, setup: func(t *testing.T, c *Config) {
			c.DigestPassword = "pw"
		}, want: Counts{Started: 100, OK: 100, Transactions: 200, Challenges: 100}},
		{name: "digest wrong password", echo: &EchoConfig{}, setup: func(t *testing.T, c *Config) {
			c.DigestPassword = "wrong"
		}, err: ErrTooManyFailures, want: Counts{Started: 100, Failed: 100, Challenges: 100}, status: map[int]uint64{403: 100}},
		{name: "three sockets", echo: &EchoConfig{}, setup: func(_ *testing.T, c *Config) { c.Sockets = 3 },
			want: Counts{Started: 100, OK: 100}},
		{name: "tcp options", network: "tcp", echo: &EchoConfig{}, want: Counts{Started: 100, OK: 100}},
		{name: "tcp two connections", network: "tcp", echo: &EchoConfig{},
			setup: func(_ *testing.T, c *Config) { c.Sockets = 2 }, want: Counts{Started: 100, OK: 100}},
		{name: "tcp down", network: "tcp", target: func(t *testing.T) string { return deadAddr(t, "tcp") }},
	}
	for i := range tests {
		if strings.HasPrefix(tests[i].name, "digest") {
			tests[i].echo.Respond = digestServer(t)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runOne(t, tc, testConfig(t, "options", ScenarioOptions{})) })
	}
}

func runOne(t *testing.T, tc runCase, cfg Config) {
	network := tc.network
	if network == "" {
		network = "udp"
	}
	cfg.Transport = network
	var echo *EchoServer
	if tc.echo != nil {
		var err error
		if echo, err = ListenEcho(network, "127.0.0.1:0", *tc.echo); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = echo.Close() }()
		cfg.Target = echo.Addr().String()
	} else {
		cfg.Target = tc.target(t)
	}
	if tc.setup != nil {
		tc.setup(t, &cfg)
	}
	res, err := Run(context.Background(), cfg)
	if res == nil {
		if tc.name == "tcp down" && err != nil {
			return // a connection refused is a setup error
		}
		t.Fatalf("no result: %v", err)
	}
	if !errors.Is(err, tc.err) {
		t.Errorf("err = %v, want %v", err, tc.err)
	}
	compareCounts(t, res.Total, tc.want)
	for code, n := range tc.status {
		if res.FailuresByStatus[code] != n {
			t.Errorf("failures by status = %v, want %d×%d", res.FailuresByStatus, n, code)
		}
	}
	if res.Outstanding != 0 {
		t.Errorf("outstanding = %d", res.Outstanding)
	}
	if tc.check != nil {
		tc.check(t, res, echo)
	}
}

// compareCounts checks the non-zero fields of want; Garbage and Unmatched
// count every answer to every retransmission, so they are lower bounds.
func compareCounts(t *testing.T, got, want Counts) {
	t.Helper()
	exact := []struct {
		name      string
		got, want uint64
	}{
		{"started", got.Started, want.Started}, {"transactions", got.Transactions, want.Transactions},
		{"retransmissions", got.Retransmissions, want.Retransmissions}, {"ok", got.OK, want.OK},
		{"failed", got.Failed, want.Failed}, {"timeouts", got.Timeouts, want.Timeouts},
		{"throttled", got.Throttled, want.Throttled}, {"challenges", got.Challenges, want.Challenges},
	}
	for _, c := range exact {
		if c.want != 0 && c.got != c.want {
			t.Errorf("%s = %d, want %d (all: %+v)", c.name, c.got, c.want, got)
		}
	}
	if got.Garbage < want.Garbage || got.Unmatched < want.Unmatched {
		t.Errorf("garbage %d unmatched %d, want at least %d %d", got.Garbage, got.Unmatched, want.Garbage, want.Unmatched)
	}
	if want.OK != 0 && got.OK+got.Failed+got.Timeouts != got.Started {
		t.Errorf("ended %d != started %d", got.OK+got.Failed+got.Timeouts, got.Started)
	}
}

func checkLatency(t *testing.T, r *Result, _ *EchoServer) {
	l := r.Latency
	if l.Count != int64(r.Total.OK) || l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
		t.Errorf("latency %+v for %d ok", l, r.Total.OK)
	}
	if l.Max > time.Second {
		t.Errorf("max latency %v on loopback", l.Max)
	}
	if len(r.Series) == 0 || r.Series[len(r.Series)-1].Total.OK != r.Total.OK {
		t.Errorf("series does not end at the totals: %d samples", len(r.Series))
	}
}
