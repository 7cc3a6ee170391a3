package bench

import (
	"context"
	"fmt"
	"sort"
)

// Scenario turns a Request into bytes. One logical request of a scenario is
// a chain of Steps() transactions sharing a Call-ID: the engine moves to the
// next step on a 2xx, and answers Digest challenges on its own. Adding a
// scenario means a type implementing Scenario and one line in
// scenarios below; a scenario that sends a setup phase first (presence,
// message to online or offline recipients) also implements phased.
type Scenario interface {
	// Name is the subcommand name, e.g. "register".
	Name() string
	// Steps is the number of transactions of one logical request when
	// nothing is challenged; at least 1.
	Steps() int
	// AppendRequest appends the request for r.Step to dst. It must produce
	// the same bytes for the same Request: retransmissions rebuild it.
	AppendRequest(dst []byte, r *Request) []byte
}

// ScenarioOptions holds the options of the built-in scenarios.
type ScenarioOptions struct {
	// Refresh makes register send a second REGISTER with the same Call-ID
	// and CSeq+1 after the first one succeeded (RFC 3261 §10.2.4).
	Refresh bool
	// Unregister makes register end with Expires: 0 for the same contact
	// (RFC 3261 §10.2.2), so the registrar is left empty.
	Unregister bool
	// Presence shapes the presence scenario; the zero value takes
	// DefaultPresenceOptions.
	Presence PresenceOptions
	// Message shapes the message scenario; the zero value sends to peers
	// (user<n+1>) without a setup.
	Message MessageOptions
	// Call shapes the call scenario; the zero value takes
	// DefaultCallOptions.
	Call CallOptions
}

// stateful is implemented by scenarios that keep state across requests
// (presence: the SIP-ETag of each presentity).
type stateful interface {
	// prepare runs before a transaction of r is first built (start, next
	// step, challenge answer); retransmissions reuse what it set.
	prepare(r *Request)
	// observe sees the final response to a transaction of r.
	observe(r *Request, resp *Response)
}

// phased is implemented by scenarios that send a setup phase before the
// measured one (presence: SUBSCRIBE; message: REGISTER the recipients).
type phased interface {
	// phases resets the run's state and returns the setup phase (nil for
	// none) and the measured phase of e's run.
	phases(e *engine) (setup, main *phase)
	// runPhases sends both and returns the measured phase's Result; the
	// error reports a setup above the failure bar.
	runPhases(ctx context.Context, e *engine, setup, main *phase) (*Result, error)
}

// strict is implemented by scenarios for which only some 2xx are a
// success (message: 200 when relayed, 202 when stored); any other final
// status counts as a failure with that status.
type strict interface {
	success(status int) bool
}

// validator is implemented by scenarios whose options can be wrong;
// Config.Validate calls it.
type validator interface {
	validate() error
}

// requestWatcher is implemented by scenarios that look at the requests
// the server sends (presence: NOTIFY). The engine has answered each with
// 200 OK before.
type requestWatcher interface {
	onRequest(r *IncomingRequest, now int64)
}

// scenarios lists the built-in scenarios, one line each.
var scenarios = map[string]func(ScenarioOptions) Scenario{
	"register": newRegister,
	"options":  func(ScenarioOptions) Scenario { return optionsScenario{} },
	"message":  newMessage,
	"presence": newPresence,
	"call":     newCall,
}

// ScenarioNames returns the names NewScenario accepts, sorted.
func ScenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewScenario returns the built-in scenario called name.
func NewScenario(name string, o ScenarioOptions) (Scenario, error) {
	mk, ok := scenarios[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q (have %v)", ErrUnknownScenario, name, ScenarioNames())
	}
	return mk(o), nil
}

// optionsScenario sends OPTIONS to the domain (RFC 3261 §11): the cheapest
// request a server answers, good for the generator's own ceiling.
type optionsScenario struct{}

func (optionsScenario) Name() string { return "options" }
func (optionsScenario) Steps() int   { return 1 }

func (optionsScenario) AppendRequest(dst []byte, r *Request) []byte {
	dst = r.AppendStart(dst, "OPTIONS", -1, -1)
	dst = append(dst, "Accept: application/sdp\r\n"...)
	return AppendBody(dst, "", "")
}

// registerScenario registers User's contact, optionally refreshes and
// removes it (RFC 3261 §10.2).
type registerScenario struct {
	// expires0 tells, per step, whether the step unregisters.
	expires0 []bool
}

func newRegister(o ScenarioOptions) Scenario {
	s := registerScenario{expires0: []bool{false}}
	if o.Refresh {
		s.expires0 = append(s.expires0, false)
	}
	if o.Unregister {
		s.expires0 = append(s.expires0, true)
	}
	return s
}

func (registerScenario) Name() string { return "register" }
func (s registerScenario) Steps() int { return len(s.expires0) }

func (s registerScenario) AppendRequest(dst []byte, r *Request) []byte {
	dst = r.AppendStart(dst, "REGISTER", -1, r.User)
	dst = r.AppendContact(dst)
	dst = append(dst, "Expires: "...)
	if r.Step < len(s.expires0) && s.expires0[r.Step] {
		dst = append(dst, '0')
	} else {
		dst = appendInt(dst, r.Env.Expires)
	}
	dst = append(dst, "\r\n"...)
	return AppendBody(dst, "", "")
}
