#!/usr/bin/env bash
# REGISTER throughput with authentication off, with Bearer tokens (cache
# warm: every user's token is verified once before the measured steps) and
# with Digest, side by side on one machine, loopback only, bounded.
#
#   USERS=200 RATES="2000 5000 8000 11000" SECONDS_PER_STEP=6 bench/auth-register.sh
#
# Each step re-registers USERS users in turn (refreshes: the same AORs, a new
# Call-ID each), so what differs between the modes is the authentication.
# Digest answers a 401 challenge first: two transactions per REGISTER.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-200}
RATES=${RATES:-"2000 5000 8000 11000"}
SECS=${SECONDS_PER_STEP:-6}
B2BUA=${B2BUA:-bin/b2bua}
go build -o "$B2BUA" ./cmd/b2bua
work=$(mktemp -d)
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_mode() { # mode, serve flags, bench flags
  local mode=$1 serve=$2 benchf=$3 sip http
  sip=$(free_port); http=$(free_port)
  rm -rf "$work/data"; mkdir -p "$work/data"
  "$B2BUA" serve --listen "udp:127.0.0.1:$sip" --http "127.0.0.1:$http" --data "$work/data" --log-level warn --log-format json $serve 2>"$work/$mode.log" &
  srv=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/readyz" >/dev/null && break; sleep 0.1; done
  if [ "$mode" != none ]; then
    local tok; tok=$(cat "$work/data/admin.token")
    : > "$work/tokens"
    for i in $(seq 0 $((USERS - 1))); do
      curl -sf -H "Authorization: Bearer $tok" -d "{\"name\":\"user$i\",\"password\":\"pw-bench\"}" "http://127.0.0.1:$http/admin/users" >/dev/null
      printf 'user%d\t%s\n' "$i" "$(curl -sf -H "Authorization: Bearer $tok" -d "{\"name\":\"user$i\"}" "http://127.0.0.1:$http/admin/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')" >> "$work/tokens"
    done
  fi
  # Warm up: every user once (fills the token cache, spawns the actors).
  "$B2BUA" bench register --users "$USERS" --rate 1000 --total "$USERS" $benchf "127.0.0.1:$sip" >/dev/null 2>&1 || true
  for rate in $RATES; do
    line=$("$B2BUA" bench register --users "$USERS" --rate "$rate" --duration "${SECS}s" --timeout 8s --target-pid "$srv" $benchf "127.0.0.1:$sip" 2>/dev/null | grep '^SUMMARY' || true)
    get() { echo "$line" | tr ' ' '\n' | awk -F= -v k="$1" '$1==k {print $2}'; }
    echo "step auth=$mode rate=$rate ok_rate=$(get ok_rate) failed=$(get failed) timeouts=$(get timeouts) retrans_pct=$(get retrans_pct) p50_ms=$(get p50_ms) p99_ms=$(get p99_ms) server_cpu=$(get target_cpu_avg)"
  done
  kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
}

run_mode none "--auth none" ""
run_mode bearer "--auth bearer" "--token-file $work/tokens"
run_mode digest "--auth digest" "--digest-password pw-bench"
echo "SUMMARY auth-register users=$USERS seconds_per_step=$SECS go=$(go env GOVERSION) cpus=$(nproc)"
