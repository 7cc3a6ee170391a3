#!/usr/bin/env bash
# sipp-refresh.sh: what passivation costs a refresh. For each idle setting
# and rate, a fresh server is filled with RATE×SECONDS users at FILL_RATE,
# left idle long enough for every registration actor to passivate (with
# --idle 1s) or kept resident (--idle 0), and then every user REGISTERs
# again at RATE (a new Call-ID, the same contact: a refresh). SIPp checks
# each 200 OK. Loopback only, bounded in count and time.
#
#   IDLES="0 1s" RATES="14000 18000 20000" SECONDS_PER_STEP=6 bench/sipp-refresh.sh
#
# Prints one key=value line per step and a SUMMARY line per idle setting:
# the highest refresh rate with 0 failed and under 1% retransmitted.
set -euo pipefail
cd "$(dirname "$0")/.."
IDLES=${IDLES:-"0 1s"}
RATES=${RATES:-"14000 18000 20000"}
SECS=${SECONDS_PER_STEP:-6}
FILL_RATE=${FILL_RATE:-10000}
PORT=${PORT:-25060}
B2BUA=${B2BUA:-bin/b2bua}
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
[ -x "$B2BUA" ] || go build -o "$B2BUA" ./cmd/b2bua

work=$(mktemp -d)
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
. bench/sipp-lib.sh

declare -A best
for idle in $IDLES; do
  for rate in $RATES; do
    rm -rf "$work/data"
    "$B2BUA" serve --auth none --idle "$idle" --listen "udp:127.0.0.1:$PORT" --http 127.0.0.1:0 --data "$work/data" --log-level warn --log-format json 2>"$work/server.log" &
    srv=$!
    wait_udp
    calls=$((rate * SECS))
    sipp_register "$calls" "$FILL_RATE" "$work/fill.log"
    sleep 3 # --idle 1s: every actor passivates (the idle scan runs every 250 ms)
    t0=$(cpu_ticks "$srv")
    sipp_register "$calls" "$rate" "$work/screen.log"
    t1=$(cpu_ticks "$srv")
    kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
    sipp_result "$work/screen.log" "$calls"
    cpu=$(cpu_pct "$t0" "$t1")
    echo "step idle=$idle rate=$rate calls=$calls ok=${ok:-0} failed=${failed:-?} retrans=${retrans:-?} retrans_pct=$pct server_cpu_pct=$cpu"
    if clean; then best[$idle]=$rate; fi
  done
done
for idle in $IDLES; do
  echo "SUMMARY idle=$idle max_clean_refresh_rate=${best[$idle]:-0} seconds_per_step=$SECS go=$(go env GOVERSION) cpus=$(nproc)"
done
