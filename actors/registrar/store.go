package registrar

import (
	"encoding/json"
	"fmt"

	"github.com/b2bua/b2bua/store"
)

// Kind is the store bucket of registrations.
const Kind store.Kind = "registrations"

// record is what the store keeps per AOR: the bindings and the last request
// applied, so a retransmission after a restart is still recognised.
type record struct {
	Bindings []Binding `json:"b"`
	Last     lastReq   `json:"l"`
}

// lastReq identifies the last REGISTER applied to an AOR.
type lastReq struct {
	CallID string `json:"i,omitempty"`
	CSeq   uint32 `json:"s,omitempty"`
	Branch string `json:"v,omitempty"`
}

func encode(r record) ([]byte, error) { return json.Marshal(r) }

func decode(b []byte) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("registrar: decode record: %w", err)
	}
	return r, nil
}
