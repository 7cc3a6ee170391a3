# sipp-lib.sh: what the SIPp REGISTER scripts share (sourced, not run).
# They set PORT and SECS before calling these.

# sipp_register CALLS RATE SCREEN: CALLS REGISTERs of new users (user1,
# user2, ...) at RATE to 127.0.0.1:PORT, bounded in time; SIPp's screen
# goes to SCREEN.
sipp_register() {
  timeout $((SECS * 4 + 60)) sipp -sf testdata/sipp/register.xml -key domain localhost -i 127.0.0.1 -p $((PORT + 1)) \
    -m "$1" -r "$2" -l $(($2 * 2)) -buff_size 4194304 -timeout $((SECS * 3 + 30))s -nostdin \
    -trace_screen -screen_file "$3" "127.0.0.1:$PORT" >/dev/null 2>&1 || true
}

# sipp_result SCREEN CALLS: sets ok, failed, retrans and pct (retransmitted
# per cent of CALLS) from a SIPp screen.
sipp_result() {
  ok=$(awk -F'|' '/Successful call/ {gsub(/ /,"",$3); print $3}' "$1")
  failed=$(awk -F'|' '/Failed call/ {gsub(/ /,"",$3); print $3}' "$1")
  retrans=$(awk '/REGISTER ---------->/ {print $4}' "$1")
  pct=$(awk -v r="${retrans:-0}" -v c="$2" 'BEGIN {printf "%.2f", 100 * r / c}')
}

# clean: the last sipp_result had no failure and under 1% retransmitted.
clean() { [ "${failed:-1}" = "0" ] && awk -v p="$pct" 'BEGIN {exit !(p < 1)}'; }

# cpu_pct T0 T1: server CPU in per cent of one core over SECS, from
# /proc ticks.
cpu_pct() { awk -v t="$(($2 - $1))" -v s="$SECS" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", 100 * t / hz / s}'; }

# wait_udp: until something listens on UDP PORT (at most 5 s).
wait_udp() { for _ in $(seq 50); do grep -q . <(ss -lun "sport = :$PORT" | tail -n +2) && break; sleep 0.1; done; }
