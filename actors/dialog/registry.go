// Package dialog routes in-dialog requests to the actor that owns the
// dialog. Actors (a call's legs, a subscription) Add the dialogs they
// establish and Remove them when they end; the SIP edge looks up every
// request that carries a To tag (RFC 3261 §12.2.2), ACK included, and
// sends the owner a *Request. An unknown dialog is answered 481.
//
// The registry is safe for concurrent use and does bounded work per call:
// one map operation under the lock of one of 64 shards, chosen by a hash of
// the dialog id, so lookups on the request path do not contend with the
// adds and removes of other dialogs.
package dialog

import (
	"hash/maphash"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
)

// ID names a dialog from this server's side (RFC 3261 §12): its Call-ID,
// the local tag (the one this server chose: To of a request received, From
// of a request sent) and the remote tag (the peer's).
type ID struct {
	CallID    string
	LocalTag  string
	RemoteTag string
}

// Incoming is the dialog id of a request received: To tag local, From tag
// remote (RFC 3261 §12.2.2). ok is false for a request outside a dialog (no
// To tag) or without a Call-ID.
func Incoming(req *sip.Request) (id ID, ok bool) {
	to, from, cid := req.To(), req.From(), req.CallID()
	if to == nil || from == nil || cid == nil {
		return ID{}, false
	}
	local, ok := to.Params.Get("tag")
	if !ok || local == "" {
		return ID{}, false
	}
	remote, _ := from.Params.Get("tag")
	return ID{CallID: cid.Value(), LocalTag: local, RemoteTag: remote}, true
}

// Request is an in-dialog request for the dialog's owner. Request is
// read-only. Reply is nil for ACK (which gets no response, RFC 3261
// §17.1.1.3); otherwise the owner calls it exactly once. It is the edge's
// closure: actors call it, but never hand it to another actor.
type Request struct {
	ID      ID
	Request *sip.Request
	Reply   func(*Reply)
}

// Retransmitted is a 2xx to an INVITE the owner sent that came again
// after its transaction ended (RFC 3261 §13.2.2.4): its ACK was lost, and
// the owner sends it again.
type Retransmitted struct {
	ID       ID
	Response *sip.Response
}

// Reply is the owner's answer to an in-dialog Request: a status with
// optional headers and body, or an error the edge maps to a status
// (sip/status).
type Reply struct {
	Code    int
	Reason  string
	Headers []sip.Header
	Body    []byte
	Err     error
}

const shards = 64

// Registry maps dialog ids to the PIDs of their owners.
type Registry struct {
	root   *actor.RootContext
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu     sync.RWMutex
	owners map[ID]*actor.PID
}

// NewRegistry returns an empty registry that sends through root.
func NewRegistry(root *actor.RootContext) *Registry {
	r := &Registry{root: root, seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].owners = map[ID]*actor.PID{}
	}
	return r
}

func (r *Registry) shard(id ID) *shard {
	var h maphash.Hash
	h.SetSeed(r.seed)
	_, _ = h.WriteString(id.CallID)
	_, _ = h.WriteString(id.LocalTag)
	return &r.shards[h.Sum64()%shards]
}

// Add records pid as the owner of id. Adding a dialog pid owns already is
// a no-op; one another actor owns is ErrOwned.
func (r *Registry) Add(id ID, pid *actor.PID) error {
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if cur, ok := sh.owners[id]; ok && !cur.Equal(pid) {
		return ErrOwned
	}
	sh.owners[id] = pid
	return nil
}

// Remove forgets id if pid owns it (so a late Remove of a previous owner
// cannot drop its successor's entry) and reports whether it did.
func (r *Registry) Remove(id ID, pid *actor.PID) bool {
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if cur, ok := sh.owners[id]; ok && cur.Equal(pid) {
		delete(sh.owners, id)
		return true
	}
	return false
}

// Owner returns the PID owning id.
func (r *Registry) Owner(id ID) (*actor.PID, bool) {
	sh := r.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	pid, ok := sh.owners[id]
	return pid, ok
}

// Len counts the dialogs registered (for metrics and tests; it visits
// every shard).
func (r *Registry) Len() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		n += len(sh.owners)
		sh.mu.RUnlock()
	}
	return n
}

// Resend delivers a retransmitted 2xx to the owner of its dialog (From tag
// local, To tag remote); false when no actor owns it.
func (r *Registry) Resend(res *sip.Response) bool {
	from, to, cid := res.From(), res.To(), res.CallID()
	if from == nil || to == nil || cid == nil {
		return false
	}
	local, _ := from.Params.Get("tag")
	remote, _ := to.Params.Get("tag")
	id := ID{CallID: cid.Value(), LocalTag: local, RemoteTag: remote}
	pid, ok := r.Owner(id)
	if !ok {
		return false
	}
	r.root.Send(pid, &Retransmitted{ID: id, Response: res})
	return true
}

// Send delivers m to the owner of m.ID, or returns ErrNoDialog (and
// delivers nothing) when no actor owns it.
func (r *Registry) Send(m *Request) error {
	pid, ok := r.Owner(m.ID)
	if !ok {
		return ErrNoDialog
	}
	r.root.Send(pid, m)
	return nil
}
