package edge

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/sip/status"
)

// supported lists the option tags we implement (Supported, and what
// Require may name without a 420): path (RFC 3327), 100rel (RFC 3262,
// calls) and timer (RFC 4028, calls).
var supported = []string{"path", "100rel", "timer"}

// check applies the request checks of RFC 3261 §8.2.1–8.2.2 and §16.3 that
// the edge answers itself: a nil error means the request may go on.
func check(req *sip.Request) error {
	if req.SipVersion != "SIP/2.0" {
		return status.New(status.VersionNotSupported, status.Reason(status.VersionNotSupported))
	}
	if err := checkRequestURI(&req.Recipient); err != nil {
		return err
	}
	if req.CallID() == nil || strings.TrimSpace(req.CallID().Value()) == "" {
		return status.New(status.BadRequest, "Missing Call-ID")
	}
	if req.From() == nil {
		return status.New(status.BadRequest, "Missing From")
	}
	if req.To() == nil {
		return status.New(status.BadRequest, "Missing To")
	}
	cseq := req.CSeq()
	if cseq == nil {
		return status.New(status.BadRequest, "Missing CSeq")
	}
	if cseq.MethodName != req.Method {
		return status.New(status.BadRequest, "CSeq Method Mismatch")
	}
	if req.Via() == nil {
		return status.New(status.BadRequest, "Missing Via")
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && req.Method != sip.OPTIONS {
		return status.New(status.TooManyHops, status.Reason(status.TooManyHops))
	}
	if unknown := unsupportedRequire(req); len(unknown) > 0 {
		return &requireError{tags: unknown}
	}
	return checkControlChars(req)
}

func checkRequestURI(u *sip.Uri) error {
	if u.Scheme != "" && !strings.EqualFold(u.Scheme, "sip") && !strings.EqualFold(u.Scheme, "sips") {
		return status.New(status.UnsupportedURIScheme, status.Reason(status.UnsupportedURIScheme))
	}
	if !validHost(u.Host) || hasCtl(u.User) {
		return status.New(status.BadRequest, "Invalid Request-URI")
	}
	return nil
}

// checkControlChars rejects control characters in the header values we
// keep or echo (the store, logs and other users' NOTIFYs would carry them).
// sipgo accepts them; RFC 3261 §25.1 allows none outside quoted strings.
func checkControlChars(req *sip.Request) error {
	// The parsed fields are scanned, each string sipgo would write for
	// the header, so the verdict is the one hasCtl(h.Value()) gave:
	// Value() built a string for each of From, To and Contact, and
	// writing their URIs allocated too (sip/edge/README.md,
	// "Allocations per REGISTER").
	from, to := req.From(), req.To()
	found := hasCtl(req.CallID().Value()) ||
		addrHasCtl(from.DisplayName, &from.Address, from.Params) ||
		addrHasCtl(to.DisplayName, &to.Address, to.Params)
	for _, h := range req.Headers() {
		if found {
			break
		}
		switch n := h.Name(); {
		case asciiFold(n, "contact"):
			if c, ok := h.(*sip.ContactHeader); ok {
				found = !c.Address.Wildcard && addrHasCtl(c.DisplayName, &c.Address, c.Params)
			} else {
				found = hasCtl(h.Value())
			}
		case asciiFold(n, "user-agent"), asciiFold(n, "path"):
			found = hasCtl(h.Value()) // sipgo keeps these as they came
		}
	}
	if found {
		return status.New(status.BadRequest, "Control Character in Header")
	}
	return nil
}

// addrHasCtl reports whether a name-addr (From, To, Contact) holds a
// control character in any string sipgo writes for it.
func addrHasCtl(display string, u *sip.Uri, params sip.HeaderParams) bool {
	return hasCtl(display) || hasCtl(u.Scheme) || hasCtl(u.Raw()) || hasCtl(u.User) || hasCtl(u.Password) ||
		hasCtl(u.Host) || paramsHaveCtl(u.UriParams) || paramsHaveCtl(u.Headers) || paramsHaveCtl(params)
}

func paramsHaveCtl(ps sip.HeaderParams) bool {
	for _, p := range ps {
		if hasCtl(p.K) || hasCtl(p.V) {
			return true
		}
	}
	return false
}

func hasCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

// requireError is a Require naming extensions we do not support: 420 with
// an Unsupported header listing them (RFC 3261 §8.2.2.3).
type requireError struct{ tags []string }

func (e *requireError) Error() string { return "unsupported extension: " + strings.Join(e.tags, ", ") }

// SIPStatus reports 420 Bad Extension.
func (e *requireError) SIPStatus() (int, string) {
	return status.BadExtension, status.Reason(status.BadExtension)
}

func unsupportedRequire(req *sip.Request) []string {
	var out []string
	for h := range headersNamed(req, "require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			tag = strings.TrimSpace(tag)
			if tag != "" && !isSupported(tag) {
				out = append(out, tag)
			}
		}
	}
	return out
}

func isSupported(tag string) bool {
	for _, s := range supported {
		if strings.EqualFold(s, tag) {
			return true
		}
	}
	return false
}
