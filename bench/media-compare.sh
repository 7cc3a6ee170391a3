#!/usr/bin/env bash
# media-compare.sh: the media scenario side by side, what `compare.sh
# --scenario media` runs. For each rate (packets/s = calls x 2 streams x
# pps) it runs, one after the other and never two at once:
#   direct     the peers send straight to each other (the baseline)
#   ours       calls through our server with --media relay (--control sip)
#   rtpengine  rtpengine in userspace (--table=-1), driven over ng
# and prints one table: packets/s relayed, loss, latency added to the
# direct run's p50/p99, the relay's CPU (and per 1,000 packets/s) and our
# allocations per packet. Clean = loss < 0.1 %.
#
#   bench/media-compare.sh [--rates 10000,50000] [--step 10s] [--pps 50]
#                          [--srtp none|a|b] [--only all|direct|ours|rtpengine]
#                          [--out DIR] [-- extra flags for b2bua bench media]
#
# Our server runs as
#   b2bua serve --auth none --listen udp:127.0.0.1:PORT --http 127.0.0.1:PORT2 --data DIR
#       --media relay --rtp-ports 16000-39999 --media-address 127.0.0.1 --srtp MODE
# (a range of 12,000 pairs: each call takes two, and a released pair rests
# 30 s before reuse, so a sweep's later steps need room beside the pairs
# its earlier steps left in quarantine) with MODE rtp for --srtp a (the caller's leg SRTP, the callee's plain),
# srtp for --srtp b, mirror for none; its allocations come from
# http://127.0.0.1:PORT2/metrics. A build without --media is skipped.
# rtpengine (Debian rtpengine-daemon, installed with apt-get when missing)
# runs as
#   rtpengine --config-file=none --table=-1 --interface=127.0.0.1
#       --listen-ng=127.0.0.1:PORT --port-min=40000 --port-max=63999 --foreground
# with no kernel module: userspace forwarding only. Both relays stay up for
# the whole run (idle when not measured) so that every step compares the
# three paths within a minute. Every generator run is wrapped in timeout(1).
set -euo pipefail

rates=10000,50000
step=10s
pps=50
srtp=none
only=all
out=""
extra=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	--scenario) shift 2 ;; # from compare.sh
	--rates) rates=$2; shift 2 ;;
	--step) step=$2; shift 2 ;;
	--pps) pps=$2; shift 2 ;;
	--srtp) srtp=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--timeout | --uas | --hold) shift 2 ;; # compare.sh flags that mean nothing here
	--) shift; extra=("$@"); break ;;
	-h | --help) sed -n '2,31p' "$0"; exit 0 ;;
	*) echo "media-compare.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
case $srtp in none | a | b) ;; *) echo "media-compare.sh: --srtp none, a or b" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)

script=media-compare.sh
# shellcheck source=bench/script-lib.sh
. "$repo/bench/script-lib.sh"
start_work b2bua-media

bin=$work/b2bua
echo "building $bin" >&2
(cd "$repo" && go build -o "$bin" ./cmd/b2bua)

IFS=, read -ra rate_list <<<"$rates"
max_calls=0
for rate in "${rate_list[@]}"; do
	c=$(((rate + 2 * pps - 1) / (2 * pps)))
	((c > max_calls)) && max_calls=$c
done
runs=(direct)
[[ $only == all || $only == ours ]] && runs+=(ours)
[[ $only == all || $only == rtpengine ]] && runs+=(rtpengine)
[[ $only == direct ]] && runs=(direct)

ours_pid="" rtpe_pid=""
start_ours() {
	local port http srtp_mode=mirror
	if ! "$bin" serve --help 2>/dev/null | grep -q -- '--media '; then
		echo "media-compare.sh: this build's serve has no --media: ours skipped" >&2
		return 1
	fi
	[[ $srtp == a ]] && srtp_mode=rtp
	[[ $srtp == b ]] && srtp_mode=srtp
	port=$(free_port 10000 6000) http=$(free_port 10000 6000)
	mkdir -p "$work/data"
	setsid "$bin" serve --auth none --listen "udp:127.0.0.1:$port" --data "$work/data" --http "127.0.0.1:$http" \
		--log-level warn --media relay --rtp-ports 16000-39999 --media-address 127.0.0.1 --srtp "$srtp_mode" \
		>"$work/ours.log" 2>&1 &
	ours_pid=$!
	pids+=("$ours_pid")
	ours_target=127.0.0.1:$port ours_metrics=http://127.0.0.1:$http/metrics
	for _ in $(seq 60); do
		kill -0 "$ours_pid" 2>/dev/null || break
		if "$bin" bench options --total 1 --rate 10 --timeout 1s --max-failures 1 "$ours_target" 2>/dev/null |
			grep -q '^SUMMARY .* timeouts=0 '; then
			echo "media-compare.sh: ours ready on $ours_target (pid $ours_pid)" >&2
			return 0
		fi
		sleep 1
	done
	echo "media-compare.sh: ours not answering (log: $work/ours.log); skipped" >&2
	tail -5 "$work/ours.log" >&2 || true
	return 1
}

start_rtpengine() {
	local port
	if ! command -v rtpengine >/dev/null; then
		echo "media-compare.sh: installing rtpengine-daemon" >&2
		timeout 600 apt-get install -y rtpengine-daemon >"$work/apt.log" 2>&1 || {
			echo "media-compare.sh: apt-get install -y rtpengine-daemon failed (log: $work/apt.log); rtpengine skipped" >&2
			return 1
		}
	fi
	port=$(free_port 10000 6000)
	# Userspace only: --table=-1 needs no kernel module (xt_RTPENGINE).
	setsid rtpengine --config-file=none --table=-1 --interface=127.0.0.1 --listen-ng="127.0.0.1:$port" \
		--port-min=40000 --port-max=63999 --foreground --log-stderr --log-level=4 >"$work/rtpengine.log" 2>&1 &
	rtpe_pid=$!
	pids+=("$rtpe_pid")
	rtpe_target=127.0.0.1:$port
	for _ in $(seq 50); do
		[[ -n $(ss -Hlnu "sport = :$port") ]] && {
			echo "media-compare.sh: rtpengine ng on $rtpe_target (pid $rtpe_pid)" >&2
			return 0
		}
		kill -0 "$rtpe_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "media-compare.sh: rtpengine did not start (log: $work/rtpengine.log); skipped" >&2
	tail -5 "$work/rtpengine.log" >&2 || true
	return 1
}

[[ " ${runs[*]} " == *" ours "* ]] && { start_ours || ours_pid=""; }
[[ " ${runs[*]} " == *" rtpengine "* ]] && { start_rtpengine || rtpe_pid=""; }

# kv KEY FILE prints KEY=value from a SUMMARY file (KEY=- if absent).
kv() {
	local v
	v=$(grep -o "[[:space:]]$1=[^[:space:]]*" "$2" 2>/dev/null | head -1 | cut -d= -f2)
	echo "$1=${v:--}"
}
val() { kv "$1" "$2" | cut -d= -f2; }

# run_one NAME STEP RATE CALLS: one generator run; its SUMMARY goes to
# $out/NAME-STEP-RATE.summary (a rate may repeat) and a STEP line to stdout.
run_one() {
	local name=$1 i=$2 rate=$3 calls=$4 args limit summary
	summary=$out/$name-$i-$rate.summary
	limit=$(($(secs "$step") + 60 + calls / 50))
	case $name in
	direct) args=(--control direct) ;;
	ours)
		[[ -n $ours_pid ]] || return 0
		args=(--control sip --srtp "$srtp" --server-pid "$ours_pid" --metrics "$ours_metrics"
			--callee-prefix "s${i}r${rate}c" --caller-prefix "s${i}r${rate}u" "$ours_target")
		;;
	rtpengine)
		[[ -n $rtpe_pid ]] || return 0
		args=(--control ng --srtp "$srtp" --server-pid "$rtpe_pid" "$rtpe_target")
		;;
	esac
	timeout "$limit" "$bin" bench media --calls "$calls" --pps "$pps" --duration "$step" \
		--json "$out/$name-$i-$rate.json" "${extra[@]}" "${args[@]}" >"$out/$name-$i-$rate.log" 2>&1 || true
	grep '^SUMMARY ' "$out/$name-$i-$rate.log" >"$summary" || {
		echo "SUMMARY error=no_summary" >"$summary"
		echo "media-compare.sh: $name at $rate: no summary (log: $out/$name-$i-$rate.log)" >&2
		tail -3 "$out/$name-$i-$rate.log" >&2 || true
	}
	local k line="STEP run=$name step=$i rate=$rate calls=$calls"
	for k in recv_rate loss_pct p50_us p99_us max_us relay_cpu cpu_per_kpps allocs_per_pkt allocs_per_pkt_net \
		allocs_idle_per_s gen_cpu send_behind_ms \
		rcvbuf_errors misrouted decrypt_errors clean; do
		line+=" $(kv "$k" "$summary")"
	done
	echo "$line"
	if [[ $name == ours && -n $ours_pid ]] && ! kill -0 "$ours_pid" 2>/dev/null; then
		echo "media-compare.sh: ours died at $rate (log: $work/ours.log)" >&2
		ours_pid=""
	fi
	if [[ $name == rtpengine && -n $rtpe_pid ]] && ! kill -0 "$rtpe_pid" 2>/dev/null; then
		echo "media-compare.sh: rtpengine died at $rate (log: $work/rtpengine.log)" >&2
		rtpe_pid=""
	fi
	sleep 1
}

i=0
for rate in "${rate_list[@]}"; do
	i=$((i + 1))
	calls=$(((rate + 2 * pps - 1) / (2 * pps)))
	for name in "${runs[@]}"; do
		run_one "$name" "$i" "$rate" "$calls"
	done
done

# added KEY STEP-RATE FILE: the relay's KEY minus the direct run's of the step.
added() {
	local d
	d=$out/direct-$2.summary
	awk -v a="$(val "$1" "$3")" -v b="$(val "$1" "$d")" \
		'BEGIN { if (a == "-" || b == "-" || a == "" || b == "") print "-"; else printf "%.1f", a - b }'
}
# relay_cols NAME STEP-RATE: pps, loss, clean, added p50/p99, cpu, cpu/kpps, allocs.
relay_cols() {
	local f=$out/$1-$2.summary
	printf '%8s %7s %3s %7s %8s %6s %6s %7s' "$(val recv_rate "$f" | cut -d. -f1)" "$(val loss_pct "$f")" \
		"$( [[ $(val clean "$f") == true ]] && echo ok || echo -)" "$(added p50_us "$2" "$f")" \
		"$(added p99_us "$2" "$f")" "$(val relay_cpu "$f" | cut -d. -f1)" "$(val cpu_per_kpps "$f")" \
		"$(val allocs_per_pkt_net "$f")"
}
echo
echo "srtp=$srtp pps=$pps step=$step; latency in µs; +p50/+p99 added to the direct run; cpu in % of one core"
printf '%-7s | %-26s | %-63s | %-63s\n' "" "direct" "ours (sip, --media relay)" "rtpengine (ng, userspace)"
hdr='%8s %7s %3s %7s %8s %6s %6s %7s'
printf "%-7s | %8s %7s %9s | $hdr | $hdr\n" rate pps loss% p50/p99 \
	pps loss% ok +p50 +p99 cpu cpu/k al/pkt pps loss% ok +p50 +p99 cpu cpu/k al/pkt
line="SUMMARY compare scenario=media srtp=$srtp pps=$pps step=$step"
i=0
for rate in "${rate_list[@]}"; do
	i=$((i + 1))
	d=$out/direct-$i-$rate.summary
	printf "%-7s | %8s %7s %9s | %s | %s\n" "$rate" "$(val recv_rate "$d" | cut -d. -f1)" "$(val loss_pct "$d")" \
		"$(val p50_us "$d" | cut -d. -f1)/$(val p99_us "$d" | cut -d. -f1)" \
		"$(relay_cols ours "$i-$rate")" "$(relay_cols rtpengine "$i-$rate")"
	# Keys end in _RATE, or _RATE_STEP for a rate seen before.
	sfx=$rate
	[[ " ${seen:-} " == *" $rate "* ]] && sfx=${rate}_$i
	seen="${seen:-} $rate"
	for n in ours rtpengine; do
		f=$out/$n-$i-$rate.summary
		line+=" ${n}_pps_$sfx=$(val recv_rate "$f") ${n}_loss_$sfx=$(val loss_pct "$f")"
		line+=" ${n}_add_p50_$sfx=$(added p50_us "$i-$rate" "$f") ${n}_add_p99_$sfx=$(added p99_us "$i-$rate" "$f")"
	done
done
echo "$line"
echo "results: $out" >&2
