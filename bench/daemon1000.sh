#!/usr/bin/env bash
# Row 9 of the benchmark (issue 7): 1,000 accounts, each with a few messages,
# keep mode, under `fetchd run` on a 30 s schedule for about 2 minutes. Reports
# whether every account was polled on time (from the poll history that
# `fetchd status --json` reads from the state store after the daemon stopped),
# and the daemon's peak RSS (VmHWM) and CPU time from /proc.
#
#   bench/daemon1000.sh [--quick] [--accounts N] [--duration SECONDS] [--fragment FILE]
#                       [--dovecot-dir DIR --bin DIR]
#
#   --quick        50 accounts, a 10 s schedule, 25 s (the CI smoke size)
#   --fragment F   write the markdown section for docs/BENCHMARKS.md to F
#   --dovecot-dir  use the Dovecot bench/run.sh started there (DIR/env), with
#   --bin          the tools it built; without them this script builds its own
#                  and starts its own Dovecot (ports 12110/12995/12024)
# Exits 1 if a poll failed, an account was never polled, or a message was not
# delivered exactly once; an account polled late is reported (in the fragment
# and on stderr), not an error: how late depends on the machine's load.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

QUICK=0 ACCOUNTS="" DURATION="" FRAGMENT="" DOVECOT_DIR="" BIN="" PER=3
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--accounts) ACCOUNTS=${2:?} && shift ;;
	--duration) DURATION=${2:?} && shift ;;
	--fragment) FRAGMENT=${2:?} && shift ;;
	--dovecot-dir) DOVECOT_DIR=${2:?} && shift ;;
	--bin) BIN=${2:?} && shift ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done
[[ $(id -u) -eq 0 ]] || die "run as root"
if ((QUICK)); then
	ACCOUNTS=${ACCOUNTS:-50} DURATION=${DURATION:-25} INTERVAL=10
else
	ACCOUNTS=${ACCOUNTS:-1000} DURATION=${DURATION:-120} INTERVAL=30
fi
WORK=${FETCHD_BENCH_DAEMON_WORK:-/tmp/fetchd-bench-daemon}
LISTEN_PORT=${FETCHD_BENCH_METRICS_PORT:-12467}
OWN_DOVECOT=0
FETCHD_PID=""
C_HOME=$WORK/c/d9-fetchd C_MAILDIR=$WORK/c/d9-fetchd/Maildir
cleanup() {
	local rc=$?
	set +e
	if [[ -n $FETCHD_PID ]] && kill -0 "$FETCHD_PID" 2>/dev/null; then
		kill -TERM "$FETCHD_PID"
		wait "$FETCHD_PID" 2>/dev/null
	fi
	((OWN_DOVECOT)) && "$REPO/scripts/dovecot.sh" stop "$WORK/dovecot" >/dev/null 2>&1
	rm -rf "$WORK/c" "$WORK/cache"
	[[ -n ${servers_root:-} ]] && rm -rf "$servers_root"/d9-* 2>/dev/null
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_packages
ensure_bench_user
rm -rf "$WORK/c" "$WORK/cache"
mkdir -p "$WORK/c" "$WORK/logs"
chmod 755 "$WORK" "$WORK/c"
if [[ -z $DOVECOT_DIR ]]; then
	export FETCHD_DOVECOT_POP3_PORT=${FETCHD_DOVECOT_POP3_PORT:-12110}
	export FETCHD_DOVECOT_POP3S_PORT=${FETCHD_DOVECOT_POP3S_PORT:-12995}
	export FETCHD_DOVECOT_LMTP_PORT=${FETCHD_DOVECOT_LMTP_PORT:-12024}
	BIN=$WORK/bin
	build_tools "$BIN"
	OWN_DOVECOT=1
	start_dovecot "$WORK/dovecot"
else
	[[ -n $BIN ]] || die "--dovecot-dir needs --bin"
	set -a
	# shellcheck disable=SC1091
	. "$DOVECOT_DIR/env"
	set +a
	MAIL_UID=$FETCHD_DOVECOT_UID MAIL_GID=$FETCHD_DOVECOT_GID
fi
servers_root=$FETCHD_DOVECOT_HOME

say "daemon row: $ACCOUNTS accounts × $PER messages, keep mode, every ${INTERVAL}s for ${DURATION}s"
CACHE=$WORK/cache/d9
"$BIN/corpus" gen -out "$CACHE" -kind small -n "$((ACCOUNTS * PER))" -seed 9 -size 4096 -uid "$MAIL_UID" -gid "$MAIL_GID" >&2
chmod 755 "$WORK/cache" "$CACHE" "$CACHE/msgs"
servers=()
C_USERS=()
for ((i = 1; i <= ACCOUNTS; i++)); do
	u=$(printf 'd9-%04d' "$i")
	C_USERS+=("$u")
	servers+=("$servers_root/$u/Maildir")
done
"$BIN/corpus" seed -cache "$CACHE" -uid "$MAIL_UID" -gid "$MAIL_GID" "${servers[@]}"

mkdir -p "$C_MAILDIR"/{cur,new,tmp} "$C_HOME/run"
conf=$C_HOME/fetchd.toml
{
	echo "state = \"$C_HOME/state/fetchd.db\""
	echo 'log_level = "warn"'
	echo "listen = \"127.0.0.1:$LISTEN_PORT\""
	i=0
	for u in "${C_USERS[@]}"; do
		i=$((i + 1))
		echo
		echo '[[account]]'
		echo "name = \"a$i\""
		echo 'server = "127.0.0.1"'
		echo "port = ${FETCHD_DOVECOT_POP3##*:}"
		echo 'tls = "none"'
		echo 'allow_insecure = true'
		echo "user = \"$u\""
		echo "password = \"$PASSWORD\""
		echo 'keep = true'
		echo "schedule = \"@every ${INTERVAL}s\""
		echo '[[account.deliver]]'
		echo "maildir = \"$C_MAILDIR\""
	done
} >"$conf"
chmod 600 "$conf"
chown -R "$BU:$BG" "$C_HOME"
bench_prefix
LOG=$WORK/logs/daemon1000.log

say "starting fetchd run (log $LOG)"
t0=$(date +%s)
"${AS_BENCH[@]}" XDG_RUNTIME_DIR="$C_HOME/run" "$BIN/fetchd" run -c "$conf" >"$LOG" 2>&1 &
FETCHD_PID=$!
sleep "$DURATION"
kill -0 "$FETCHD_PID" 2>/dev/null || die "fetchd run exited early: $(tail -n 20 "$LOG")"
curl -fsS "http://127.0.0.1:$LISTEN_PORT/metrics" >"$WORK/logs/daemon1000.metrics" ||
	say "warning: could not read /metrics"
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$FETCHD_PID/status")
read -r utime stime < <(awk '{print $14, $15}' "/proc/$FETCHD_PID/stat")
tck=$(getconf CLK_TCK)
t1=$(date +%s)
kill -TERM "$FETCHD_PID"
rc=0
wait "$FETCHD_PID" || rc=$?
FETCHD_PID=""
((rc == 0)) || say "warning: fetchd run exited $rc after SIGTERM"

"${AS_BENCH[@]}" "$BIN/fetchd" status --json -c "$conf" >"$WORK/logs/daemon1000.status.json" 2>>"$LOG" ||
	die "fetchd status --json failed: $(tail -n 5 "$LOG")"
ok=1 crc=0
check=$("$BIN/daemoncheck" -status "$WORK/logs/daemon1000.status.json" -start "$t0" -end "$t1" \
	-interval "${INTERVAL}s" -allow 5s) || crc=$?
((crc == 0 || crc == 3)) || ok=0 # 3: polled late, every poll worked
verdict=$("$BIN/verify" -cache "$CACHE" -got "$C_MAILDIR" -mode keep "${servers[@]}") || ok=0
cpu=$(awk -v u="$utime" -v s="$stime" -v t="$tck" 'BEGIN {printf "%.2f", (u+s)/t}')
polls=$(awk '/^fetchd_polls_total\{/ {s+=$NF} END {print s+0}' "$WORK/logs/daemon1000.metrics" 2>/dev/null || echo "?")
skipped=$(awk '/^fetchd_polls_skipped_total\{/ {s+=$NF} END {print s+0}' "$WORK/logs/daemon1000.metrics" 2>/dev/null || echo "?")
errors=$(grep -c ' ERR ' "$LOG" || true)
md=$(
	echo "## Row 9: $ACCOUNTS accounts under \`fetchd run\`, keep mode, every ${INTERVAL} s, for $((t1 - t0)) s"
	echo
	echo "bench/daemon1000.sh$( ((QUICK)) && echo " --quick"): $ACCOUNTS accounts on one Dovecot with $PER small messages each, RTT 0, default \`max_parallel\` and \`max_per_server\`; each \`@every\` account has a fixed place in the interval, from a hash of its name."
	echo
	echo "$check"
	echo "- fetchd: peak RSS (VmHWM) $(awk -v k="$hwm" 'BEGIN {printf "%.1f MiB", k/1024}'), CPU $cpu s (user+sys) over the whole run; /metrics counted $polls polls and $skipped skipped turns; $errors error lines in its log."
	echo "- Delivery: $verdict"
	((ok)) || echo "- **FAILED**"
)
echo "$md" >&2
[[ -z $FRAGMENT ]] || echo "$md" >"$FRAGMENT"
((ok)) || exit 1
