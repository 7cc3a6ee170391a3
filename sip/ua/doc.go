// Package ua is the client SDK of the B2BUA: a SIP peer that registers,
// publishes and watches presence, exchanges messages and places and
// answers calls, in a few lines of Go.
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
// Registration (Register) keeps one Call-ID for its life and refreshes at
// 90% of the expiry the registrar granted, with CSeq+1 each time (RFC 3261
// §10.2.4); a 423 is retried with Min-Expires, a 401 is answered once by the
// credentials (a fresh token from a TokenSource, or Digest). A failure that
// may pass (no answer, 5xx) is retried with backoff from 1 s to 60 s until
// Unregister or Close; a refusal (403, 404, credentials) ends it. Each state
// change arrives on RegEvents, which drops the oldest events rather than
// block. While registered, the peer keeps its NAT binding to the server open
// with CRLF keepalives on TCP (RFC 5626 §4.4.1) or OPTIONS on UDP, every 25 s
// (WithKeepalive); a keepalive that fails registers again at once.
// PasswordGrant and RefreshGrant get the tokens from the server's OAuth
// token endpoint (/oauth/token, public client "sipua").
//
// Messages (RFC 3428): SendMessage sends text/plain through the server
// (200 delivered, 202 stored for an offline user) or to a peer directly.
// Received messages arrive on Messages; a body over MaxMessageSize is
// answered 413, and a MESSAGE that finds the inbox full for a second is
// answered 486, so sipgo's handler is never held longer.
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
// Calls (RFC 3261 INVITE dialogs, signalling only): Call places a call
// through the server (with the peer's credentials) or to a peer directly,
// and returns once it is answered and acknowledged, or with a
// *StatusError (486, 480, 404, …); ending its ctx while it rings sends
// CANCEL. A reliable 18x (Require: 100rel, RSeq) is acknowledged by PRACK
// (RFC 3262). IncomingCalls yields the INVITEs to the peer, which rings
// (180) at once; Answer sends 200 OK, again on UDP until the ACK comes
// (RFC 3261 §13.3.1.4), Reject refuses, Cancelled reports the caller's
// CANCEL; a full queue is answered 486. An established Call hangs up
// (BYE), holds and resumes (re-INVITE with a=sendonly / a=sendrecv; a
// re-INVITE that crosses ours gets 491), sends DTMF by INFO
// (application/dtmf-relay) and yields the digits it receives; Held says
// the other side holds us. In-dialog requests follow the remote target
// and the route set (Record-Route), or go through the server. The SDP is
// minimal (PCMU, PCMA, telephone-event on WithMediaPort, default 40000):
// the SDK carries no media. An application with media of its own gives
// its SDP to Call or Answer with WithSDP (later offers and answers reuse
// it with the direction changed) and reads the other side's with
// Call.RemoteSDP. Peer to peer, direct watchers see the peer
// InCall while a call is up; through a server, the server says so.
//
// Close ends everything cleanly: BYE for every call, unSUBSCRIBE, PUBLISH
// Expires: 0 and REGISTER Expires: 0.
package ua
