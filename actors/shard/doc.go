// Package shard is the sharded-entity machinery every actor kind runs on:
// an entity is one actor per key (an AOR, a dialog id, a Call-ID) that owns
// that key's state; the package does everything around it.
//
//   - Routing: a Router hashes the key to one of N shard actors (FNV-1a).
//     The shard keeps the key → PID map, spawns the entity on first use and
//     forwards the message, keeping the original sender so the entity's
//     ctx.Respond answers the caller directly.
//   - Stamps: every routed message embeds an Envelope. The shard stamps it
//     with the incarnation (gen) of the entity it goes to and its number
//     (seq) among the messages to that incarnation, and marks it fresh when
//     the store holds nothing for the key (so the entity skips the read).
//   - Idle handshake: an entity stops only when its "idle" report carries
//     the latest stamp, so no message in its mailbox is lost. Each
//     incarnation has its own name (key$gen): a successor can start while
//     its predecessor is still stopping, and messages for one key are
//     forwarded in arrival order, never re-queued behind later ones.
//   - Passivation: an entity with state that has been idle for Spec.Idle
//     is stopped too. Its shard keeps only its key and its next deadline,
//     in one heap per shard; the next message for the key, or the
//     deadline, activates it again from the store.
//   - Restore: the root scans the store once at start and hands every
//     shard its keys and deadlines; Ready is answered after every shard
//     took them.
//   - Exactly one answer: a message that implements Failer is failed with
//     ErrInternal when its handling panics, and with ErrUnavailable when it
//     can no longer be handled (its actor stopped with it still queued, or
//     it went to dead letters).
//   - Timers: an entity's Context holds one timer; stale firings (of a
//     timer since reset or stopped, or armed by an instance before a
//     restart) are ignored: each arming has a number of its own. The
//     timers of a shard's entities share one heap and one runtime timer
//     (timers.go): arming allocates nothing, and a resident entity keeps
//     no runtime timer of its own.
//   - Supervision: entities are restarted by their shard within a budget
//     (then stopped and forgotten); a shard is restarted by the root, and
//     a shard stopped past its budget is spawned again, so the router
//     never points at a dead PID.
package shard
