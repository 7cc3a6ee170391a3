#!/usr/bin/env bash
# sipp-compare.sh: the same SIPp REGISTER load, step by step, against
# several servers in one run: a fresh server per step, one at a time, on
# loopback, bounded in count and time. Every REGISTER is a new user with
# Expires: 3600 and each 200 OK is checked by SIPp (testdata/sipp/register.xml).
#
#   SERVERS="new=bin/b2bua base=/tmp/b2bua-old kamailio" RATES="10000 14000 18000" \
#   SECONDS_PER_STEP=6 bench/sipp-compare.sh
#
# A server is NAME=PATH-TO-A-B2BUA-BINARY (run with --auth none, like the
# Kamailio config: the comparison is of the registrar) or "kamailio"
# (bench/kamailio/kamailio.cfg; apt-get install -y kamailio). Extra flags for
# our servers: SERVE_FLAGS. Prints one key=value line per server and step,
# and a SUMMARY line per server: the highest rate with 0 failed and under 1%
# retransmitted.
set -euo pipefail
cd "$(dirname "$0")/.."
B2BUA=${B2BUA:-bin/b2bua}
SERVERS=${SERVERS:-"new=$B2BUA kamailio"}
RATES=${RATES:-"5000 10000 15000 20000"}
SECS=${SECONDS_PER_STEP:-6}
PORT=${PORT:-25060}
SERVE_FLAGS=${SERVE_FLAGS:-}
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
[ -x "$B2BUA" ] || go build -o "$B2BUA" ./cmd/b2bua

work=$(mktemp -d)
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start() { # name spec → sets srv
  rm -rf "$work/data"
  if [ "$2" = kamailio ]; then
    kamailio -f bench/kamailio/kamailio.cfg -DD -E -m 2048 -M 16 -l "udp:127.0.0.1:$PORT" -P "$work/kam.pid" >"$work/server.log" 2>&1 &
  else
    # shellcheck disable=SC2086
    "$2" serve --auth none --listen "udp:127.0.0.1:$PORT" --http 127.0.0.1:0 --data "$work/data" --log-level warn --log-format json $SERVE_FLAGS 2>"$work/server.log" &
  fi
  srv=$!
  wait_udp
  sleep 0.3
}
cpu_ticks() { # the server and its children (Kamailio forks workers)
  local t=0 p
  for p in $(pgrep -g "$(ps -o pgid= "$1" | tr -d ' ')" 2>/dev/null || echo "$1"); do
    t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo $t
}
rss_kb() { local t=0 p; for p in $(pgrep -P "$1") "$1"; do t=$((t + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo $t; }

. bench/sipp-lib.sh
declare -A best
for rate in $RATES; do
  for entry in $SERVERS; do
    name=${entry%%=*} bin=${entry#*=}
    start "$name" "$bin"
    calls=$((rate * SECS))
    t0=$(cpu_ticks "$srv")
    sipp_register "$calls" "$rate" "$work/screen.log"
    t1=$(cpu_ticks "$srv")
    rss=$(rss_kb "$srv")
    kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
    pkill -f "kamailio -f bench/kamailio" 2>/dev/null || true
    sipp_result "$work/screen.log" "$calls"
    cpu=$(cpu_pct "$t0" "$t1")
    echo "step server=$name rate=$rate calls=$calls ok=${ok:-0} failed=${failed:-?} retrans=${retrans:-?} retrans_pct=$pct server_cpu_pct=$cpu server_rss_kb=$rss"
    if clean; then best[$name]=$rate; fi
    sleep 1
  done
done
for entry in $SERVERS; do
  name=${entry%%=*}
  echo "SUMMARY server=$name max_clean_rate=${best[$name]:-0} seconds_per_step=$SECS go=$(go env GOVERSION) cpus=$(nproc)"
done
