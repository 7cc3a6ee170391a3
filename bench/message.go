package bench

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Recipient states of the message scenario (MessageOptions.To).
const (
	// ToPeer sends MESSAGE user<n> → user<n+1> with no setup; any 2xx is
	// a success. What the scenario did before it had a setup.
	ToPeer = "peer"
	// ToOnline registers the recipients first, with a Contact at the UAS;
	// a MESSAGE succeeds with 200 (relayed and answered by the UAS).
	ToOnline = "online"
	// ToOffline registers each recipient and unregisters it at once, so
	// the server knows the user but has no contact; a MESSAGE succeeds
	// with 202 (stored for later delivery).
	ToOffline = "offline"
)

// MessageOptions shapes the message scenario (RFC 3428).
type MessageOptions struct {
	// To is ToPeer (the zero value), ToOnline or ToOffline.
	To string
	// Recipients is N: MESSAGE from user<n> goes to <RecipientPrefix><n
	// mod N>. Not used with ToPeer.
	Recipients int
	// RecipientPrefix names the recipients: rcpt0 … rcptN-1.
	RecipientPrefix string
	// UAS is the host:port the online recipients' Contact points at, a
	// user agent answering MESSAGE with 200 (compare.sh starts SIPp);
	// empty: the generator's own socket, whose stateless responder answers
	// every request with 200.
	UAS string
	// RegisterRate is the rate of the setup's REGISTERs per second.
	RegisterRate float64
}

// DefaultMessageOptions returns the defaults of the message flags.
func DefaultMessageOptions() MessageOptions {
	return MessageOptions{To: ToPeer, Recipients: 100, RecipientPrefix: "rcpt", RegisterRate: 2000}
}

// messageScenario sends MESSAGE (RFC 3428) with a text/plain body: to a
// peer user with no setup, or to recipients that a setup phase has made
// online (registered at a UAS) or offline (known, no contact). Only the
// status the recipients' state calls for is a success: 200 when online
// (the server forwarded it and returns the UAS's 2xx, RFC 3428 §7), 202
// when offline (accepted, not yet delivered: the server stored it).
type messageScenario struct {
	o MessageOptions
	// base is the sequence number of the first MESSAGE (N with a setup).
	base uint64
}

func newMessage(so ScenarioOptions) Scenario {
	o, d := so.Message, DefaultMessageOptions()
	setIfZero(&o.To, d.To)
	setIfZero(&o.Recipients, d.Recipients)
	setIfZero(&o.RecipientPrefix, d.RecipientPrefix)
	setIfZero(&o.RegisterRate, d.RegisterRate)
	return &messageScenario{o: o}
}

func (*messageScenario) Name() string { return "message" }
func (*messageScenario) Steps() int   { return 1 }

// validate reports options that cannot work.
func (m *messageScenario) validate() error {
	switch m.o.To {
	case ToPeer, ToOnline, ToOffline:
	default:
		return fmt.Errorf("message: --to %q is not %s, %s or %s", m.o.To, ToPeer, ToOnline, ToOffline)
	}
	if m.o.Recipients < 1 || m.o.RegisterRate <= 0 {
		return fmt.Errorf("message: recipients and register-rate must be above 0")
	}
	if m.o.UAS != "" {
		if _, _, err := net.SplitHostPort(m.o.UAS); err != nil {
			return fmt.Errorf("message: uas %q: %v", m.o.UAS, err)
		}
	}
	return nil
}

// success tells the status the recipients' state calls for.
func (m *messageScenario) success(status int) bool {
	switch m.o.To {
	case ToOnline:
		return status == 200
	case ToOffline:
		return status == 202
	}
	return status >= 200 && status < 300
}

// phases returns the setup (REGISTER the recipients; nil for peers) and
// the MESSAGE phase, whose sequence numbers follow the setup's.
func (m *messageScenario) phases(e *engine) (setup, main *phase) {
	m.base = 0
	if m.o.To != ToPeer {
		m.base = uint64(m.o.Recipients)
	}
	main = e.newPhase(m, e.cfg.Rate, e.cfg.Duration, e.cfg.Total, m.base)
	main.ramp = e.cfg.Ramp
	if m.base == 0 {
		return nil, main
	}
	return e.newPhase(messageRegister{m}, m.o.RegisterRate, 0, m.base, 0), main
}

// recipient returns the recipient of a MESSAGE from user u.
func (m *messageScenario) recipient(u int) aor {
	return aor{m.o.RecipientPrefix, u % m.o.Recipients}
}

// AppendRequest appends MESSAGE from User to its peer or recipient.
func (m *messageScenario) AppendRequest(dst []byte, r *Request) []byte {
	if m.o.To == ToPeer {
		dst = r.AppendStart(dst, "MESSAGE", r.Peer, r.Peer)
	} else {
		to := m.recipient(r.User)
		dst = r.appendStart(dst, "MESSAGE", to, aor{r.Env.UserPrefix, r.User}, to)
	}
	return AppendBody(dst, "text/plain", r.Env.Body)
}

// runPhases registers the recipients, sends the MESSAGEs and samples the
// target's memory and write counters between and after. The error
// reports a setup above the failure bar.
func (m *messageScenario) runPhases(ctx context.Context, e *engine, setup, main *phase) (*Result, error) {
	pid := e.cfg.TargetPID
	mr := &MessageResult{To: m.o.To, Recipients: m.o.Recipients, UAS: m.o.UAS}
	var setupErr error
	if setup != nil {
		sr := e.runPhase(ctx, setup)
		mr.RegisterOK, mr.RegisterFailed = sr.Total.OK, sr.Total.Unsuccessful()
		mr.RegisterRetrans, mr.RegisterFailures = sr.Total.Retransmissions, sr.FailuresByStatus
		mr.RegisterRate, mr.SetupTime = sr.CompletionRate, sr.Elapsed
		if sr.FailureRatio > e.cfg.MaxFailures {
			setupErr = fmt.Errorf("%w: setup: %d of %d recipients failed to register", ErrTooManyFailures,
				mr.RegisterFailed, sr.Total.Started+sr.Total.Throttled)
		}
	}
	mr.MemBefore, mr.IOBefore = memOf(pid), ioOf(pid)
	res := e.runPhase(ctx, main)
	mr.MemAfter, mr.IOAfter = memOf(pid), ioOf(pid)
	mr.RequestsAnswered = main.st.requests.Load()
	res.Total.Requests = mr.RequestsAnswered
	mr.perMessage(res.Total.OK)
	if m.o.To != ToPeer {
		res.Message = mr
	}
	return res, setupErr
}

// messageRegister is the setup phase: recipient n registers (RFC 3261
// §10.2) with a Contact at the UAS (online), or registers and removes its
// contact with Expires: 0 in a second step (offline), which leaves a user
// the server knows but cannot reach.
type messageRegister struct{ m *messageScenario }

func (messageRegister) Name() string { return "message-register" }

func (s messageRegister) Steps() int {
	if s.m.o.To == ToOffline {
		return 2
	}
	return 1
}

func (s messageRegister) AppendRequest(dst []byte, r *Request) []byte {
	o := &s.m.o
	rcpt := aor{o.RecipientPrefix, int(r.Seq)}
	dst = r.appendStart(dst, "REGISTER", aor{n: -1}, rcpt, rcpt)
	dst = append(dst, "Contact: <sip:"...)
	dst = append(dst, o.RecipientPrefix...)
	dst = strconv.AppendInt(dst, int64(rcpt.n), 10)
	dst = append(dst, '@')
	if o.To == ToOnline && o.UAS != "" {
		dst = append(dst, o.UAS...)
	} else {
		dst = append(dst, r.Local...)
		if r.Env.Transport == "TCP" {
			dst = append(dst, ";transport=tcp"...)
		}
	}
	dst = append(dst, ">\r\nExpires: "...)
	if r.Step == 1 {
		dst = append(dst, '0')
	} else {
		dst = appendInt(dst, r.Env.Expires)
	}
	dst = append(dst, "\r\n"...)
	return AppendBody(dst, "", "")
}

// MessageResult is what the message scenario measured beyond the MESSAGE
// figures of Result, with online or offline recipients.
type MessageResult struct {
	// To is the recipients' state, Recipients their number, UAS where the
	// online ones' Contact points ("" for the generator itself).
	To         string
	Recipients int
	UAS        string
	// RegisterOK counts recipients whose setup chain ended in 2xx,
	// RegisterFailed the others, by status in RegisterFailures;
	// RegisterRate is successes per second of the setup.
	RegisterOK, RegisterFailed, RegisterRetrans uint64
	RegisterFailures                            map[int]uint64
	RegisterRate                                float64
	SetupTime                                   time.Duration
	// RequestsAnswered counts the requests the generator answered during
	// the MESSAGE phase: the relayed MESSAGEs when UAS is "".
	RequestsAnswered uint64
	// MemBefore and MemAfter are the target's memory (PSS of its process
	// tree) before and after the MESSAGE phase; IOBefore and IOAfter its
	// write counters. Zero without Config.TargetPID.
	MemBefore, MemAfter uint64
	IOBefore, IOAfter   ProcIO
	// BytesPerMsg is (MemAfter-MemBefore) per successful MESSAGE,
	// WcharPerMsg and WriteBytesPerMsg the growth of the write counters
	// per successful MESSAGE; -1 when not measured.
	BytesPerMsg, WcharPerMsg, WriteBytesPerMsg float64
}

// perMessage computes the costs per successful MESSAGE.
func (mr *MessageResult) perMessage(ok uint64) {
	mr.BytesPerMsg, mr.WcharPerMsg, mr.WriteBytesPerMsg = -1, -1, -1
	if ok == 0 {
		return
	}
	per := func(before, after uint64) float64 { return (float64(after) - float64(before)) / float64(ok) }
	if mr.MemBefore > 0 && mr.MemAfter > 0 {
		mr.BytesPerMsg = per(mr.MemBefore, mr.MemAfter)
	}
	if mr.IOBefore.OK && mr.IOAfter.OK {
		mr.WcharPerMsg = per(mr.IOBefore.Wchar, mr.IOAfter.Wchar)
		mr.WriteBytesPerMsg = per(mr.IOBefore.WriteBytes, mr.IOAfter.WriteBytes)
	}
}
