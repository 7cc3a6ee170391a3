// Package presence is the presence server (SIMPLE): PUBLISH (RFC 3903),
// SUBSCRIBE/NOTIFY (RFC 6665) for the presence event package (RFC 3856)
// and for watcher information (presence.winfo, RFC 3857/3858), with the
// PIDF documents of package pidf.
//
// Two actor kinds run on the shard machinery (actors/shard):
//
//   - A presentity per AOR (key "sip:alice@example.com") holds the
//     publications of its devices by entity tag, the contacts the registrar
//     reports (RegistrationChanged), the call state (CallStateChanged), its
//     owner's watch policy and its watchers. It composes one PIDF document
//     from every source (RFC 4479), renders it once per version and
//     visibility level, and sends each change to its watchers' subscription
//     actors, one typed message each. It never waits for a watcher.
//   - A subscription per SUBSCRIBE dialog (key DialogKey: Call-ID, our tag,
//     the watcher's tag) owns the dialog: its expiry, its NOTIFY CSeq space,
//     and the last state it was given. It sends one NOTIFY at a time through
//     the outbound port, at most one per Config.MinNotifyInterval, always the
//     latest state (RFC 6446's rate control), and learns the outcome as a
//     message. A watcher that answers 481 or never answers is removed; one
//     that is slow delays only itself.
//
// The flow of a new subscription: the edge sends Subscribe to the
// presentity, which authorises the watcher (Policy: open, same-domain or
// approve, with allow and block lists; a blocked watcher gets 403, an
// existing subscription of a newly blocked one ends with
// terminated;reason=rejected), records it, and hands the dialog to a new
// subscription actor with the state the watcher may see; that actor writes
// itself, answers 200 (202 while pending) and sends the first NOTIFY.
// In-dialog SUBSCRIBEs go straight to the subscription actor by its key; a
// key nobody holds is answered 481 by its shard without an actor.
//
// Persistence. Three buckets: a presentity record (publications, contacts,
// call state, policy), a watcher index (one small entry per subscription,
// keyed by presentity and dialog: a new watcher is one small write, not a
// rewrite of a record with 10,000 watchers; a presentity reads its watchers
// back with one prefix scan), and a subscription record. Every
// acknowledged PUBLISH and SUBSCRIBE was committed first; timers are
// rebuilt from the absolute expiries. A presentity's watcher entry is
// queued before its subscription's record, and the store commits in queue
// order, so a subscription whose 2xx went out is always indexed. Idle
// presentities and subscriptions passivate like registrations.
//
// NOTIFY CSeq numbers are max(last + 1, milliseconds since the
// subscription began): they rise across a crash without a write per
// NOTIFY. A dialog can live 24 days this way; past that it is ended with
// reason=deactivated and the watcher subscribes again at once.
package presence
