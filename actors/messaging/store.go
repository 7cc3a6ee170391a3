package messaging

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/b2bua/b2bua/store"
)

// Buckets of the messaging kind.
const (
	// BoxKind holds one record per box: its stored messages in arrival
	// order. A box holds at most MaxStored bodies of MaxBody each, so one
	// record (rewritten on each change) stays small enough; a record per
	// message would spare the rewrite at the cost of a prefix scan per
	// activation.
	BoxKind store.Kind = "msgbox"
	// KnownKind holds one empty record per AOR that was registered and
	// has no contact now: the users a MESSAGE may be stored for beyond the
	// users service (with --auth none, the only ones).
	KnownKind store.Kind = "msgknown"
)

// stored is one MESSAGE waiting in a box.
type stored struct {
	From        string `json:"f"`
	To          string `json:"t"`
	CallID      string `json:"i"`
	CSeq        uint32 `json:"s"`
	Date        string `json:"d"`
	ContentType string `json:"c,omitempty"`
	Body        []byte `json:"b"`
	Hops        uint32 `json:"h,omitempty"`
	Expires     int64  `json:"x"` // Unix ns: deleted, never delivered, after it
	N           uint64 `json:"n"` // its number in the box: arrival order
}

// boxRecord is what the store keeps for a box.
type boxRecord struct {
	Msgs []stored `json:"m"`
}

var errBadRecord = errors.New("messaging: bad box record")

// decodeBox reads a box record. A record must hold at least one message,
// each with a From, a To and a body: the box never writes others.
func decodeBox(raw []byte) (*boxRecord, error) {
	var r boxRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("messaging: decode box: %w", err)
	}
	if len(r.Msgs) == 0 {
		return nil, fmt.Errorf("%w: no message", errBadRecord)
	}
	for i := range r.Msgs {
		if m := &r.Msgs[i]; m.From == "" || m.To == "" || len(m.Body) == 0 || m.Expires <= 0 {
			return nil, fmt.Errorf("%w: message %d incomplete", errBadRecord, i)
		}
	}
	return &r, nil
}

func encodeBox(msgs []stored) []byte {
	raw, err := json.Marshal(&boxRecord{Msgs: msgs})
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return raw
}

// boxDeadline is the earliest expiry of a stored box: the shard wakes a
// passivated box then, so it deletes what expired.
func boxDeadline(raw []byte) (time.Time, error) {
	var r struct {
		Msgs []struct {
			Expires int64 `json:"x"`
		} `json:"m"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return time.Time{}, err
	}
	var next int64
	for _, m := range r.Msgs {
		if next == 0 || m.Expires < next {
			next = m.Expires
		}
	}
	if next <= 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, next), nil
}
