package presence

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/store"
)

// Buckets of the presence server.
const (
	// PresentityKind holds one record per presentity: its publications,
	// registered contacts, call state and policy.
	PresentityKind store.Kind = "presentity"
	// WatcherKind indexes the subscriptions of each presentity: key
	// presentity AOR + "\x00" + dialog key, value the watcher's URI, event
	// and state. A presentity reads its watchers back with one prefix scan.
	WatcherKind store.Kind = "watcher"
	// SubscriptionKind holds one record per subscription dialog.
	SubscriptionKind store.Kind = "subscription"
)

// maxRecord is the largest presentity record kept (32 publications of a
// few KB each fit many times over).
const maxRecord = 4 << 20

// presentityRecord is what the store keeps for a presentity.
type presentityRecord struct {
	Pubs     []publication `json:"p,omitempty"`
	Contacts []string      `json:"c,omitempty"`
	InCall   bool          `json:"k,omitempty"`
	Policy   *Policy       `json:"o,omitempty"`
	Version  uint64        `json:"v,omitempty"`
}

func decodePresentity(raw []byte, l pidf.Limits) (*presentityRecord, error) {
	var r presentityRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("presence: decode presentity: %w", err)
	}
	for i := range r.Pubs {
		doc, err := l.Parse(r.Pubs[i].Body)
		if err != nil {
			return nil, fmt.Errorf("presence: stored publication %s: %w", r.Pubs[i].ETag, err)
		}
		r.Pubs[i].doc = doc
	}
	return &r, nil
}

// presentityDeadline is the earliest publication expiry of a record.
func presentityDeadline(raw []byte) (time.Time, error) {
	var r struct {
		Pubs []struct {
			Expires int64 `json:"x"`
		} `json:"p"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return time.Time{}, err
	}
	var next int64
	for _, p := range r.Pubs {
		if next == 0 || p.Expires < next {
			next = p.Expires
		}
	}
	if next == 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, next), nil
}

// watcherRecord is one entry of WatcherKind.
type watcherRecord struct {
	URI   string   `json:"u"`
	Event Event    `json:"e"`
	State SubState `json:"s"`
}

func watcherKey(aor, sub string) string { return aor + "\x00" + sub }

// subRecord is what the store keeps for a subscription.
type subRecord struct {
	Presentity string   `json:"p"`
	Watcher    string   `json:"w"`
	Event      Event    `json:"e"`
	EventID    string   `json:"ei,omitempty"`
	State      SubState `json:"s"`
	Expires    int64    `json:"x"` // Unix ns
	Created    int64    `json:"c"` // Unix ns: local CSeqs count milliseconds from it
	CSeq       uint32   `json:"n"`
	WinfoVer   uint64   `json:"wv,omitempty"`

	LocalURI     string   `json:"lu"`
	RemoteURI    string   `json:"ru"`
	RemoteTarget string   `json:"t"`
	Routes       []string `json:"r,omitempty"`
	RemoteCSeq   uint32   `json:"rn"`
	Source       string   `json:"src,omitempty"`
	Contact      string   `json:"ct"`
}

func (r *subRecord) expiresAt() time.Time { return time.Unix(0, r.Expires) }

// subDeadline is a stored subscription's expiry.
func subDeadline(raw []byte) (time.Time, error) {
	var r struct {
		Expires int64 `json:"x"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, r.Expires), nil
}
