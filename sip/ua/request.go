package ua

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// target resolves what a user typed to a URI: "bob" is bob in the peer's
// domain, "bob@example.com" and "sip:bob@127.0.0.1:5070" are taken as
// they are.
func (p *Peer) target(s string) (sip.Uri, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return sip.Uri{}, fmt.Errorf("ua: empty target")
	}
	if !strings.HasPrefix(s, "sip:") && !strings.HasPrefix(s, "sips:") {
		if !strings.Contains(s, "@") {
			s += "@" + p.aor.HostPort()
		}
		s = "sip:" + s
	}
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil || u.Host == "" {
		return sip.Uri{}, fmt.Errorf("ua: target %q is not a SIP URI", s)
	}
	return u, nil
}

// contact is the peer's Contact header: its bound listener.
func (p *Peer) contact() *sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", User: p.aor.User, Host: p.contactHost(), Port: p.local.Port}
	if p.network == "tcp" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", "tcp")
	}
	return &sip.ContactHeader{DisplayName: p.display, Address: u}
}

// contactHost is the address others reach the peer at: the listener's,
// or, for a listener on every address (0.0.0.0, ::), the local address
// the system would send to the server from (no packet is sent). Without a
// server it stays unspecified, which a server takes as "behind a NAT" and
// answers to the source address instead.
func (p *Peer) contactHost() string {
	if !p.local.IP.IsUnspecified() {
		return p.local.IP.String()
	}
	if srv := p.server(); srv != "" {
		if c, err := net.Dial("udp", srv); err == nil {
			defer c.Close()
			if a, ok := c.LocalAddr().(*net.UDPAddr); ok {
				return a.IP.String()
			}
		}
	}
	return p.local.IP.String()
}

// newRequest builds an out-of-dialog request from the peer to uri: From
// with a fresh tag, To, a fresh Call-ID, CSeq 1, Contact. It goes to the
// server when the peer has one, else to uri itself.
func (p *Peer) newRequest(m sip.RequestMethod, to sip.Uri) *sip.Request {
	req := sip.NewRequest(m, to)
	from := &sip.FromHeader{DisplayName: p.display, Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: to.Scheme, User: to.User, Host: to.Host, Port: to.Port}})
	callID := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: m})
	req.AppendHeader(p.contact())
	p.route(req)
	return req
}

// route sets where req goes: the server if the peer has one, else the
// Request-URI; and the peer's transport.
func (p *Peer) route(req *sip.Request) {
	p.mu.Lock()
	proxy := p.proxy
	p.mu.Unlock()
	if proxy != "" {
		req.SetDestination(proxy)
	}
	req.SetTransport(strings.ToUpper(p.network))
	if p.network == "udp" {
		p.local.Copy(&req.Laddr) // from the listener, so answers and NAT bindings match
	}
}

// server returns the peer's server (host:port), "" in peer-to-peer mode.
func (p *Peer) server() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proxy
}

// credentials returns the peer's credentials (nil: none).
func (p *Peer) credentials() Credentials {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cred
}

// send runs req's transaction to its final response. With credentials,
// the request is authorized first (a bearer token preemptively) and a
// 401/407 is answered once (or twice for a stale nonce) with CSeq+1.
// Requests to a peer directly (no server) carry no credentials.
func (p *Peer) send(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	cred := p.credentials()
	if cred != nil && p.server() != "" {
		if _, err := cred.authorize(ctx, req, nil); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		res, err := p.do(ctx, req)
		if err != nil {
			return nil, err
		}
		if (res.StatusCode != 401 && res.StatusCode != 407) || cred == nil || attempt == 2 {
			return res, nil
		}
		ok, err := cred.authorize(ctx, req, res)
		if err != nil {
			return nil, err
		}
		if !ok {
			return res, nil
		}
		req.CSeq().SeqNo++
		req.RemoveHeader("Via")
	}
}

// do runs one transaction of req, bounded by the transaction timeout.
func (p *Peer) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, p.conf.timeout)
	defer cancel()
	res, err := p.client.Do(ctx, req)
	if err != nil {
		p.log.Debug("request failed", zap.String("method", string(req.Method)), zap.String("call_id", req.CallID().Value()), zap.Error(err))
		return nil, fmt.Errorf("ua: %s %s: %w", req.Method, req.Recipient.String(), err)
	}
	return res, nil
}

// StatusError is a final response other than the one a method wanted.
type StatusError struct {
	Method string
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("ua: %s: %d %s", e.Method, e.Code, e.Reason)
}

// statusError makes a *StatusError of res.
func statusError(req *sip.Request, res *sip.Response) error {
	return &StatusError{Method: string(req.Method), Code: res.StatusCode, Reason: res.Reason}
}
