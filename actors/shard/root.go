package shard

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/supervision"
)

// Ready asks a kind's root whether its state was restored; it answers
// with *ReadyResult once every shard took its keys.
type Ready struct{}

// ReadyResult answers Ready.
type ReadyResult struct{ Restored int }

// Props returns the props of a kind's root: it spawns spec.Shards shard
// actors named "<root>/<i>", restores the stored keys with one scan, and
// respawns a shard that was stopped past its restart budget.
func Props(spec Spec) *actor.Props {
	sp := &spec
	return actor.PropsFromProducer(func() actor.Actor { return &root{spec: sp} },
		actor.WithSupervisor(supervision.Strategy(spec.Log, spec.Name+"-shard", supervision.RestartOnPanic, supervision.DefaultBudget)))
}

type root struct {
	spec     *Spec
	booted   atomic.Bool
	props    []*actor.Props
	pending  int
	restored int
	waiting  []*actor.PID
	stopping bool // shards that stop now are not spawned again
}

func (r *root) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		r.start(ctx)
	case *restored:
		r.restored += msg.n
		if r.pending--; r.pending == 0 {
			r.booted.Store(true)
			r.spec.Log.Info("kind started", zap.String("kind", r.spec.Name), zap.Int("shards", r.spec.Shards), zap.Int("restored", r.restored))
			for _, w := range r.waiting {
				ctx.Send(w, &ReadyResult{Restored: r.restored})
			}
			r.waiting = nil
		}
	case *Ready:
		if r.pending == 0 {
			ctx.Respond(&ReadyResult{Restored: r.restored})
		} else {
			r.waiting = append(r.waiting, ctx.Sender())
		}
	case *actor.Stopping, *actor.Restarting:
		// Its shards stop with it now: not a failure to make good.
		r.stopping = true
	case *actor.Terminated:
		if !r.stopping {
			r.respawn(ctx, msg.Who)
		}
	}
}

func (r *root) start(ctx actor.Context) {
	r.props = make([]*actor.Props, r.spec.Shards)
	for i := range r.props {
		// The strategy on a parent's props supervises its children: the
		// shard's decides for the entities.
		// A shard's mailbox is tracked like an entity's: requests queued in
		// it when it stops past its budget are answered.
		// Shards run on a pool of their own (see dispatch.go).
		opts := dispatch(r.spec.shardPool, []actor.PropsOption{actor.WithSupervisor(strategy(r.spec)), actor.WithMailbox(trackedMailbox)})
		if len(r.spec.ShardMiddleware) > 0 {
			opts = append(opts, actor.WithReceiverMiddleware(r.spec.ShardMiddleware...))
		}
		r.props[i] = actor.PropsFromProducer(func() actor.Actor { return newShard(r.spec, i, &r.booted) }, opts...)
		if _, err := ctx.SpawnNamed(r.props[i], strconv.Itoa(i)); err != nil {
			panic(fmt.Sprintf("shard %s: spawn %d: %v", r.spec.Name, i, err))
		}
	}
	keys, err := scan(r.spec, nil)
	if err != nil {
		panic(fmt.Sprintf("shard %s: restore: %v", r.spec.Name, err))
	}
	split := make([][]deadline, r.spec.Shards)
	for _, k := range keys {
		i := Of(k.key, r.spec.Shards)
		split[i] = append(split[i], k)
	}
	r.pending = r.spec.Shards
	for i, part := range split {
		ctx.Request(actor.NewPID(ctx.Self().Address, ctx.Self().Id+"/"+strconv.Itoa(i)), &restore{keys: part})
	}
}

// respawn starts a shard again that its supervisor stopped past the
// restart budget: the router addresses shards by name, and a name without
// an actor would swallow every message for a share of the keys.
func (r *root) respawn(ctx actor.Context, who *actor.PID) {
	name := who.Id[len(ctx.Self().Id)+1:]
	i, err := strconv.Atoi(name)
	if err != nil || i < 0 || i >= len(r.props) {
		return
	}
	r.spec.Log.Error("shard stopped past its restart budget, starting it again", zap.String("kind", r.spec.Name), zap.Int("shard", i))
	if _, err := ctx.SpawnNamed(r.props[i], name); err != nil {
		panic(fmt.Sprintf("shard %s: respawn %d: %v", r.spec.Name, i, err))
	}
}

// scan reads every stored key of the kind (those keep passes) with its
// deadline: one pass over the store.
func scan(spec *Spec, keep func(string) bool) ([]deadline, error) {
	if spec.Store == nil {
		return nil, nil
	}
	var out []deadline
	err := spec.Store.Scan(spec.Bucket, func(key string, val []byte) error {
		if keep != nil && !keep(key) {
			return nil
		}
		d := deadline{key: key}
		if spec.Deadline != nil {
			if due, err := spec.Deadline(val); err == nil && !due.IsZero() {
				d.due = due.UnixNano()
			}
		}
		out = append(out, d)
		return nil
	})
	return out, err
}
