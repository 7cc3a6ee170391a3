package ua

import (
	"context"
	"errors"
	"fmt"
	stdio "io"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// crlfPing is the RFC 5626 §4.4.1 keepalive of a stream transport; the
// server answers CRLF (sipgo's TCP transport does).
var crlfPing = []byte("\r\n\r\n")

// keepalive keeps the NAT binding to r's registrar open while r lives:
// every WithKeepalive interval, CRLFCRLF on the TCP connection the
// REGISTER used, or an OPTIONS on UDP. A failed keepalive (the connection
// gone, a write error, an OPTIONS without answer) re-REGISTERs at once,
// which opens a new connection.
func (p *Peer) keepalive(r *registration) {
	t := time.NewTicker(p.conf.keepalive)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		err := p.ping(r)
		if err == nil || r.ctx.Err() != nil {
			continue
		}
		p.log.Info("keepalive failed: registering again", zap.String("call_id", r.callID), zap.Error(err))
		select {
		case r.kick <- struct{}{}:
		default: // a re-REGISTER is already due
		}
	}
}

// ping sends one keepalive to r's registrar.
func (p *Peer) ping(r *registration) error {
	if p.network == "tcp" {
		r.mu.Lock()
		key := r.conn
		r.mu.Unlock()
		if key == "" {
			return errors.New("ua: no connection to the server yet")
		}
		c, err := p.ua.TransportLayer().GetConnection("tcp", key)
		if err != nil || c == nil {
			return fmt.Errorf("ua: connection to %s closed", key)
		}
		w, ok := c.(stdio.Writer)
		if !ok {
			return nil // not a stream we can write raw bytes to; nothing to keep open
		}
		_, err = w.Write(crlfPing)
		return err
	}
	ctx, cancel := context.WithTimeout(r.ctx, min(p.conf.timeout, p.conf.keepalive))
	defer cancel()
	req := p.newRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: p.aor.Host, Port: p.aor.Port})
	req.RemoveHeader("Contact")
	_, err := p.do(ctx, req) // any answer, even a 401, proves the binding
	return err
}
