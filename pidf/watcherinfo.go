package pidf

import (
	"fmt"
	"strconv"
	"strings"
)

// WatcherInfo is an application/watcherinfo+xml document (RFC 3858 §5), the body of a NOTIFY for the
// presence.winfo event package (RFC 3857).
type WatcherInfo struct {
	Version uint64 // incremented on every NOTIFY of the subscription, RFC 3858 §4.1
	State   WatcherInfoState
	Lists   []WatcherList
	Extra   []Node
}

// WatcherInfoState says whether a document is the full list or a change to the last one.
type WatcherInfoState string

// Watcher information states (RFC 3858 §5.2).
const (
	WatcherInfoFull    WatcherInfoState = "full"
	WatcherInfoPartial WatcherInfoState = "partial"
)

// WatcherList is the <watcher-list> of one resource and event package.
type WatcherList struct {
	Resource string
	Package  string
	Watchers []Watcher
	Extra    []Node
}

// Watcher is one subscription to the resource (RFC 3858 §5.4). Expiration and DurationSubscribed are in
// seconds; zero is not written.
type Watcher struct {
	ID                 string
	Status             WatcherStatus
	Event              WatcherEvent
	DisplayName        string
	Lang               string
	Expiration         uint64
	DurationSubscribed uint64
	URI                string
}

// WatcherStatus is the state of a subscription (RFC 3857 §3.2).
type WatcherStatus string

// Watcher statuses.
const (
	WatcherPending    WatcherStatus = "pending"
	WatcherActive     WatcherStatus = "active"
	WatcherWaiting    WatcherStatus = "waiting"
	WatcherTerminated WatcherStatus = "terminated"
)

// WatcherEvent is the event that brought a subscription to its status (RFC 3857 §3.2).
type WatcherEvent string

// Watcher events.
const (
	WatcherEventSubscribe   WatcherEvent = "subscribe"
	WatcherEventApproved    WatcherEvent = "approved"
	WatcherEventDeactivated WatcherEvent = "deactivated"
	WatcherEventProbation   WatcherEvent = "probation"
	WatcherEventRejected    WatcherEvent = "rejected"
	WatcherEventTimeout     WatcherEvent = "timeout"
	WatcherEventGiveup      WatcherEvent = "giveup"
	WatcherEventNoresource  WatcherEvent = "noresource"
)

// ParseWatcherInfo decodes a watcherinfo body under DefaultLimits.
func ParseWatcherInfo(b []byte) (*WatcherInfo, error) { return DefaultLimits.ParseWatcherInfo(b) }

// ParseWatcherInfo decodes a watcherinfo body (RFC 3858) under l. Errors wrap the package sentinels.
func (l Limits) ParseWatcherInfo(b []byte) (*WatcherInfo, error) {
	root, err := l.parseTree(b)
	if err != nil {
		return nil, err
	}
	if !root.is(NamespaceWatcherInfo, "watcherinfo") {
		return nil, fmt.Errorf("%w: root is not {%s}watcherinfo", ErrMalformed, NamespaceWatcherInfo)
	}
	wi := &WatcherInfo{State: WatcherInfoState(root.attr("", "state"))}
	if wi.Version, err = parseUint(root, "version"); err != nil {
		return nil, err
	}
	for i := range root.Children {
		c := &root.Children[i]
		switch {
		case c.IsText():
		case c.is(NamespaceWatcherInfo, "watcher-list"):
			wl, err := parseWatcherList(c)
			if err != nil {
				return nil, err
			}
			wi.Lists = append(wi.Lists, wl)
		default:
			wi.Extra = append(wi.Extra, *c)
		}
	}
	return wi, nil
}

func parseWatcherList(n *Node) (WatcherList, error) {
	wl := WatcherList{Resource: n.attr("", "resource"), Package: n.attr("", "package")}
	for i := range n.Children {
		c := &n.Children[i]
		switch {
		case c.IsText():
		case c.is(NamespaceWatcherInfo, "watcher"):
			w, err := parseWatcher(c)
			if err != nil {
				return wl, err
			}
			wl.Watchers = append(wl.Watchers, w)
		default:
			wl.Extra = append(wl.Extra, *c)
		}
	}
	return wl, nil
}

func parseWatcher(n *Node) (Watcher, error) {
	w := Watcher{
		ID:          n.attr("", "id"),
		Status:      WatcherStatus(n.attr("", "status")),
		Event:       WatcherEvent(n.attr("", "event")),
		DisplayName: n.attr("", "display-name"),
		Lang:        n.attr(xmlURL, "lang"),
		URI:         strings.TrimSpace(n.InnerText()),
	}
	var err error
	if w.Expiration, err = parseUint(n, "expiration"); err != nil {
		return w, err
	}
	w.DurationSubscribed, err = parseUint(n, "duration-subscribed")
	return w, err
}

func parseUint(n *Node, attr string) (uint64, error) {
	v := strings.TrimSpace(n.attr("", attr))
	if v == "" {
		return 0, nil
	}
	u, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s is not a non-negative integer", ErrMalformed, attr)
	}
	return u, nil
}

// Marshal encodes wi as compact XML.
func (wi *WatcherInfo) Marshal() []byte { return wi.AppendXML(make([]byte, 0, 512)) }

// AppendXML appends the encoding of wi to dst and returns the extended slice.
func (wi *WatcherInfo) AppendXML(dst []byte) []byte {
	w := writer{buf: dst, root: NamespaceWatcherInfo}
	w.useNodes(wi.Extra)
	for i := range wi.Lists {
		w.useNodes(wi.Lists[i].Extra)
	}
	w.openRoot("watcherinfo")
	w.attr("version", strconv.FormatUint(wi.Version, 10))
	w.attr("state", string(wi.State))
	w.buf = append(w.buf, '>')
	for i := range wi.Lists {
		wi.Lists[i].write(&w)
	}
	w.nodes(wi.Extra, NamespaceWatcherInfo)
	w.buf = append(w.buf, "</watcherinfo>"...)
	return w.buf
}

func (wl *WatcherList) write(w *writer) {
	w.open(NamespaceWatcherInfo, "watcher-list")
	w.attr("resource", wl.Resource)
	w.attr("package", wl.Package)
	w.buf = append(w.buf, '>')
	for _, x := range wl.Watchers {
		w.open(NamespaceWatcherInfo, "watcher")
		w.attr("id", x.ID)
		w.attr("status", string(x.Status))
		w.attr("event", string(x.Event))
		w.optAttr("display-name", x.DisplayName)
		w.optAttr("xml:lang", x.Lang)
		if x.Expiration != 0 {
			w.attr("expiration", strconv.FormatUint(x.Expiration, 10))
		}
		if x.DurationSubscribed != 0 {
			w.attr("duration-subscribed", strconv.FormatUint(x.DurationSubscribed, 10))
		}
		w.endText(NamespaceWatcherInfo, "watcher", x.URI)
	}
	w.nodes(wl.Extra, NamespaceWatcherInfo)
	w.close(NamespaceWatcherInfo, "watcher-list")
}
