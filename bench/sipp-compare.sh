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
SERVERS=${SERVERS:-"new=bin/b2bua kamailio"}
RATES=${RATES:-"5000 10000 15000 20000"}
SECS=${SECONDS_PER_STEP:-6}
PORT=${PORT:-25060}
SERVE_FLAGS=${SERVE_FLAGS:-}
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
[ -x bin/b2bua ] || go build -o bin/b2bua ./cmd/b2bua

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
  for _ in $(seq 50); do grep -q . <(ss -lun "sport = :$PORT" | tail -n +2) && break; sleep 0.1; done
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

declare -A best
for rate in $RATES; do
  for entry in $SERVERS; do
    name=${entry%%=*} bin=${entry#*=}
    start "$name" "$bin"
    calls=$((rate * SECS))
    t0=$(cpu_ticks "$srv")
    timeout $((SECS * 4 + 60)) sipp -sf testdata/sipp/register.xml -key domain localhost -i 127.0.0.1 -p $((PORT + 1)) \
      -m "$calls" -r "$rate" -l $((rate * 2)) -buff_size 4194304 -timeout $((SECS * 3 + 30))s -nostdin \
      -trace_screen -screen_file "$work/screen.log" "127.0.0.1:$PORT" >/dev/null 2>&1 || true
    t1=$(cpu_ticks "$srv")
    rss=$(rss_kb "$srv")
    kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
    pkill -f "kamailio -f bench/kamailio" 2>/dev/null || true
    ok=$(awk -F'|' '/Successful call/ {gsub(/ /,"",$3); print $3}' "$work/screen.log")
    failed=$(awk -F'|' '/Failed call/ {gsub(/ /,"",$3); print $3}' "$work/screen.log")
    retrans=$(awk '/REGISTER ---------->/ {print $4}' "$work/screen.log")
    cpu=$(awk -v t="$((t1 - t0))" -v s="$SECS" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", 100 * t / hz / s}')
    pct=$(awk -v r="${retrans:-0}" -v c="$calls" 'BEGIN {printf "%.2f", 100 * r / c}')
    echo "step server=$name rate=$rate calls=$calls ok=${ok:-0} failed=${failed:-?} retrans=${retrans:-?} retrans_pct=$pct server_cpu_pct=$cpu server_rss_kb=$rss"
    if [ "${failed:-1}" = "0" ] && awk -v p="$pct" 'BEGIN {exit !(p < 1)}'; then best[$name]=$rate; fi
    sleep 1
  done
done
for entry in $SERVERS; do
  name=${entry%%=*}
  echo "SUMMARY server=$name max_clean_rate=${best[$name]:-0} seconds_per_step=$SECS go=$(go env GOVERSION) cpus=$(nproc)"
done
