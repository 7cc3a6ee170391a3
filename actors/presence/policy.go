package presence

import (
	"slices"
	"strings"
)

// Watch policies (Policy.Mode).
const (
	// PolicyOpen lets anyone watch.
	PolicyOpen = "open"
	// PolicySameDomain lets watchers of the presentity's domain watch,
	// and refuses others (403) unless allowed.
	PolicySameDomain = "same-domain"
	// PolicyApprove keeps a watcher the owner has not decided on pending
	// (202, NOTIFY pending without a body) until the owner allows it.
	PolicyApprove = "approve"
)

// Visibility levels: what a watcher's NOTIFYs show.
const (
	// LevelFull shows everything: status, activities, notes, devices,
	// place, capabilities, contacts.
	LevelFull = "full"
	// LevelBasic shows open/closed and the activities only.
	LevelBasic = "basic"
)

func validPolicy(p string) bool {
	return p == PolicyOpen || p == PolicySameDomain || p == PolicyApprove
}

func validLevel(l string) bool { return l == LevelFull || l == LevelBasic }

// levels indexes the render cache.
func levelIndex(l string) int {
	if l == LevelBasic {
		return 1
	}
	return 0
}

// Decision is the owner's choice about a watcher.
type Decision uint8

const (
	// DecisionNone forgets the watcher: the mode decides again.
	DecisionNone Decision = iota
	// DecisionAllow puts the watcher on the allow list.
	DecisionAllow
	// DecisionBlock puts the watcher on the block list.
	DecisionBlock
)

// ParseDecision maps "allow", "block" and "none" to a Decision.
func ParseDecision(s string) (Decision, bool) {
	switch s {
	case "allow", "allowed", "approve", "approved", "active":
		return DecisionAllow, true
	case "block", "blocked", "reject", "rejected":
		return DecisionBlock, true
	case "none", "":
		return DecisionNone, true
	}
	return DecisionNone, false
}

// Policy is a presentity owner's watch rules. An entry of Allow, Block and
// Groups is a watcher AOR ("sip:bob@example.com") or a whole domain
// ("@example.com"). Visibility maps a watcher AOR, "group:NAME",
// "@domain" or "*" to a level; the most specific entry wins in that order.
type Policy struct {
	Mode       string              `json:"mode,omitempty"` // "": the server's default
	Allow      []string            `json:"allow,omitempty"`
	Block      []string            `json:"block,omitempty"`
	Groups     map[string][]string `json:"groups,omitempty"`
	Visibility map[string]string   `json:"visibility,omitempty"`
	// CallState shows InCall while a call is up; nil: the server's
	// default.
	CallState *bool `json:"call_state,omitempty"`
}

// Validate reports an unknown mode or level.
func (p *Policy) Validate() error {
	if p.Mode != "" && !validPolicy(p.Mode) {
		return ErrBadPolicy
	}
	for _, l := range p.Visibility {
		if !validLevel(l) {
			return ErrBadPolicy
		}
	}
	return nil
}

func (p *Policy) empty() bool {
	return p.Mode == "" && len(p.Allow) == 0 && len(p.Block) == 0 && len(p.Groups) == 0 &&
		len(p.Visibility) == 0 && p.CallState == nil
}

// domainOf is the host part of an AOR ("sip:bob@example.com" →
// "example.com"), lower-case.
func domainOf(aor string) string {
	if i := strings.LastIndexByte(aor, '@'); i >= 0 {
		return strings.ToLower(aor[i+1:])
	}
	return ""
}

// matches reports whether an entry of a list names watcher: the AOR
// itself, or its domain as "@domain".
func matches(list []string, watcher string) bool {
	d := "@" + domainOf(watcher)
	return slices.ContainsFunc(list, func(e string) bool { return e == watcher || strings.EqualFold(e, d) })
}

// decide is the subscription state a watcher gets: the owner is always
// active; the block list rejects, the allow list admits, and otherwise the
// mode decides (def is the server's default mode).
func (p *Policy) decide(presentity, watcher, def string) SubState {
	if watcher == presentity {
		return StateActive
	}
	if matches(p.Block, watcher) {
		return StateTerminated
	}
	if matches(p.Allow, watcher) {
		return StateActive
	}
	mode := p.Mode
	if mode == "" {
		mode = def
	}
	switch mode {
	case PolicyOpen:
		return StateActive
	case PolicyApprove:
		return StatePending
	default: // same-domain
		if domainOf(watcher) == domainOf(presentity) {
			return StateActive
		}
		return StateTerminated
	}
}

// level is the visibility of watcher: its own entry, then a group's, then
// its domain's, then "*", then def. The owner sees everything.
func (p *Policy) level(presentity, watcher, def string) string {
	if watcher == presentity {
		return LevelFull
	}
	if l, ok := p.Visibility[watcher]; ok {
		return l
	}
	names := make([]string, 0, len(p.Groups))
	for name, members := range p.Groups {
		if matches(members, watcher) {
			names = append(names, name)
		}
	}
	slices.Sort(names) // the first group by name wins, whatever the map order
	for _, name := range names {
		if l, ok := p.Visibility["group:"+name]; ok {
			return l
		}
	}
	if l, ok := p.Visibility["@"+domainOf(watcher)]; ok {
		return l
	}
	if l, ok := p.Visibility["*"]; ok {
		return l
	}
	return def
}

// decided returns a copy of p with watcher on the list d names and on no
// other, and its visibility set when level is not "".
func (p Policy) decided(watcher string, d Decision, level string) Policy {
	drop := func(list []string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(e string) bool { return e == watcher })
	}
	p.Allow, p.Block = drop(p.Allow), drop(p.Block)
	switch d {
	case DecisionAllow:
		p.Allow = append(p.Allow, watcher)
	case DecisionBlock:
		p.Block = append(p.Block, watcher)
	}
	if level != "" {
		v := make(map[string]string, len(p.Visibility)+1)
		for k, l := range p.Visibility {
			v[k] = l
		}
		v[watcher] = level
		p.Visibility = v
	}
	return p
}
