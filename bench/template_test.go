package bench

import (
	"testing"
)

// Every scenario's requests must be well-formed enough for the echo
// server, and building one must not allocate.
func TestScenarioRequests(t *testing.T) {
	env := &Env{Domain: "example.com", UserPrefix: "u", Transport: "UDP", Expires: 60, Body: "hi", run: "01234567"}
	for _, name := range ScenarioNames() {
		s, err := NewScenario(name, ScenarioOptions{Refresh: true, Unregister: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			for step := range s.Steps() {
				r := Request{Seq: 9, Step: step, CSeq: uint32(step + 1), User: 3, Peer: 4, Env: env, Local: "127.0.0.1:5070", slot: 7, gen: 2}
				if d, ok := s.(dialog); ok && !d.invite(step) {
					// The BYE needs the dialog the INVITE's 2xx set up.
					s.(stateful).observe(&Request{Step: 0, Env: env, slot: 7}, &Response{Status: 200,
						ToTag: []byte("x"), Contact: []byte("sip:callee@127.0.0.1:5080")})
				}
				b := s.AppendRequest(make([]byte, 0, 1024), &r)
				resp, _, err := AppendEchoResponse(nil, b, 200, "")
				if err != nil {
					t.Fatalf("step %d: %v\n%s", step, err, b)
				}
				var p Response
				if err := ParseResponse(resp, &p); err != nil {
					t.Fatal(err)
				}
				slot, gen, ok := decodeBranch(p.Branch, env.run)
				if !ok || slot != 7 || gen != 2 || p.CSeq != uint32(step+1) || string(p.CallID) != "01234567-9@b2bua-bench" {
					t.Errorf("step %d: %+v", step, p)
				}
				method, uri := requestLine(b)
				if string(method) != string(p.CSeqMethod) || len(uri) == 0 {
					t.Errorf("request line %q %q", method, uri)
				}
				buf := make([]byte, 0, 1024)
				if n := testing.AllocsPerRun(50, func() { buf = s.AppendRequest(buf[:0], &r) }); n != 0 {
					t.Errorf("AppendRequest allocates %v times", n)
				}
			}
		})
	}
}

func BenchmarkAppendRequest(b *testing.B) {
	env := &Env{Domain: "localhost", UserPrefix: "user", Transport: "UDP", Expires: 3600, run: "01234567"}
	s, _ := NewScenario("register", ScenarioOptions{})
	r := Request{Seq: 12345, CSeq: 1, User: 12345, Env: env, Local: "127.0.0.1:5070", slot: 99, gen: 3}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.AppendRequest(buf[:0], &r)
	}
	b.SetBytes(int64(len(buf)))
}
