package shard

import (
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Router sends messages to the shard of their key. It is what the edge
// and other actors hold; it is safe for concurrent use.
type Router struct {
	root   *actor.RootContext
	shards []*actor.PID
}

// NewRouter returns the router of the kind whose root is rootPID, started
// with n shards.
func NewRouter(system *actor.ActorSystem, rootPID *actor.PID, n int) *Router {
	r := &Router{root: system.Root, shards: make([]*actor.PID, n)}
	for i := range r.shards {
		r.shards[i] = actor.NewPID(rootPID.Address, rootPID.Id+"/"+strconv.Itoa(i))
	}
	return r
}

// Send routes m to the entity of key.
func (r *Router) Send(key string, m Message) {
	r.root.Send(r.Target(key, m), m)
}

// Target addresses m to key and returns the shard to send it to: for an
// actor that asks with ctx.RequestFuture and gets the answer by
// ReenterAfter.
func (r *Router) Target(key string, m Message) *actor.PID {
	m.envelope().key = key
	return r.shards[Of(key, len(r.shards))]
}

// Of hashes key onto one of n shards (FNV-1a, 32 bits).
func Of(key string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// Resident reports whether key's entity is running now (not passivated,
// not absent): for tests and diagnostics.
func (r *Router) Resident(key string, timeout time.Duration) (bool, error) {
	res, err := r.root.RequestFuture(r.shards[Of(key, len(r.shards))], &residentQuery{key: key}, timeout).Result()
	if err != nil {
		return false, err
	}
	return res.(*residentAnswer).resident, nil
}

type residentQuery struct{ key string }
type residentAnswer struct{ resident bool }
