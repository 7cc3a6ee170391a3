#!/bin/bash
# idle-calls.sh: what an idle call costs the real server. Starts the server
# (UDP, --auth none), a SIPp UAS registered as bob, and a SIPp UAC that sets
# up N calls to bob at RATE calls/s and holds each for HOLD ms; once every
# call is up and SETTLE seconds passed (sipgo's transactions of the set-up
# are gone), it reads the live heap (pprof after a GC) and the RSS, and
# prints both per call, then stops what it started.
#
#   N=5000 RATE=200 HOLD=600000 SETTLE=40 bench/idle-calls.sh
set -u
N=${N:-5000}
RATE=${RATE:-200}
HOLD=${HOLD:-600000}
SETTLE=${SETTLE:-40}
SIP=${SIP:-127.0.0.1:5170}
HTTP=${HTTP:-127.0.0.1:18170}
UAS_PORT=${UAS_PORT:-5190}
ROOT=${ROOT:-$(cd "$(dirname "$0")/.." && pwd)} # the tree to build: another checkout compares versions
W=$(mktemp -d /tmp/idle-calls.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap cleanup EXIT

(cd "$ROOT" && go build -o "$W/b2bua" ./cmd/b2bua) || exit 1
# --media passthrough: 50,000 relayed calls would need 100,000 port pairs (a
# relayed call holds two; see media/README.md, Ports).
"$W/b2bua" serve --listen "udp:$SIP" --http "$HTTP" --data "$W/data" --auth none --log-level warn --media passthrough >"$W/server.log" 2>&1 &
srv=$!
pids+=("$srv")
for _ in $(seq 50); do curl -sf "http://$HTTP/healthz" >/dev/null && break; sleep 0.1; done

sipp -sn uas -i 127.0.0.1 -p "$UAS_PORT" -nostdin >/dev/null 2>&1 &
pids+=("$!")
printf "SEQUENTIAL\nbob;%s;3600\n" "$UAS_PORT" >"$W/reg.csv"
sipp -sf "$ROOT/testdata/sipp/message_register.xml" -key domain localhost -inf "$W/reg.csv" -i 127.0.0.1 -p $((UAS_PORT + 1)) \
	"$SIP" -m 1 -nostdin >/dev/null 2>&1 || { echo "REGISTER failed"; exit 1; }

heap() { # live heap in bytes: HeapAlloc right after the GC pprof's heap endpoint runs (gc=1)
	curl -sf "http://$HTTP/debug/pprof/heap?gc=1" -o "$W/heap.pb.gz" &&
		curl -sf "http://$HTTP/metrics" | awk '/^go_memstats_heap_alloc_bytes /{printf "%d\n", $2}'
}
rss() { awk '/VmRSS/{print $2*1024}' "/proc/$srv/status"; }
live() { curl -sf "http://$HTTP/metrics" | awk -F' ' '/^b2bua_actors_live\{kind="call"\}/{print $2+0}'; }

sleep 1
h0=$(heap); r0=$(rss)
sipp -sn uac -i 127.0.0.1 -p $((UAS_PORT + 2)) "$SIP" -s bob -r "$RATE" -m "$N" -l "$N" -d "$HOLD" -nostdin >"$W/uac.log" 2>&1 &
pids+=("$!")
for _ in $(seq 600); do
	[ "$(live)" = "$N" ] && break
	sleep 1
done
up=$(live)
echo "calls up: $up of $N; settling ${SETTLE}s"
sleep "$SETTLE"
h1=$(heap); r1=$(rss); up=$(live)
awk -v n="$up" -v h0="$h0" -v h1="$h1" -v r0="$r0" -v r1="$r1" 'BEGIN{
	printf "%d idle calls: live heap %.1f MB (%.0f B/call), RSS %.1f MB (%.0f B/call)\n", n, (h1-h0)/1e6, (h1-h0)/n, (r1-r0)/1e6, (r1-r0)/n }'
curl -sf "http://$HTTP/metrics" | grep -E '^go_(memstats_(heap_(inuse|idle|released|sys)|stack_inuse|sys)_bytes|goroutines) ' # where the RSS goes
cp "$W/heap.pb.gz" /tmp/idle-calls-heap.pb.gz 2>/dev/null && echo "heap profile: /tmp/idle-calls-heap.pb.gz"
