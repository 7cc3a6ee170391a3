// Package bench is the load generator of the B2BUA: an open-loop SIP client
// that sends requests at a fixed rate on raw UDP or TCP sockets and measures
// what comes back.
//
// # Why not sipgo
//
// sipgo's client transactions cost a goroutine, timers and a full parse per
// request and top out well below 20,000 requests/s on a 2-core machine. The
// generator instead builds each request as bytes from a template (unique
// Call-ID, branch, tag and CSeq per request), writes batches with sendmmsg,
// reads batches with recvmmsg and reads only the status line, Call-ID, CSeq,
// top Via branch, Content-Length, SIP-ETag and a Digest challenge of each
// response (ParseResponse).
//
// # How a run works
//
// A pacing goroutine sends on schedule whatever the answers (open loop), up
// to Config.Concurrency outstanding logical requests; a request that finds
// no free slot is counted as throttled and skipped. Every outstanding request
// owns a slot of a preallocated table; the slot number and a generation
// counter are encoded in the Via branch, so a response finds its slot without
// a map. A logical request may take several transactions: a Digest challenge
// (RFC 3261 §22.2) is answered with CSeq+1, and a scenario may chain steps
// (REGISTER refresh, unregister). Latency runs from the first send of the
// logical request to the final response of its last transaction.
//
// On UDP a sweeper goroutine retransmits with RFC 3261 §17.1.2.2 Timer E
// (T1 doubling, capped at T2; T2 at once after a provisional response) and
// times transactions out after Timer F (Config.Timeout). The timers live in
// FIFO queues, one per retransmission interval, which stay sorted because
// every entry of a queue is pushed with the same delay.
//
// # Requests from the server and phases
//
// Requests the server sends to the generator's sockets (NOTIFY) are answered
// at once with 200 OK copying Via, From, To, Call-ID and CSeq, statelessly,
// from the socket they came in on. The presence scenario runs two phases on
// the same sockets: a setup of P×W SUBSCRIBEs, then the measured PUBLISHes;
// each PUBLISH body carries a marker (run, number, first send time) that the
// watcher reads from each NOTIFY to measure publish-to-NOTIFY latency
// without a lookup (FindMarker). The message scenario to online or offline
// recipients has a setup too: REGISTERs of the recipients (with a Contact at
// a UAS or at the generator, whose stateless answer then completes each
// relayed MESSAGE; or removed at once, so MESSAGEs are stored), then the
// measured MESSAGEs, of which only 200 (online) or 202 (offline) succeed.
// Such scenarios implement phased.
//
// # Output
//
// Run returns a Result with totals, failures by status, latency percentiles
// (HdrHistogram) and a per-second series; WriteSummary, SummaryLine, WriteCSV
// (SIPp -trace_stat columns), WriteJSON and WritePlot render it. EchoServer is
// a stateless responder that shows the generator's own ceiling.
package bench
