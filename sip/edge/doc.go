// Package edge is the SIP edge: it owns the sipgo user agent, the listeners
// and the server transactions, and translates between SIP and the actors'
// typed messages. Nothing past the edge sees a socket or a transaction.
//
// A request is checked (sanity.go: RFC 3261 §8.2 and §16.3), routed by
// method to one handler file (register.go, options.go), turned into a typed
// message for the owning actor, and the actor's reply is turned into the
// response. Errors map to statuses in one place, sip/status.
//
// Two paths deliver a request to a handler, both through a responder:
//   - UDP REGISTER and OPTIONS are read off the socket before sipgo's
//     transaction layer (udp.go) and answered statelessly. sipgo keeps a
//     server transaction 32 s after its final response (Timer J), which caps
//     a registrar near 10,000 REGISTER/s and costs gigabytes of memory;
//     the registration actor recognises retransmissions itself instead
//     (RFC 3261 §10.3 step 7 compares Call-ID and CSeq anyway).
//   - Everything else goes through sipgo server transactions; the handler
//     waits for the actor's reply, since sipgo ends the transaction when
//     the handler returns.
package edge
