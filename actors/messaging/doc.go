// Package messaging is the server side of SIP MESSAGE (RFC 3428): one
// message box per recipient AOR, an entity of the generic shard platform
// (actors/shard).
//
//   - To a registered user: the MESSAGE is forked to every contact the
//     registrar holds for the AOR, through the outbound port (the one
//     NOTIFY takes), with the sender's From (tag included), To, Call-ID,
//     CSeq, Date, Content-Type and body; the Request-URI is the contact.
//     The first 2xx wins: 200 to the sender. When every contact answered
//     a final non-2xx, the sender gets the best of them (RFC 3261 §16.7
//     step 6: a 6xx, else the lowest class). When none answered at all
//     (timeouts, transport errors: stale contacts), the MESSAGE is stored.
//   - To a user without contacts: the MESSAGE is stored, and answered 202
//     Accepted only once the write committed, so a kill -9 after the 202
//     loses nothing. A Date header is added when the sender sent none.
//   - Delivery of stored messages: when the AOR registers (the registrar's
//     Changed hook), when a box is woken, and a minute after contacts that
//     did not answer. In arrival order, one at a time (the next after the
//     previous got a 2xx), each with its original Date; a message leaves
//     the store only after a 2xx.
//   - Limits (Config): stored messages expire after Expiry (deleted, never
//     delivered); a box holds MaxStored messages, past which a MESSAGE to
//     store gets 486 Busy Here with reason "Mailbox Full". Not 503
//     Service Unavailable: the condition belongs to one recipient, and an
//     RFC 3263 client takes a 503 as this server failing and tries the
//     next one, for nothing. A body over MaxBody gets 413, no body 400.
//   - Unknown users get 404: a Directory says who is known (the users
//     service, and Registered: every AOR whose last contact went, written
//     once per AOR then); an AOR with contacts is known from them.
//
// Retransmissions (retrans.go): over UDP the edge takes MESSAGE on its
// stateless path, without a sipgo server transaction, and the box absorbs
// the copies: it remembers each recent MESSAGE by Call-ID, CSeq, top Via
// branch and From tag; a copy of one being delivered gets ErrInProgress
// (no answer; Trying on the first copy 3.5 s or more after the original:
// one 100 Trying, RFC 4320 §4.1), a copy of an answered one the same
// Result, never a second fork or a second stored copy. Answers are
// remembered 32 s (64×T1), at most 64 per box, and a box that remembers
// any is busy: it passivates only once no copy can come. What a box has
// forgotten (a restart, past the 64) is taken as new, except that a copy
// of a message still stored is recognised from the store and answered
// 202 again. The edge's deadline for the answer is its reply timeout plus
// its client timeout, longer than DeliveryTimeout.
package messaging
