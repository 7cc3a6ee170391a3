#!/usr/bin/env bash
# compare.sh: the same load, step by step, against our server and Kamailio,
# one server at a time on loopback; prints a side-by-side table and the
# ratio ours/kamailio. Everything it starts is stopped on exit (trap).
#
#   bench/compare.sh [--scenario register] [--rates 2000,5000,10000,15000,20000]
#                    [--step 5s] [--timeout 8s] [--only both|ours|kamailio]
#                    [--out DIR] [--uas generator|sipp|go] [--hold DUR]
#                    [--fresh] [-- extra flags for b2bua bench]
#
# By default one server takes every step, so a later step runs against the
# state the earlier ones left (for register: every AOR registered so far).
# --fresh starts a new server (ours with an empty data directory) before
# each step, as the SIPp scripts do; compare a clean rate with
# sipp-register.sh or sipp-compare.sh only with --fresh (bench/README.md,
# "Why b2bua bench and SIPp disagreed").
#
# --scenario presence: --rates are PUBLISH rates; the presence flags go
# after -- (e.g. -- --presentities 1 --watchers 1000 --total 1). Kamailio
# then runs bench/kamailio/presence.cfg (presence + presence_xml in memory;
# apt-get install -y kamailio kamailio-presence-modules), every step uses
# its own presentity and watcher names, and the table shows PUBLISH/s,
# NOTIFY/s and publish-to-NOTIFY p50/p99.
#
# --scenario message: --rates are MESSAGE rates. Each step registers its
# own online recipients (--to online --recipient-prefix r<rate>m;
# --recipients and the other message flags go after --), then sends
# MESSAGEs that each server must relay to the recipients' user agent
# (success = 200). --uas picks that user agent: "generator" (default) is
# the generator's own socket, which sends the REGISTERs, is their Contact
# and answers every MESSAGE with 200 statelessly; "sipp" starts one SIPp
# UAS (testdata/sipp/message_echo_uas.xml) on a free port for the whole run
# and puts it in the Contact (--uas 127.0.0.1:PORT). Both servers send to
# the Contact (ours uses the REGISTER's source only for a contact behind
# a NAT); the STEP key requests_in shows MESSAGEs that went to the
# generator instead. Kamailio runs bench/kamailio/message.cfg
# (registrar + usrloc in memory, lookup("location") + t_relay(), to the
# Contact). With -- --to offline (stored, 202) only our server runs:
# Kamailio has no store without msilo and a database. The table adds p99.9
# and the server's CPU.
#
# --scenario call: --rates are calls started per second. Each step
# registers its own callees (--callee-prefix r<rate>c, --callees after --)
# at one UAS for the whole run, then places calls: INVITE (PCMU SDP) ->
# 100/180 -> 200 -> ACK -> --hold (default 0) -> BYE -> 200. --uas picks
# the UAS: "go" (default) is `b2bua bench uas-server` in a process of its
# own (stateless: 180 + 200 with SDP, BYE 200), "sipp" is SIPp with
# testdata/sipp/call_echo_uas.xml; the STEP lines add uas_cpu. Kamailio runs
# bench/kamailio/call.cfg (tm + rr + registrar: record_route() on INVITE,
# loose_route() for ACK and BYE, t_relay()). The table shows calls/s set up
# (INVITE 2xx), failures (INVITE or BYE failed or timed out), INVITE->200
# p50/p99, peak concurrent calls, memory per concurrent call, the server's
# CPU and RSS. For the memory figure give a --hold shorter than --step
# (e.g. --rates 2000 --step 35s --hold 30s: about 60,000 calls up at once);
# each step then lasts --step + --hold.
#
# Our server is started as
#   b2bua serve --auth none --listen udp:127.0.0.1:PORT --data TMPDIR --http 127.0.0.1:PORT2 --log-level warn
# (no authentication, like the Kamailio config: the comparison is of the registrar;
# with --media passthrough in the call scenario: Kamailio relays no media either)
# from a binary built once from ./cmd/b2bua (the same as `go run ./cmd/b2bua serve ...`,
# but its PID is the server's, for --target-pid). Kamailio runs bench/kamailio/kamailio.cfg
# with -m 2048 (install: apt-get install -y kamailio).
#
# --scenario media runs bench/media-compare.sh (RTP through our relay and
# rtpengine, with a direct baseline; its flags: media-compare.sh --help).
#
# Time is bounded: each step lasts --step (+ --hold) plus at most a few
# --timeout for the drain, and every generator run is wrapped in timeout(1).
set -euo pipefail

# --scenario media (RTP through our relay and rtpengine) has a script of
# its own, with its own flags: bench/media-compare.sh --help.
for ((i = 1; i <= $#; i++)); do
	if [[ ${!i} == --scenario ]]; then
		j=$((i + 1))
		[[ ${!j:-} == media ]] && exec "$(dirname "$0")/media-compare.sh" "$@"
	fi
	[[ ${!i} == --scenario=media ]] && exec "$(dirname "$0")/media-compare.sh" "$@"
	[[ ${!i} == -- ]] && break
done

scenario=register
rates=2000,5000,10000,15000,20000
step=5s
timeout_flag=8s
only=both
uas=generator
hold=0s
fresh=0
out=""
extra=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	--scenario) scenario=$2; shift 2 ;;
	--rates) rates=$2; shift 2 ;;
	--step) step=$2; shift 2 ;;
	--timeout) timeout_flag=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--uas) uas=$2; shift 2 ;;
	--hold) hold=$2; shift 2 ;;
	--fresh) fresh=1; shift ;;
	--) shift; extra=("$@"); break ;;
	-h | --help) sed -n '2,60p' "$0"; exit 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)

script=compare.sh
# shellcheck source=bench/script-lib.sh
. "$repo/bench/script-lib.sh"
start_work b2bua-compare

bin=$work/b2bua
echo "building $bin" >&2
(cd "$repo" && go build -o "$bin" ./cmd/b2bua)

# wait_ready waits until HOST:PORT answers an OPTIONS with anything (a
# timeout-free run); at most $2 seconds.
wait_ready() {
	local target=$1 limit=$2 pid=$3
	for _ in $(seq "$limit"); do
		kill -0 "$pid" 2>/dev/null || return 1
		if "$bin" bench options --total 1 --rate 10 --timeout 1s --max-failures 1 "$target" 2>/dev/null |
			grep -q '^SUMMARY .* timeouts=0 '; then
			return 0
		fi
		sleep 1
	done
	return 1
}

start_ours() {
	local port http
	port=$(free_port)
	http=$(free_port)
	rm -rf "$work/data"
	mkdir -p "$work/data"
	local media=()
	# Kamailio relays signalling only: so do we in the call scenario (the
	# relay is measured by --scenario media). A build without --media
	# (before the relay) relays nothing anyway.
	if [[ $scenario == call ]] && "$bin" serve --help 2>/dev/null | grep -q -- '--media '; then
		media=(--media passthrough)
	fi
	setsid "$bin" serve --auth none --listen "udp:127.0.0.1:$port" --data "$work/data" \
		--http "127.0.0.1:$http" --log-level warn "${media[@]}" >"$work/ours.log" 2>&1 &
	server_pid=$!
	pids+=("$server_pid")
	target=127.0.0.1:$port
}

start_kamailio() {
	local port cfg=kamailio.cfg pkg=16
	command -v kamailio >/dev/null || {
		echo "compare.sh: kamailio not installed (apt-get install -y kamailio)" >&2
		return 1
	}
	if [[ $scenario == message ]]; then
		cfg=message.cfg
	fi
	if [[ $scenario == call ]]; then
		cfg=call.cfg
	fi
	if [[ $scenario == presence ]]; then
		# Building NOTIFYs for thousands of watchers takes private memory.
		cfg=presence.cfg pkg=64
		[[ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/presence_xml.so ]] || {
			echo "compare.sh: kamailio presence modules missing (apt-get install -y kamailio-presence-modules)" >&2
			return 1
		}
	fi
	port=$(free_port)
	setsid kamailio -f "$repo/bench/kamailio/$cfg" -DD -E -m 2048 -M "$pkg" \
		-l "udp:127.0.0.1:$port" -P "$work/kamailio.pid" >"$work/kamailio.log" 2>&1 &
	server_pid=$!
	pids+=("$server_pid")
	target=127.0.0.1:$port
}

# start_uas starts the UAS of the message scenario (SIPp answering MESSAGE
# with 200) or of the call scenario (SIPp with call_echo_uas.xml, or with $1 =
# go our own uas-server), on a free loopback port, for the whole run
# (bounded by timeout(1) too), and waits until it listens.
start_uas() {
	local n limit xml=message_echo_uas.xml
	[[ $scenario == call ]] && xml=call_echo_uas.xml
	uas_port=$(free_port)
	IFS=, read -ra n <<<"$rates"
	limit=$((2 * ${#n[@]} * ($(secs "$step") + $(secs "$hold") + 4 * $(secs "$timeout_flag") + 90) + 180))
	if [[ ${1:-sipp} == go ]]; then
		setsid timeout "$limit" "$bin" bench uas-server --listen "127.0.0.1:$uas_port" >"$work/uas.log" 2>&1 &
	else
		command -v sipp >/dev/null || {
			echo "compare.sh: sipp not installed (apt-get install -y sip-tester)" >&2
			exit 1
		}
		setsid timeout "$limit" sipp -sf "$repo/testdata/sipp/$xml" -i 127.0.0.1 -p "$uas_port" \
			-buff_size 4194304 -nostdin >"$work/uas.log" 2>&1 &
	fi
	uas_pid=$!
	uas_addr=127.0.0.1:$uas_port
	pids+=("$uas_pid")
	for _ in $(seq 50); do
		[[ -n $(ss -Hlnu "sport = :$uas_port") ]] && break
		sleep 0.1
	done
	echo "compare.sh: ${1:-sipp} UAS on 127.0.0.1:$uas_port (pid $uas_pid)" >&2
}

stop_server() {
	kill -TERM -- "-$server_pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$server_pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL -- "-$server_pid" 2>/dev/null || true
}

# restart_server NAME: stops the server and starts a new one with no state
# (--fresh).
restart_server() {
	stop_server
	"start_$1" || return 1
	if ! wait_ready "$target" 60 "$server_pid"; then
		echo "compare.sh: $1 is not answering on $target after a restart (log: $work/$1.log)" >&2
		return 1
	fi
	echo "compare.sh: $1 restarted on $target (pid $server_pid)" >&2
}

# run_steps NAME: one generator run per rate against $target; each prints a
# STEP key=value line and leaves its SUMMARY in $out/NAME-RATE.summary.
run_steps() {
	local name=$1 rate limit summary names
	# Presence adds a setup (SUBSCRIBEs) and a wait for the NOTIFYs.
	limit=$(($(secs "$step") + 4 * $(secs "$timeout_flag") + 30))
	[[ $scenario == presence ]] && limit=$((limit + 120))
	[[ $scenario == call ]] && limit=$((limit + $(secs "$hold")))
	IFS=, read -ra rate_list <<<"$rates"
	local first=1
	for rate in "${rate_list[@]}"; do
		if ((fresh && !first)); then
			restart_server "$name" || return 1
		fi
		first=0
		summary=$out/$name-$rate.summary
		# Fresh names per step keep every AOR of the run unique; for
		# presence, old subscriptions then watch presentities no step
		# publishes again, so no NOTIFY goes to a closed socket.
		names=(--user-prefix "r${rate}u")
		[[ $scenario == presence ]] && names=(--presentity-prefix "r${rate}p" --watcher-prefix "r${rate}w")
		# Online recipients at the shared UAS; flags after -- come later
		# and win.
		[[ $scenario == message ]] && names+=(--recipient-prefix "r${rate}m" --to online --uas "${uas_addr:-}")
		[[ $scenario == call ]] && names+=(--callee-prefix "r${rate}c" --uas "$uas_addr" --hold "$hold")
		uas_t0=$(uas_ticks) uas_w0=$(date +%s.%N)
		timeout "$limit" "$bin" bench "$scenario" --rate "$rate" --duration "$step" \
			--timeout "$timeout_flag" --max-failures 1 --target-pid "$server_pid" \
			"${names[@]}" --json "$out/$name-$rate.json" "${extra[@]}" "$target" \
			>"$out/$name-$rate.log" 2>&1 || true
		grep '^SUMMARY ' "$out/$name-$rate.log" >"$summary" || echo "SUMMARY failed=1 error=no_summary" >"$summary"
		echo "STEP server=$name rate=$rate $(kv ok_rate "$summary") $(kv failed "$summary") $(kv timeouts "$summary")" \
			"$(kv retrans_pct "$summary") $(kv p50_ms "$summary") $(kv p99_ms "$summary")" \
			"$(kv target_cpu_avg "$summary") $(kv target_rss_max_mb "$summary")" \
			"$(presence_kv "$summary")$(message_kv "$summary" "$name")$(call_kv "$summary")$(uas_cpu)"
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "compare.sh: $name died at rate $rate (log: $work/$name.log)" >&2
			return 1
		fi
		if [[ -n ${uas_pid:-} ]] && ! kill -0 "$uas_pid" 2>/dev/null; then
			echo "compare.sh: the UAS died at rate $rate (log: $work/uas.log)" >&2
			return 1
		fi
		sleep 1
	done
}

# kv KEY FILE prints KEY=value from a SUMMARY file (KEY=- if absent).
kv() {
	local v
	v=$(grep -o "[[:space:]]$1=[^[:space:]]*" "$2" 2>/dev/null | head -1 | cut -d= -f2)
	echo "$1=${v:--}"
}

val() { kv "$1" "$2" | cut -d= -f2; }

# presence_kv FILE prints the presence keys of a step (nothing for other
# scenarios).
presence_kv() {
	[[ $scenario == presence ]] || return 0
	local k out=()
	for k in subscribe_ok subscribe_failed notify_expected notify_received notify_rate notify_p50_ms \
		notify_p99_ms notify_max_ms bytes_per_sub bytes_per_presentity; do
		out+=("$(kv "$k" "$1")")
	done
	echo "${out[*]}"
}

# uas_ticks prints the CPU ticks (utime+stime) the UAS (SIPp, or our
# uas-server: the child of timeout(1)) has used so far, 0 without one.
uas_ticks() {
	local p
	[[ -n ${uas_pid:-} ]] || { echo 0; return; }
	p=$(pgrep -P "$uas_pid" | head -1)
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/${p:-0}/stat" 2>/dev/null || echo 0
}

# uas_cpu prints " uas_cpu=N", the UAS's CPU in per cent of one core over
# the step just run (setup and drain included), for the message and call
# scenarios.
uas_cpu() {
	[[ -n ${uas_pid:-} ]] || return 0
	awk -v t0="$uas_t0" -v t1="$(uas_ticks)" -v w0="$uas_w0" -v w1="$(date +%s.%N)" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf " uas_cpu=%.1f", 100 * (t1 - t0) / hz / (w1 - w0) }'
}

# message_kv FILE NAME prints the message keys of a step, and for our
# server the size of its data directory (nothing for other scenarios).
message_kv() {
	[[ $scenario == message ]] || return 0
	local k out=()
	for k in p999_ms fail_202 fail_404 fail_405 fail_408 fail_480 fail_503 register_ok register_failed requests_in \
		bytes_per_msg wchar_per_msg write_bytes_per_msg; do
		out+=("$(kv "$k" "$1")")
	done
	[[ $2 == ours ]] && out+=("data_kb=$(du -sk "$work/data" 2>/dev/null | cut -f1)")
	echo "${out[*]}"
}

# call_kv FILE prints the call keys of a step (nothing for other
# scenarios).
call_kv() {
	[[ $scenario == call ]] || return 0
	local k out=()
	for k in call_rate calls_up calls_done invite_failed invite_timeouts bye_failed bye_timeouts invite_p50_ms \
		invite_p90_ms invite_p99_ms invite_max_ms bye_p50_ms bye_p99_ms reack peak_calls sampled_calls mem_before_mb \
		mem_peak_mb bytes_per_call register_ok register_failed invite_fail_404 invite_fail_408 invite_fail_480 \
		invite_fail_486 invite_fail_500 invite_fail_503 gen_cpu_avg; do
		out+=("$(kv "$k" "$1")")
	done
	echo "${out[*]}"
}

servers=()
[[ $only == both || $only == ours ]] && servers+=(ours)
[[ $only == both || $only == kamailio ]] && servers+=(kamailio)
if [[ $scenario == message ]]; then
	offline=0
	for ((i = 0; i < ${#extra[@]}; i++)); do
		[[ ${extra[i]} == --to=offline || ${extra[i]} == --to && ${extra[i + 1]:-} == offline ]] && offline=1
	done
	if ((offline)) && [[ $only != ours ]]; then
		echo "compare.sh: --to offline: Kamailio has no store here (msilo needs a database); ours only" >&2
		servers=()
		[[ $only == both ]] && servers=(ours)
	fi
	case $uas in
	generator) ;;
	sipp) start_uas ;;
	*) echo "compare.sh: --uas $uas is not generator or sipp" >&2; exit 2 ;;
	esac
fi
if [[ $scenario == call ]]; then
	case $uas in
	generator | go) uas=go; start_uas go ;;
	sipp) start_uas sipp ;;
	*) echo "compare.sh: --uas $uas is not go or sipp" >&2; exit 2 ;;
	esac
fi
for name in "${servers[@]}"; do
	"start_$name" || continue
	if ! wait_ready "$target" 60 "$server_pid"; then
		echo "compare.sh: $name is not answering on $target; skipped (log: $work/$name.log)" >&2
		tail -5 "$work/$name.log" >&2 || true
		stop_server
		continue
	fi
	echo "compare.sh: $name ready on $target (pid $server_pid)" >&2
	run_steps "$name" || true
	stop_server
done

# failures = failed + timeouts + throttled of the step.
fails() {
	local f t h
	f=$(val failed "$1") t=$(val timeouts "$1") h=$(val throttled "$1")
	if [[ $f == - || $t == - || $h == - ]]; then
		echo -
		return
	fi
	echo $((f + t + h))
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo
IFS=, read -ra rate_list <<<"$rates"
line="SUMMARY compare scenario=$scenario step=$step"
if [[ $scenario == presence ]]; then
	# PUBLISH/s and its failures, NOTIFY/s (marked NOTIFYs from the first
	# PUBLISH to the last NOTIFY), received/expected NOTIFYs,
	# publish-to-NOTIFY p50/p99.
	printf '%-7s | %-51s | %-51s | %s\n' "" "ours" "kamailio" "ours/kamailio"
	printf '%-7s | %7s %5s %8s %9s %8s %9s | %7s %5s %8s %9s %8s %9s | %6s %6s\n' rate pub/s fail notify/s recv/exp \
		n.p50ms n.p99ms pub/s fail notify/s recv/exp n.p50ms n.p99ms notif/s n.p99
	recv() {
		local r e
		r=$(val notify_received "$1") e=$(val notify_expected "$1")
		[[ $r == - ]] && { echo -; return; }
		echo "$r/$e"
	}
	for rate in "${rate_list[@]}"; do
		o=$out/ours-$rate.summary k=$out/kamailio-$rate.summary
		printf '%-7s | %7s %5s %8s %9s %8s %9s | %7s %5s %8s %9s %8s %9s | %6s %6s\n' "$rate" \
			"$(val ok_rate "$o")" "$(fails "$o")" "$(val notify_rate "$o")" "$(recv "$o")" \
			"$(val notify_p50_ms "$o")" "$(val notify_p99_ms "$o")" \
			"$(val ok_rate "$k")" "$(fails "$k")" "$(val notify_rate "$k")" "$(recv "$k")" \
			"$(val notify_p50_ms "$k")" "$(val notify_p99_ms "$k")" \
			"$(ratio "$(val notify_rate "$o")" "$(val notify_rate "$k")")" \
			"$(ratio "$(val notify_p99_ms "$o")" "$(val notify_p99_ms "$k")")"
		line+=" ok_ratio_$rate=$(ratio "$(val ok_rate "$o")" "$(val ok_rate "$k")")"
		line+=" notify_ratio_$rate=$(ratio "$(val notify_rate "$o")" "$(val notify_rate "$k")")"
	done
	echo "$line"
	echo "results: $out" >&2
	exit 0
fi
if [[ $scenario == message ]]; then
	# MESSAGE/s relayed and answered 200, failures (any other final status
	# or none), retransmissions, p50/p99/p99.9 and the server's CPU.
	# lat KEY FILE: a latency key, "-" when nothing succeeded.
	lat() { if [[ $(val ok "$2") == 0 ]]; then echo -; else val "$1" "$2"; fi; }
	printf '%-7s | %-53s | %-53s | %s\n' "" "ours" "kamailio" "ours/kamailio"
	printf '%-7s | %7s %6s %6s %7s %7s %8s %5s | %7s %6s %6s %7s %7s %8s %5s | %6s %6s\n' rate msg/s fail retr% \
		p50ms p99ms p999ms cpu% msg/s fail retr% p50ms p99ms p999ms cpu% msg/s p99
	for rate in "${rate_list[@]}"; do
		o=$out/ours-$rate.summary k=$out/kamailio-$rate.summary
		printf '%-7s | %7s %6s %6s %7s %7s %8s %5s | %7s %6s %6s %7s %7s %8s %5s | %6s %6s\n' "$rate" \
			"$(val ok_rate "$o")" "$(fails "$o")" "$(val retrans_pct "$o")" "$(lat p50_ms "$o")" "$(lat p99_ms "$o")" \
			"$(lat p999_ms "$o")" "$(val target_cpu_avg "$o")" \
			"$(val ok_rate "$k")" "$(fails "$k")" "$(val retrans_pct "$k")" "$(lat p50_ms "$k")" "$(lat p99_ms "$k")" \
			"$(lat p999_ms "$k")" "$(val target_cpu_avg "$k")" \
			"$(ratio "$(val ok_rate "$o")" "$(val ok_rate "$k")")" "$(ratio "$(lat p99_ms "$o")" "$(lat p99_ms "$k")")"
		line+=" ok_ratio_$rate=$(ratio "$(val ok_rate "$o")" "$(val ok_rate "$k")")"
		line+=" p99_ratio_$rate=$(ratio "$(lat p99_ms "$o")" "$(lat p99_ms "$k")")"
		if [[ -n ${uas_pid:-} ]]; then
			for f in "$o" "$k"; do
				n=$(val requests_in "$f")
				[[ $n == - || $n == 0 ]] ||
					echo "note: $(basename "$f" .summary): $n MESSAGEs went to the generator, not to the SIPp UAS" >&2
			done
		fi
	done
	echo "$line"
	echo "results: $out" >&2
	exit 0
fi
if [[ $scenario == call ]]; then
	# Calls/s set up (INVITE 2xx), failed calls (INVITE or BYE failed or
	# timed out, or throttled), INVITE->200 p50/p99, peak concurrent calls,
	# memory per concurrent call, the server's CPU and RSS.
	cfails() {
		local a b c d h
		a=$(val invite_failed "$1") b=$(val invite_timeouts "$1") c=$(val bye_failed "$1")
		d=$(val bye_timeouts "$1") h=$(val throttled "$1")
		if [[ $a == - || $b == - || $c == - || $d == - || $h == - ]]; then
			echo -
			return
		fi
		echo $((a + b + c + d + h))
	}
	clat() { if [[ $(val calls_up "$2") == 0 ]]; then echo -; else val "$1" "$2"; fi; }
	cols() {
		printf '%7s %6s %8s %8s %6s %7s %5s %6s' "$(val call_rate "$1")" "$(cfails "$1")" "$(clat invite_p50_ms "$1")" \
			"$(clat invite_p99_ms "$1")" "$(val peak_calls "$1")" "$(val bytes_per_call "$1")" \
			"$(val target_cpu_avg "$1")" "$(val target_rss_max_mb "$1")"
	}
	printf '%-7s | %-61s | %-61s | %s\n' "" "ours" "kamailio" "ours/kamailio"
	printf '%-7s | %7s %6s %8s %8s %6s %7s %5s %6s | %7s %6s %8s %8s %6s %7s %5s %6s | %6s %6s\n' rate calls/s fail \
		inv.p50 inv.p99 peak B/call cpu% rssMB calls/s fail inv.p50 inv.p99 peak B/call cpu% rssMB calls/s p99
	for rate in "${rate_list[@]}"; do
		o=$out/ours-$rate.summary k=$out/kamailio-$rate.summary
		printf '%-7s | %s | %s | %6s %6s\n' "$rate" "$(cols "$o")" "$(cols "$k")" \
			"$(ratio "$(val call_rate "$o")" "$(val call_rate "$k")")" \
			"$(ratio "$(clat invite_p99_ms "$o")" "$(clat invite_p99_ms "$k")")"
		line+=" call_ratio_$rate=$(ratio "$(val call_rate "$o")" "$(val call_rate "$k")")"
		line+=" p99_ratio_$rate=$(ratio "$(clat invite_p99_ms "$o")" "$(clat invite_p99_ms "$k")")"
	done
	echo "$line hold=$hold uas=$uas"
	echo "results: $out" >&2
	exit 0
fi
printf '%-7s | %-44s | %-44s | %s\n' "" "ours" "kamailio" "ours/kamailio"
printf '%-7s | %8s %8s %7s %8s %8s | %8s %8s %7s %8s %8s | %6s %6s\n' rate ok/s fail retr% p50ms p99ms \
	ok/s fail retr% p50ms p99ms ok/s p99
for rate in "${rate_list[@]}"; do
	o=$out/ours-$rate.summary k=$out/kamailio-$rate.summary
	printf '%-7s | %8s %8s %7s %8s %8s | %8s %8s %7s %8s %8s | %6s %6s\n' "$rate" \
		"$(val ok_rate "$o")" "$(fails "$o")" "$(val retrans_pct "$o")" "$(val p50_ms "$o")" "$(val p99_ms "$o")" \
		"$(val ok_rate "$k")" "$(fails "$k")" "$(val retrans_pct "$k")" "$(val p50_ms "$k")" "$(val p99_ms "$k")" \
		"$(ratio "$(val ok_rate "$o")" "$(val ok_rate "$k")")" "$(ratio "$(val p99_ms "$o")" "$(val p99_ms "$k")")"
	line+=" ok_ratio_$rate=$(ratio "$(val ok_rate "$o")" "$(val ok_rate "$k")")"
done
echo "$line"
echo "results: $out" >&2
