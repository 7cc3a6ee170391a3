// Package call is the B2BUA's call control: one call actor per caller's
// INVITE (a shard entity keyed by leg A's Call-ID and From tag) and one
// leg actor per dialog, leg A toward the caller (we are its UAS) and a
// leg B toward each contact of the callee (we are its UAC). Each leg owns
// its dialog (dlg.go) and registers it in the dialog registry, so the
// edge sends the peer's in-dialog requests straight to it; the call
// bridges the legs (call.go, relay.go). Nothing of one leg's dialog
// crosses to the other: each has its own Call-ID, tags, CSeq spaces,
// route set, and negotiates its own extensions.
//
// What is supported, RFC by RFC:
//
// RFC 3261 (SIP). Forking by q (§16.6), the best response when every fork
// failed (§16.7), CANCEL (§9), BYE either way, ACK of 2xx on each leg
// (§13.2.2.4: leg B ACKs its 2xx at once, leg A's ACK is absorbed), 2xx
// retransmitted to the caller until its ACK (the edge), in-dialog
// requests relayed to the other leg with their body and the headers that
// cross (copy.go). A request whose CSeq is not above the last one is 500
// (§12.2.2); one for a dialog nobody owns is 481 at the edge, and its ACK
// is dropped. A re-INVITE while another is in progress on the same leg,
// either way, is 491 (§14.2); a 491 from the far leg is relayed with
// Retry-After. A re-INVITE is relayed with its SDP rewritten for the
// other leg by the media relay (media.go; with Config.Media passthrough,
// untouched): a=sendonly or a=inactive of a hold cross as they are. A
// re-INVITE without SDP (delayed offer) is relayed as it is; the far
// leg's 2xx offer goes to the near leg, and the near leg's ACK carries
// the answer to the far leg's ACK, which waits for it (offer.go).
//
// RFC 3262 (100rel, PRACK), per leg (prack.go). Leg B always offers
// 100rel: a reliable 18x (Require: 100rel, RSeq) is PRACKed at once on
// its early dialog with RAck, and a retransmission of it is neither
// PRACKed again nor relayed. Toward a caller that supports 100rel, 18x go
// reliably with our own RSeq, retransmitted at T1 doubling until its
// PRACK (200 when RAck matches, 481 otherwise); after 64*T1 without one
// the INVITE gets 500 and the call ends. A second reliable provisional
// waits for the first one's PRACK, and a 2xx waits too when the
// unacknowledged provisional carried SDP (§3). Toward a caller without
// 100rel, 18x go unreliably. When the caller's INVITE had no SDP and
// the callee's reliable 18x offers one, the fork keeps its PRACK until
// the caller's PRACK brings the answer and sends it with that body (a
// caller without 100rel cannot answer there: the fork PRACKs at once
// without a body). Any other PRACK body is answered by leg A (200 without
// a body) and not relayed: the fork PRACKed long before.
//
// RFC 3311 (UPDATE). Relayed with its SDP, in an early dialog too (to the
// one fork with an early dialog; several: 500 No Peer Dialog); a target
// refresh on both legs (Contact in the request and its 2xx). An UPDATE
// offer while one of ours waits for its answer on that leg is 491; while
// the peer's previous offer is unanswered, 500 with Retry-After (§5.2).
//
// RFC 6086 (INFO). Relayed with Content-Type, Info-Package, Content-
// Disposition and the body (application/dtmf-relay and others)
// untouched.
//
// RFC 4028 (session timers), per leg (timer.go). A caller's
// Session-Expires below Config.MinSE is 422 with Min-SE before any fork.
// Leg A takes the caller's interval and refresher (or ours, with the
// caller refreshing when it supports timers and us when it does not);
// the 2xx says Session-Expires: N;refresher=uac|uas, and Require: timer
// when the caller supports timers. Leg B asks for Config.SessionExpires
// with Min-SE and Supported: timer, and retries once after a 422 with the
// callee's Min-SE (CSeq + 1). When we refresh a leg, it sends UPDATE
// without a body if the peer allows UPDATE, else a re-INVITE with the
// last SDP it sent, at half the interval; when the peer refreshes and no
// refresh came by the interval minus min(32 s, interval/3), the leg sends
// BYE and the call ends (both legs; §10). A refresh from the peer that
// changes nothing else (an UPDATE without a body, or an SDP with the
// version of the last one the peer sent) is answered by the leg and not
// relayed; any 2xx to a re-INVITE or UPDATE restarts the timer.
//
// RFC 3264 and bodies (sdp.go). An INVITE, re-INVITE or UPDATE whose
// body is application/sdp (or multipart with an SDP part) that does not
// parse (github.com/pion/sdp/v3) is 400 Malformed SDP; one without a
// usable media line (none, or every port 0) is 488; a body of any other
// type is 415 with Accept: application/sdp. The caller's INVITE is
// checked before any fork; in-dialog ones before they are relayed. None
// of these ends the call.
//
// RFC 3325 (P-Asserted-Identity) crosses only from Config.Trusted
// sources. REFER (RFC 3515, RFC 3891 Replaces) has its own summary in
// refer.go.
package call
