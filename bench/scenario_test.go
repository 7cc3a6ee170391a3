package bench

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder answers 200 and keeps every distinct request for inspection:
// a retransmission (byte for byte the same) is kept once, so that a slow
// machine does not change the counts.
type recorder struct {
	mu   sync.Mutex
	seen map[string]bool
	reqs []string
}

func (r *recorder) respond(req []byte, _ uint64) (int, string) {
	r.mu.Lock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if q := string(req); !r.seen[q] {
		r.seen[q] = true
		r.reqs = append(r.reqs, q)
	}
	r.mu.Unlock()
	return 200, ""
}

func (r *recorder) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		if strings.Contains(q, substr) {
			n++
		}
	}
	return n
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		opts     ScenarioOptions
		network  string
		setup    func(c *Config)
		want     Counts
		// seen maps a substring to how many requests must contain it.
		seen map[string]int
	}{
		{name: "register", scenario: "register", want: Counts{Started: 100, OK: 100, Transactions: 100},
			seen: map[string]int{"REGISTER sip:localhost SIP/2.0\r\n": 100, "\r\nExpires: 3600\r\n": 100,
				"To: <sip:user42@localhost>": 1, "Contact: <sip:user42@127.0.0.1:": 1}},
		{name: "register refresh unregister", scenario: "register", opts: ScenarioOptions{Refresh: true, Unregister: true},
			want: Counts{Started: 100, OK: 100, Transactions: 300},
			seen: map[string]int{"CSeq: 1 REGISTER": 100, "CSeq: 2 REGISTER": 100, "CSeq: 3 REGISTER": 100,
				"\r\nExpires: 0\r\n": 100, "\r\nExpires: 3600\r\n": 200}},
		{name: "register tcp chain", scenario: "register", network: "tcp", opts: ScenarioOptions{Unregister: true},
			want: Counts{Started: 100, OK: 100, Transactions: 200},
			seen: map[string]int{"Via: SIP/2.0/TCP 127.0.0.1:": 200, ";transport=tcp>": 200}},
		{name: "users in turn", scenario: "register", setup: func(c *Config) { c.Users, c.UserPrefix = 10, "alice" },
			want: Counts{Started: 100, OK: 100}, seen: map[string]int{"From: <sip:alice3@localhost>": 10, "user": 0}},
		{name: "message", scenario: "message", setup: func(c *Config) { c.Users, c.Body = 2, "hi there" },
			want: Counts{Started: 100, OK: 100},
			seen: map[string]int{"MESSAGE sip:user1@localhost SIP/2.0": 50, "Content-Type: text/plain\r\nContent-Length: 8\r\n\r\nhi there": 100}},
		{name: "bearer tokens", scenario: "options", setup: func(c *Config) {
			c.Users = 4
			c.Tokens, _ = LoadTokens(strings.NewReader("shared\nuser2\tmine\n"))
		}, want: Counts{Started: 100, OK: 100},
			seen: map[string]int{"Authorization: Bearer mine\r\n": 25, "Authorization: Bearer shared\r\n": 75}},
		{name: "duration and ramp", scenario: "options", setup: func(c *Config) {
			c.Total, c.Duration, c.Ramp, c.Rate = 0, 1200*time.Millisecond, 400*time.Millisecond, 500
		}, want: Counts{}, seen: map[string]int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			network := tc.network
			if network == "" {
				network = "udp"
			}
			echo, err := ListenEcho(network, "127.0.0.1:0", EchoConfig{Respond: rec.respond})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = echo.Close() }()
			cfg := testConfig(t, tc.scenario, tc.opts)
			cfg.Transport, cfg.Target = network, echo.Addr().String()
			if tc.setup != nil {
				tc.setup(&cfg)
			}
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			compareCounts(t, res.Total, tc.want)
			for substr, n := range tc.seen {
				if got := rec.count(substr); got != n {
					t.Errorf("%d requests contain %q, want %d", got, substr, n)
				}
			}
			if tc.name == "duration and ramp" {
				// Ramp 0→500/s over 0.4 s then 0.8 s at 500/s: 100 + 400 = 500.
				if s := res.Total.Started; s < 450 || s > 520 || res.Total.OK != s {
					t.Errorf("started %d ok %d, want about 500", s, res.Total.OK)
				}
			}
		})
	}
}

// A cancelled run returns at once, whatever is outstanding.
func TestRunCancel(t *testing.T) {
	echo, err := ListenEcho("udp", "127.0.0.1:0", EchoConfig{Respond: func([]byte, uint64) (int, string) { return 0, "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = echo.Close() }()
	cfg := testConfig(t, "options", ScenarioOptions{})
	cfg.Target, cfg.Total, cfg.Timeout = echo.Addr().String(), 0, 30*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, cfg)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("cancelled run took %v", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || res.Outstanding == 0 || res.Outstanding != int64(res.Total.Started) {
		t.Fatalf("err %v outstanding %d started %d", err, res.Outstanding, res.Total.Started)
	}
}

func TestConfigValidate(t *testing.T) {
	opts, _ := NewScenario("options", ScenarioOptions{})
	good := Config{Scenario: opts, Target: "127.0.0.1:5060", Rate: 10, Total: 1}.WithDefaults()
	tests := []struct {
		name string
		mod  func(c *Config)
	}{
		{"no scenario", func(c *Config) { c.Scenario = nil }},
		{"transport", func(c *Config) { c.Transport = "sctp" }},
		{"rate", func(c *Config) { c.Rate = 0 }},
		{"no end", func(c *Config) { c.Total, c.Duration = 0, 0 }},
		{"concurrency", func(c *Config) { c.Concurrency = -1 }},
		{"t2 below t1", func(c *Config) { c.T2 = c.T1 / 2 }},
		{"max failures", func(c *Config) { c.MaxFailures = 2 }},
		{"target", func(c *Config) { c.Target = "nohost" }},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
				t.Errorf("err = %v", err)
			}
		})
	}
	if _, err := NewScenario("invite", ScenarioOptions{}); !errors.Is(err, ErrUnknownScenario) {
		t.Errorf("unknown scenario: %v", err)
	}
}
