// Package edge is the SIP edge: it owns the sipgo user agent, the listeners
// and the server transactions, and translates between SIP and the actors'
// typed messages. Nothing past the edge sees a socket or a transaction.
//
// A request is checked (sanity.go: RFC 3261 §8.2 and §16.3), routed by the
// method table (methods.go) to one handler file (register.go, options.go),
// or by dialog id to the dialog's owner (dialog.go), turned into a typed
// message for the owning actor, and the actor's reply is turned into the
// response. Errors map to statuses in one place, sip/status.
//
// Two paths deliver a request to a handler, both through an answer
// (responder.go) that lets exactly one response out and releases the
// request's in-flight slot with it:
//   - UDP requests of the table's stateless methods (REGISTER, PUBLISH,
//     SUBSCRIBE, MESSAGE out of a dialog, and OPTIONS to the server
//     itself) are read off the socket before sipgo sees them (udp.go:
//     udpConn is the socket sipgo's read loop reads) and answered
//     statelessly; REGISTER's answers are formatted straight into the send
//     buffer (reply.go). sipgo keeps a server transaction
//     32 s after its final response (Timer J), which caps a registrar near
//     10,000 REGISTER/s and costs gigabytes of memory; the owning actor
//     recognises retransmissions itself instead (RFC 3261 §10.3 step 7
//     compares Call-ID and CSeq anyway). Each listener's deadline queue
//     (deadline.go) answers 500 for an actor that has not replied in time:
//     ReplyTimeout after the request, or ReplyTimeout plus ClientTimeout
//     for a request forwarded to contacts (admitForward), in a second
//     queue. MESSAGE (message.go) is such a one: its message box forks it
//     to the recipient's contacts and answers only once one took it or
//     none answered (up to messaging's delivery timeout, 8 s); meanwhile
//     the box gives a copy nothing (one late copy a 100 Trying, RFC 4320
//     §4.1), and afterwards the same answer again, without a second
//     delivery or a second stored copy.
//   - Everything else, all of TCP and requests in a dialog, goes through
//     sipgo server transactions; the handler waits for the actor's reply,
//     since sipgo ends the transaction when the handler returns, and
//     answers 500 itself past the deadline (ReplyTimeout, plus
//     ClientTimeout for a MESSAGE or a forwarded OPTIONS).
//
// Actors send requests through the client port (client.go), an
// outbound.Port; an OPTIONS to a user is forwarded that way to the user's
// contact and its answer relayed. Non-INVITE requests over UDP (NOTIFY
// fan-out) go out statelessly (client_udp.go): our own Via branch, one
// timer goroutine for every retransmission and Timer F, and responses
// taken off the listener by the same read filter and matched by branch.
// INVITE and everything over TCP use sipgo client transactions.
package edge
