// Package digest is the server side of SIP Digest authentication
// (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).
//
// A [Server] issues challenges ([Server.Challenges]) for a 401 or 407 and
// checks the answers ([Server.Verify]) against HA1 values that the users
// service stores instead of passwords ([HA1]). It offers SHA-256 and MD5 by
// default, one challenge per algorithm with the preferred one first
// (RFC 8760 §2.4), because many deployed phones only speak MD5.
//
// Nonces are stateless: base64url(timestamp ‖ 8 random bytes ‖
// HMAC-SHA256(secret, timestamp ‖ random ‖ realm)[:16]). Any node holding
// the secret can check a nonce; none has to remember the nonces it issued.
// The only state is the replay cache: the highest nonce count (nc) accepted
// per nonce, in a bounded LRU.
//
// Decisions where the RFCs leave room:
//
//   - qop=auth is offered. Answers without qop (RFC 2069 style, which
//     RFC 3261 §22.4 still allows phones to send) are accepted for plain MD5
//     only, unless Config.RequireQOP is set. They carry no nonce count, so
//     such an answer can be replayed for the same method and digest-uri
//     until its nonce expires (Config.NonceTTL).
//   - qop=auth-int, username* and userhash=true are not implemented and
//     are rejected with auth.ErrInvalidRequest.
//   - When the replay cache evicts a nonce, every nonce minted no later
//     than it and not in the cache is treated as stale from then on. A
//     replay is never accepted; a client that was evicted gets a 401 with
//     stale=true and retries with a fresh nonce without asking its user.
//   - The digest-uri is not compared with the Request-URI: a registrar
//     behind a proxy sees URIs rewritten on the way. Callers that want the
//     RFC 3261 §22.4 check compare Credentials.URI themselves.
//   - stale=true is only reported when the answer is otherwise right
//     (RFC 7616 §3.3): a stale nonce with a wrong password is
//     auth.ErrBadCredentials.
//   - Challenges carry no opaque; an opaque in the answer is ignored.
package digest
