// Package ua is the client SDK of the B2BUA: a SIP peer that registers,
// publishes and watches presence, and exchanges messages, in a few lines of
// Go.
//
// A Peer is one identity (sip:alice@example.com) on one local listener
// (UDP or TCP, port 0 allowed). It works in two modes with the same API:
//
//   - Through a server: Register sets the server as the peer's outbound
//     proxy, and every request afterwards (PUBLISH, SUBSCRIBE, MESSAGE) goes
//     there, with the peer's credentials (Bearer token, a token source that
//     refreshes, or Digest).
//   - Peer to peer: with no server, Watch("sip:bob@127.0.0.1:5070")
//     subscribes to the peer directly. Every Peer answers SUBSCRIBE for its
//     own identity, sends NOTIFY on SetPresence and applies its own
//     authorization (an allow list or an approve callback). An OPTIONS
//     heartbeat marks a silent peer Offline.
//
// Presence: SetPresence publishes (PUBLISH, RFC 3903) and keeps the
// publication alive by its SIP-ETag; Watch subscribes (SUBSCRIBE/NOTIFY,
// RFC 6665) and yields Updates; a BuddyList merges many watches into one
// channel; PendingWatchers, Approve and Block are the owner's side
// (watcher information, RFC 3857/3858, or the server's HTTP API set with
// WithAPI). No channel of the SDK ever blocks the SIP stack: each is
// buffered, and when a reader falls behind the oldest queued update is
// dropped, never the latest, so a slow reader skips intermediate states
// but always ends up with the current one.
//
// Close ends everything cleanly: unSUBSCRIBE, PUBLISH Expires: 0 and
// REGISTER Expires: 0.
//
// Calls (Call, Answer, Hangup) come with the B2BUA's calls: until then a
// Peer answers INVITE with 405 (INVITE is not in its Allow).
package ua
