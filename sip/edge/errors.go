package edge

import "github.com/b2bua/b2bua/sip/status"

// ErrNoReply answers a request whose actor did not reply within
// Config.ReplyTimeout: the edge answers for it (500), and drops the reply
// if it comes later.
var ErrNoReply error = status.New(status.ServerInternalError, "Server Timeout")
