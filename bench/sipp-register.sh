#!/usr/bin/env bash
# Fixed-rate REGISTER load with SIPp against a fresh b2bua per step, loopback
# only, bounded in count and time. Every step registers RATE×SECONDS new
# users (user1, user2, ...) with Expires: 3600 and checks each 200 OK.
#
#   RATES="5000 10000 12000" SECONDS_PER_STEP=10 bench/sipp-register.sh
#
# Prints one key=value line per step and a SUMMARY line: the highest rate
# with 0 failed calls and under 1% retransmissions. SIPp's response times
# have a 4 ms tick; use `b2bua bench register` for precise percentiles.
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${RATES:-"5000 10000 12000 15000"}
SECS=${SECONDS_PER_STEP:-10}
PORT=${PORT:-25060}
B2BUA=${B2BUA:-bin/b2bua}
[ -x "$B2BUA" ] || go build -o "$B2BUA" ./cmd/b2bua
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }

work=$(mktemp -d)
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
. bench/sipp-lib.sh
best=0
for rate in $RATES; do
  rm -rf "$work/data"
  "$B2BUA" serve --auth none --listen "udp:127.0.0.1:$PORT" --http 127.0.0.1:0 --data "$work/data" --log-level warn --log-format json 2>"$work/server.log" &
  srv=$!
  wait_udp
  calls=$((rate * SECS))
  t0=$(cpu_ticks "$srv")
  sipp_register "$calls" "$rate" "$work/screen.log"
  t1=$(cpu_ticks "$srv")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$srv/status")
  kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
  sipp_result "$work/screen.log" "$calls"
  elapsed=$(awk -F'|' '/Elapsed Time/ {print $3}' "$work/screen.log" | tr -d ' ')
  achieved=$(awk -F'|' '/Call Rate/ {gsub(/ cps| /,"",$3); print $3}' "$work/screen.log")
  cpu=$(cpu_pct "$t0" "$t1")
  echo "step rate=$rate calls=$calls ok=${ok:-0} failed=${failed:-?} retrans=${retrans:-?} retrans_pct=$pct achieved_cps=${achieved:-?} elapsed=$elapsed server_cpu_pct=$cpu server_rss_kb=$rss"
  if clean; then best=$rate; fi
done
echo "SUMMARY max_clean_rate=$best seconds_per_step=$SECS go=$(go env GOVERSION) cpus=$(nproc)"
