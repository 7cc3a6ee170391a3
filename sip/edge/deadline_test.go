package edge

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// recorder is the responder behind an answer in the deadline tests.
type recorder struct {
	mu  sync.Mutex
	got []int // status codes; 0 for "no response"
}

func (r *recorder) respond(res *sip.Response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	code := 0
	if res != nil {
		code = res.StatusCode
	}
	r.got = append(r.got, code)
}

func (r *recorder) codes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.got...)
}

func testRequest() *sip.Request {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "localhost"})
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: "localhost"}, Params: sip.NewParams()}
	from := &sip.FromHeader{Address: to.Address, Params: sip.NewParams()}
	from.Params.Add("tag", "f")
	cid := sip.CallIDHeader("c")
	req.AppendHeader(to)
	req.AppendHeader(from)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.REGISTER})
	return req
}

// TestDeadlines (in a synctest bubble: time is fake): each admitted
// request is answered exactly once, by the actor when it replies in time
// and by the edge (500) at the deadline otherwise; a late reply is
// dropped; the count is released once per request; close answers what is
// left.
func TestDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Server{log: zap.NewNop(), metrics: NewMetrics(nil), server: sip.NewHeader("Server", "t"), conf: Config{MaxInFlight: 10}}
		d := newDeadlines(time.Second)
		steps := []struct {
			name  string
			reply time.Duration // when the actor replies; 0: never
			want  []int
		}{
			{"replies in time", 500 * time.Millisecond, []int{200}},
			{"never replies", 0, []int{500}},
			{"replies late", 1500 * time.Millisecond, []int{500}},
		}
		recs := make([]*recorder, len(steps))
		for i, st := range steps {
			recs[i] = &recorder{}
			a := s.newAnswer(testRequest(), recs[i])
			if !s.admit(a) {
				t.Fatal("not admitted")
			}
			d.add(a)
			if st.reply > 0 {
				time.AfterFunc(st.reply, func() { a.respond(sip.NewResponseFromRequest(testRequest(), 200, "OK", nil)) })
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		for i, st := range steps {
			if got := recs[i].codes(); len(got) != 1 || got[0] != st.want[0] {
				t.Errorf("%s: answered %v, want %v", st.name, got, st.want)
			}
		}
		if n := s.InFlight(); n != 0 {
			t.Fatalf("in flight %d", n)
		}
		left := &recorder{}
		a := s.newAnswer(testRequest(), left)
		s.admit(a)
		d.add(a)
		d.close()
		if got := left.codes(); len(got) != 1 || got[0] != 500 || s.InFlight() != 0 {
			t.Fatalf("close answered %v, in flight %d", got, s.InFlight())
		}
	})
}

// BenchmarkDeadlines is the cost the stateless path pays per request for
// its deadline: add, and the skip when the answer came first (the common
// case). Compare afterfunc: a time.AfterFunc per request, stopped on the
// answer.
func BenchmarkDeadlines(b *testing.B) {
	s := &Server{log: zap.NewNop(), metrics: NewMetrics(nil)}
	b.Run("fifo", func(b *testing.B) {
		d := newDeadlines(50 * time.Millisecond)
		defer d.close()
		b.ReportAllocs()
		for b.Loop() {
			a := &answer{s: s, next: &recorder{}}
			d.add(a)
			a.claim()
		}
	})
	b.Run("afterfunc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a := &answer{s: s, next: &recorder{}}
			t := time.AfterFunc(50*time.Millisecond, a.expire)
			a.claim()
			t.Stop()
		}
	})
}
