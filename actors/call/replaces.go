package call

import (
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/sip/status"
)

// Attended transfer (RFC 5589 §7): the transferor X talks to Y in this
// call and to Z in another call of ours, and sends REFER here with
// Refer-To: <...?Replaces=...> naming its dialog of the other call (RFC
// 3891). Nobody needs to be called: the other call hands its leg toward
// Z over to this one (the dialog's state moves, the leg actor does not:
// its call owns it), and ends with BYE to X; this call puts the leg in
// X's place, re-INVITEs Y with Z's session description and then Z with
// Y's answer, and tells X in NOTIFYs as for a blind transfer.

// errNoReplaced is a Replaces naming no dialog of a call of ours, or one
// that is not answered, or that stopped meanwhile: 481 in the NOTIFY.
var errNoReplaced = status.New(status.NoSuchDialog, "Replaced Dialog Not Found")

// replacedWait bounds the wait for the other call's hand-over.
const replacedWait = 5 * time.Second

// parseReplaces reads a Replaces value (RFC 3891 §6.1): Call-ID, to-tag
// and from-tag, from the side of whoever received the INVITE it would be
// in: the to-tag is the local tag of our dialog, the from-tag the remote.
func parseReplaces(v string) (dialog.ID, error) {
	parts := strings.Split(v, ";")
	id := dialog.ID{CallID: strings.TrimSpace(parts[0])}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(k) {
		case "to-tag":
			id.LocalTag = val
		case "from-tag":
			id.RemoteTag = val
		}
	}
	if id.CallID == "" || id.LocalTag == "" || id.RemoteTag == "" {
		return dialog.ID{}, errReferTo
	}
	return id, nil
}

// replace asks the call owning a dialog (through the leg that owns it) to
// hand the leg on the other side over to the call to.
type replace struct {
	to  *actor.PID // the asking call
	id  uint64     // its transfer
	who string     // the transferor's AOR: it must be the party of the dialog named
	leg *actor.PID // the leg owning the dialog named, set as it forwards
}

// handover asks a leg to give its dialog to the call to.
type handover struct {
	to   *actor.PID
	id   uint64
	sdp  []byte
	aor  string
	who  sip.Uri
	from *actor.PID // the call handing over
}

// handedOver answers replace: code 200 with a dialog's state, or the
// failure.
type handedOver struct {
	id   uint64
	code int
	role role
	d    dlg
	path []string
	sdp  []byte
	aor  string
	who  sip.Uri
}

// attended starts an attended transfer of x: the dialog Replaces names
// must be a leg of another call of ours.
func (c *Call) attended(sc *shard.Context, x *transfer, id dialog.ID) {
	pid, ok := c.dialogs.Owner(id)
	if !ok { // the tags the other way round: some agents write them from their own side
		id.LocalTag, id.RemoteTag = id.RemoteTag, id.LocalTag
		pid, ok = c.dialogs.Owner(id)
	}
	if !ok || c.legs[pid.Id] != nil {
		c.transferFailed(sc, x, errNoReplaced.Code, errNoReplaced.Phrase)
		return
	}
	c.nextOp++
	x.id = c.nextOp
	x.arm(sc, replacedWait)
	sc.Send(pid, &replace{to: sc.Self(), id: x.id, who: c.aorOf(x.referrer)})
}

// aorOf is the AOR of a leg's party, when a local user.
func (c *Call) aorOf(l *legRef) string {
	if l.pid.Equal(c.a) {
		return c.caller
	}
	return c.callee
}

// replaceAsked: another call wants the peer of leg m.leg.
func (c *Call) replaceAsked(sc *shard.Context, m *replace) {
	l := c.legs[m.leg.Id]
	fail := func(code int) { sc.Send(m.to, &handedOver{id: m.id, code: code}) }
	switch {
	case l == nil || !c.answered || c.over || c.xfer.cur != nil || l != c.winner && !l.pid.Equal(c.a):
		fail(status.NoSuchDialog)
		return
	case c.aorOf(l) != m.who: // only the party of the dialog may have it replaced (RFC 3891 §6.1)
		fail(status.Forbidden)
		return
	}
	peer := c.peerOf(l)
	if peer == nil || peer.ended {
		fail(status.NoSuchDialog)
		return
	}
	sc.Send(peer.pid, &handover{to: m.to, id: m.id, sdp: c.sdpOf(peer), aor: c.aorOf(peer), who: c.identity(peer), from: sc.Self()})
}

// handover gives the leg's dialog to another call and stops the leg
// without tearing the dialog down; its call, told the leg ended, ends.
func (l *leg) handover(ctx actor.Context, m *handover) {
	if l.state != confirmed || l.inviting || len(l.inbound) > 0 || len(l.outOps) > 0 || l.byeID != 0 ||
		l.role == uas && !l.acked || l.role == uac && l.holdAck {
		ctx.Send(m.to, &handedOver{id: m.id, code: status.RequestPending})
		return
	}
	l.unregister() // before the new owner registers it
	ctx.Send(m.to, &handedOver{id: m.id, code: status.OK, role: l.role, d: l.d, path: l.path, sdp: m.sdp, aor: m.aor, who: m.who})
	l.end(ctx, nil)
}

// resume makes a leg from a dialog another call handed over: confirmed,
// nothing in flight.
func (l *leg) resume(h *handedOver) {
	l.role, l.d, l.path, l.state, l.acked = h.role, h.d, h.path, confirmed, true
}

// handedOver: the other call answered the replace.
func (c *Call) handedOver(sc *shard.Context, m *handedOver) {
	x := c.xfer.cur
	if x == nil || x.id != m.id || c.over {
		if m.code == status.OK { // nobody here wants it any more: the dialog must not be left up
			sc.Send(c.spawn(sc, legStart{role: m.role, resume: m}), &hangup{})
		}
		return
	}
	if m.code != status.OK {
		c.transferFailed(sc, x, m.code, "")
		return
	}
	// The dialog's media was the other call's: it gets ports of this call,
	// primed with what its endpoint last described, and the re-INVITE that
	// follows (transferred) moves it here.
	ms, mpid := c.newMedia(sc, media.Callee, "r"+strconv.Itoa(len(c.legs)))
	if ms != nil && len(m.sdp) > 0 {
		if err := ms.Received(m.sdp, true); err != nil {
			c.log.Info("replaced dialog's SDP not usable for the relay", zap.String("call_id", c.callID), zap.Error(err))
		}
	}
	l := c.legs[c.spawn(sc, legStart{role: m.role, resume: m, media: ms}).Id]
	l.who, l.sdp, x.aor, l.mpid = m.who, m.sdp, m.aor, mpid
	res := sip.NewResponse(status.OK, "OK")
	res.SetBody(m.sdp)
	c.transferred(sc, x, l, res)
	if ce := c.log.Check(zap.DebugLevel, "attended transfer"); ce != nil {
		ce.Write(zap.String("call_id", c.callID), zap.String("aor", m.aor))
	}
}
