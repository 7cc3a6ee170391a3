package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// PresenceResult is what the presence scenario measured beyond the PUBLISH
// figures of Result: the setup, the NOTIFYs and the target's memory.
type PresenceResult struct {
	Presentities, Watchers int
	// Subscriptions is P×W, the SUBSCRIBEs of the setup.
	Subscriptions uint64
	// SubscribeOK counts SUBSCRIBEs answered 2xx, SubscribeFailed the
	// others (failed, timed out, throttled), by status in
	// SubscribeFailures; SubscribeRate is successes per second of the
	// setup, SubscribeRetrans its retransmissions.
	SubscribeOK, SubscribeFailed, SubscribeRetrans uint64
	SubscribeFailures                              map[int]uint64
	SubscribeRate                                  float64
	SubscribeLatency                               Percentiles
	SetupTime                                      time.Duration
	// NotifyInitial counts NOTIFYs without a marker of this run (the
	// initial state after each SUBSCRIBE). NotifyExpected is successful
	// PUBLISHes × W, NotifyExpectedSubscribed the sum over successful
	// PUBLISHes of the subscriptions their presentity accepted (less when
	// SUBSCRIBEs failed); NotifyReceived counts NOTIFYs carrying a marker,
	// each once; NotifyDuplicates are retransmitted NOTIFYs,
	// NotifyForeign NOTIFYs of no subscription of this run, OtherRequests
	// requests that are not NOTIFY. RequestsAnswered counts every request
	// answered 200 during the PUBLISH phase.
	NotifyInitial, NotifyExpected, NotifyReceived  uint64
	NotifyExpectedSubscribed                       uint64
	NotifyDuplicates, NotifyForeign, OtherRequests uint64
	RequestsAnswered                               uint64
	// NotifyRate is NotifyReceived per second of NotifyWindow, from the
	// first PUBLISH to the last marked NOTIFY; NotifyLatency runs from a
	// PUBLISH's first send to each of its NOTIFYs.
	NotifyRate    float64
	NotifyWindow  time.Duration
	NotifyLatency Percentiles
	// MemBefore, MemSetup and MemAfter are the target's memory (PSS of its
	// process tree, bytes) before the setup, after it and after the
	// PUBLISH phase; 0 without Config.TargetPID.
	MemBefore, MemSetup, MemAfter uint64
	// BytesPerSub is (MemSetup-MemBefore) per accepted SUBSCRIBE (P×W
	// when the setup is clean: failed ones hold no state); BytesPerPresentity is
	// (MemAfter-MemSetup) per presentity published, given only with W=0
	// (else NOTIFY transactions weigh in). -1 when not measured.
	BytesPerSub, BytesPerPresentity float64
}

// perUnit computes the memory per subscription and per presentity;
// published is the number of successful PUBLISHes.
func (pr *PresenceResult) perUnit(published uint64) {
	pr.BytesPerSub, pr.BytesPerPresentity = -1, -1
	if pr.MemBefore == 0 || pr.MemSetup == 0 || pr.MemAfter == 0 {
		return
	}
	if pr.SubscribeOK > 0 {
		pr.BytesPerSub = (float64(pr.MemSetup) - float64(pr.MemBefore)) / float64(pr.SubscribeOK)
	}
	if n := min(published, uint64(pr.Presentities)); pr.Watchers == 0 && n > 0 {
		pr.BytesPerPresentity = (float64(pr.MemAfter) - float64(pr.MemSetup)) / float64(n)
	}
}

// NotifyMissing is how many expected NOTIFYs did not come.
func (pr *PresenceResult) NotifyMissing() uint64 {
	return pr.NotifyExpected - min(pr.NotifyReceived, pr.NotifyExpected)
}

// writePresence prints the presence lines of the summary table.
func writePresence(w io.Writer, pr *PresenceResult) {
	fmt.Fprintf(w, "presentities\t%d × %d watchers = %d subscriptions\n", pr.Presentities, pr.Watchers, pr.Subscriptions)
	fmt.Fprintf(w, "setup\t%d SUBSCRIBE ok, %d failed, %d retransmissions in %.2fs (%.0f/s), p50 %.3fms p99 %.3fms\n",
		pr.SubscribeOK, pr.SubscribeFailed, pr.SubscribeRetrans, pr.SetupTime.Seconds(), pr.SubscribeRate,
		ms(pr.SubscribeLatency.P50), ms(pr.SubscribeLatency.P99))
	if len(pr.SubscribeFailures) > 0 {
		fmt.Fprintf(w, "setup failures\t%s\n", strings.Join(statusList(pr.SubscribeFailures, ": "), ", "))
	}
	fmt.Fprintf(w, "notify\t%d of %d expected (%d for the subscriptions taken) in %.3fs (%.0f/s), %d initial, %d duplicates, %d foreign\n",
		pr.NotifyReceived, pr.NotifyExpected, pr.NotifyExpectedSubscribed, pr.NotifyWindow.Seconds(), pr.NotifyRate,
		pr.NotifyInitial, pr.NotifyDuplicates, pr.NotifyForeign)
	l := pr.NotifyLatency
	fmt.Fprintf(w, "publish→notify\tp50 %.3fms  p90 %.3fms  p99 %.3fms  max %.3fms\n", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max))
	if pr.MemBefore > 0 {
		fmt.Fprintf(w, "target memory\t%.1f MB before, %.1f MB after setup, %.1f MB after publish; %s B/subscription, %s B/presentity\n",
			mb(pr.MemBefore), mb(pr.MemSetup), mb(pr.MemAfter), perUnitText(pr.BytesPerSub), perUnitText(pr.BytesPerPresentity))
	}
}

// presenceKeys appends the presence keys of the SUMMARY line.
func presenceKeys(b *strings.Builder, pr *PresenceResult) {
	l := pr.NotifyLatency
	fmt.Fprintf(b, " presentities=%d watchers=%d subscriptions=%d subscribe_ok=%d subscribe_failed=%d "+
		"subscribe_retrans=%d subscribe_rate=%.0f subscribe_p99_ms=%.3f setup_s=%.2f notify_initial=%d "+
		"notify_expected=%d notify_expected_subscribed=%d notify_received=%d notify_missing=%d notify_dup=%d notify_foreign=%d notify_rate=%.0f "+
		"notify_window_s=%.3f notify_p50_ms=%.3f notify_p90_ms=%.3f notify_p99_ms=%.3f notify_max_ms=%.3f "+
		"requests_in=%d mem_before_mb=%.1f mem_setup_mb=%.1f mem_after_mb=%.1f bytes_per_sub=%s bytes_per_presentity=%s",
		pr.Presentities, pr.Watchers, pr.Subscriptions, pr.SubscribeOK, pr.SubscribeFailed, pr.SubscribeRetrans,
		pr.SubscribeRate, ms(pr.SubscribeLatency.P99), pr.SetupTime.Seconds(), pr.NotifyInitial,
		pr.NotifyExpected, pr.NotifyExpectedSubscribed, pr.NotifyReceived, pr.NotifyMissing(), pr.NotifyDuplicates, pr.NotifyForeign, pr.NotifyRate,
		pr.NotifyWindow.Seconds(), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max),
		pr.RequestsAnswered, mb(pr.MemBefore), mb(pr.MemSetup), mb(pr.MemAfter),
		perUnitText(pr.BytesPerSub), perUnitText(pr.BytesPerPresentity))
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }

// perUnitText renders bytes per unit, "-" when not measured.
func perUnitText(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}
