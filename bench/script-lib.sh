# script-lib.sh: what compare.sh and media-compare.sh share (sourced, not
# run). The caller sets $script (its name, for messages).

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
