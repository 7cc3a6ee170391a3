package shard

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/supervision"
)

// Tree is a running set of kinds under one guardian: what the server
// starts, and what a kind's tests start the same way.
type Tree struct {
	System *actor.ActorSystem
	// Routers holds each kind's router by name.
	Routers map[string]*Router
	// Restored is how many stored keys each kind restored.
	Restored map[string]int

	top   *actor.PID
	dead  *eventstream.Subscription
	pools []*pool
}

func (t *Tree) closePools() {
	for _, p := range t.pools {
		p.close()
	}
}

// Start spawns every kind under a guardian named top in system and waits
// until each has restored its state (within readyTimeout).
func Start(system *actor.ActorSystem, log *zap.Logger, top string, readyTimeout time.Duration, specs ...Spec) (*Tree, error) {
	var children []supervision.Child
	shards := 0
	for i := range specs {
		if err := specs[i].Validate(); err != nil {
			return nil, err
		}
		shards += specs[i].Shards
	}
	workers, shardWorkers := newPool(0), newPool(shards)
	for i := range specs {
		specs[i].pool, specs[i].shardPool = workers, shardWorkers
		if specs[i].Child != nil {
			opts := dispatch(workers, []actor.PropsOption{actor.WithReceiverMiddleware(specs[i].ChildMiddleware...)})
			specs[i].childProps = actor.PropsFromProducer(specs[i].Child, opts...)
		}
		children = append(children, supervision.Child{Name: specs[i].Name, Props: Props(specs[i])})
	}
	t := &Tree{System: system, Routers: map[string]*Router{}, Restored: map[string]int{}, dead: answerDeadLetters(system), pools: []*pool{workers, shardWorkers}}
	pid, err := system.Root.SpawnNamed(supervision.Guardian(log, children), top)
	if err != nil {
		system.EventStream.Unsubscribe(t.dead)
		t.closePools()
		return nil, fmt.Errorf("shard: %w", err)
	}
	t.top = pid
	if err := supervision.WaitStarted(system, pid, readyTimeout); err != nil {
		_ = t.Stop()
		return nil, fmt.Errorf("shard: guardian: %w", err)
	}
	for _, s := range specs {
		rootPID := actor.NewPID(system.Address(), top+"/"+s.Name)
		res, err := system.Root.RequestFuture(rootPID, &Ready{}, readyTimeout).Result()
		if err != nil {
			_ = t.Stop()
			return nil, fmt.Errorf("shard: kind %s: %w", s.Name, err)
		}
		t.Restored[s.Name] = res.(*ReadyResult).Restored
		t.Routers[s.Name] = NewRouter(system, rootPID, s.Shards)
	}
	return t, nil
}

// Stop stops the tree, children first, then the actor system.
func (t *Tree) Stop() error {
	err := supervision.Stop(t.System, t.top)
	t.System.EventStream.Unsubscribe(t.dead)
	t.closePools()
	return err
}
