# script-lib.sh: what compare.sh and media-compare.sh share (sourced, not
# run). The caller sets $script (its name, for messages) and $out (a
# results directory, or empty for one under the work directory).

# start_work makes the run's work directory ($work, named after prefix),
# the results directory ($out) and the list of process groups to stop on
# exit ($pids: each server leads its own process group, started with
# setsid), and arranges that they are stopped, TERM then KILL, however the
# script ends.
start_work() {
	work=$(mktemp -d "/tmp/$1.XXXXXX")
	out=${out:-$work/results}
	mkdir -p "$out"
	pids=()
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM -- "-$p" 2>/dev/null || true
	done
	sleep 1
	for p in "${pids[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null || true
	done
	[[ $out == "$work"/* ]] || rm -rf "$work"
}

# secs turns a duration into whole seconds: 5s -> 5, 1500ms -> 2 (rounded
# up), 2m -> 120.
secs() {
	local v=$1
	case "$v" in
	*ms) echo $(((${v%ms} + 999) / 1000)) ;;
	*m) echo $((${v%m} * 60)) ;;
	*s) echo "${v%s}" ;;
	*) echo "$v" ;;
	esac
}

# free_port [LO [SPAN]] prints a loopback port in [LO, LO+SPAN) that no UDP
# or TCP socket uses (default 20000-59999).
free_port() {
	local lo=${1:-20000} span=${2:-40000} p
	for _ in $(seq 50); do
		p=$((lo + RANDOM % span))
		if [[ -z $(ss -Hlnu "sport = :$p") && -z $(ss -Hlnt "sport = :$p") ]]; then
			echo "$p"
			return
		fi
	done
	echo "$script: no free port" >&2
	exit 1
}
