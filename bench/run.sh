#!/usr/bin/env bash
# The side-by-side benchmark of fetchd against mpop, fdm, fetchmail and getmail6
# (issue 7): one command reproduces every row of docs/BENCHMARKS.md.
#
#   bench/run.sh [--quick] [--runs N] [--slow-runs N] [--rows LIST] [--clients LIST] [--out FILE]
#
#   --quick         the CI smoke size: tiny corpora, 1 run, every row and client;
#                   checks delivery only, writes its report under the work dir
#                   (docs/BENCHMARKS.md only with --out)
#   --runs N        measured runs per client and row (default 3; median reported)
#   --slow-runs N   runs for the peers that fork a process per message (fdm,
#                   fetchmail with procmail, getmail): minutes per run on the
#                   big rows where process creation is slow (default: --runs)
#   --rows LIST     e.g. "1,3,9" (default: 1-9; 9 is bench/daemon1000.sh)
#   --clients LIST  e.g. "fetchd,mpop" (default: fetchd,mpop,fdm,fetchmail,getmail)
#   --out FILE      the report (default docs/BENCHMARKS.md); the raw numbers of
#                   every run go beside it, in benchmarks-raw.tsv
#   --report-only   write the report again from the raw numbers and the work
#                   dir's notes of the last run, measuring nothing
#
# Runs as root on Debian 12: installs missing peers with apt-get, starts a
# private Dovecot (scripts/dovecot.sh) on ports 12110/12995/12024 and the delay
# proxy on 12111, runs each client as the unprivileged user fetchd-bench, and
# stops everything on exit. Work files go to $FETCHD_BENCH_WORK (default
# /tmp/fetchd-bench, or /tmp/fetchd-bench-quick). Exits 1 if any client failed
# to deliver every message exactly once (or left the server in the wrong state).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

QUICK=0 REPORT_ONLY=0 RUNS="" SLOW_RUNS="" ROWS="1,2,3,4,5,6,7,8,9" CLIENTS="fetchd,mpop,fdm,fetchmail,getmail" OUT=""
ARGS="$*"
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--report-only) REPORT_ONLY=1 ;;
	--runs) RUNS=${2:?--runs needs a number} && shift ;;
	--slow-runs) SLOW_RUNS=${2:?--slow-runs needs a number} && shift ;;
	--rows) ROWS=${2:?--rows needs a list} && shift ;;
	--clients) CLIENTS=${2:?--clients needs a list} && shift ;;
	--out) OUT=${2:?--out needs a file} && shift ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done
[[ $(id -u) -eq 0 ]] || die "run as root: it installs packages, starts Dovecot and runs clients as $BENCH_USER"
if ((QUICK)); then
	RUNS=${RUNS:-1}
	WORK=${FETCHD_BENCH_WORK:-/tmp/fetchd-bench-quick}
	OUT=${OUT:-$WORK/BENCHMARKS.md}
else
	RUNS=${RUNS:-3}
	WORK=${FETCHD_BENCH_WORK:-/tmp/fetchd-bench}
	OUT=${OUT:-$REPO/docs/BENCHMARKS.md}
fi
SLOW_RUNS=${SLOW_RUNS:-$RUNS}
[[ $RUNS =~ ^[1-9][0-9]*$ && $SLOW_RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs and --slow-runs take a positive number"
ROWS=" ${ROWS//,/ } " CLIENTS=" ${CLIENTS//,/ } "
for c in $CLIENTS; do
	[[ $c =~ ^(fetchd|mpop|fdm|fetchmail|getmail)$ ]] || die "unknown client $c"
done
for r in $ROWS; do
	[[ $r =~ ^[1-9]$ ]] || die "unknown row $r (1-9)"
done
OUT=$(realpath -m "$OUT")
mkdir -p "$(dirname "$OUT")" || die "cannot create the directory of $OUT"
RAW=$(dirname "$OUT")/$(basename "$OUT" .md | tr '[:upper:]' '[:lower:]')-raw.tsv
[[ $RAW != "$OUT" ]] || RAW=$OUT.raw.tsv

export FETCHD_DOVECOT_POP3_PORT=${FETCHD_DOVECOT_POP3_PORT:-12110}
export FETCHD_DOVECOT_POP3S_PORT=${FETCHD_DOVECOT_POP3S_PORT:-12995}
export FETCHD_DOVECOT_LMTP_PORT=${FETCHD_DOVECOT_LMTP_PORT:-12024}
PROXY_PORT=${FETCHD_BENCH_PROXY_PORT:-12111}
START=$SECONDS

BIN=$WORK/bin CACHE=$WORK/cache LOGS=$WORK/logs DOVECOT_DIR=$WORK/dovecot
ROWSFILE=$WORK/rows.tsv FACTS=$WORK/facts.md

# write_report writes $OUT from $RAW and the notes of the run in $WORK.
write_report() {
	local daemon_md=""
	[[ -s $WORK/daemon1000.md ]] && daemon_md=$WORK/daemon1000.md
	local cmd quick=0
	cmd=$(cat "$WORK/cmdline")
	[[ $cmd == *--quick* ]] && quick=1
	"$BIN/report" -raw "$RAW" -rows "$ROWSFILE" -facts "$FACTS" -daemon "$daemon_md" -cmd "$cmd" -quick="$quick" >"$OUT.tmp"
	mv "$OUT.tmp" "$OUT"
}
if ((REPORT_ONLY)); then
	for f in "$RAW" "$ROWSFILE" "$FACTS" "$WORK/cmdline"; do
		[[ -s $f ]] || die "--report-only: $f is missing: run bench/run.sh first"
	done
	(cd "$REPO" && go build -o "$BIN/" ./bench/report) || die "go build ./bench/report failed"
	write_report
	say "wrote $OUT from $RAW"
	exit 0
fi
PROXY_PID=""
cleanup() {
	local rc=$?
	set +e
	if [[ -n $PROXY_PID ]]; then
		kill "$PROXY_PID" 2>/dev/null
		wait "$PROXY_PID" 2>/dev/null
	fi
	"$REPO/scripts/dovecot.sh" stop "$DOVECOT_DIR" >/dev/null 2>&1
	rm -rf "$WORK/c" "$CACHE" "$DOVECOT_DIR/home"
	((rc == 0)) || say "exit status $rc; logs in $LOGS"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "work dir $WORK, report $OUT, raw numbers $RAW, runs $RUNS (fdm, fetchmail, getmail: $SLOW_RUNS)"
ensure_packages
ensure_bench_user
rm -rf "$WORK/c" "$CACHE" "$LOGS" "$DOVECOT_DIR/home"
mkdir -p "$WORK" "$LOGS" "$WORK/c"
chmod 755 "$WORK" "$WORK/c"
build_tools "$BIN"
# What was built, now: others may commit while the benchmark runs.
if [[ -n ${FETCHD_BENCH_FETCHD:-} ]]; then
	commit="the binary $FETCHD_BENCH_FETCHD"
else
	commit="commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	if [[ -n $(git -C "$REPO" status --porcelain -- cmd internal go.mod go.sum 2>/dev/null) ]]; then
		commit="$commit with uncommitted changes under cmd/ or internal/"
	fi
	commit="$commit (the work tree at $(date -u +%H:%M) UTC)"
fi
start_dovecot "$DOVECOT_DIR"
start_proxy "$BIN" "$PROXY_PORT" "$FETCHD_DOVECOT_POP3" 10ms "$LOGS/delayproxy.log"
say "delay proxy on 127.0.0.1:$PROXY_PORT (10 ms each way) -> $FETCHD_DOVECOT_POP3"
PLAIN_PORT=${FETCHD_DOVECOT_POP3##*:} TLS_PORT=${FETCHD_DOVECOT_POP3S##*:}

# What a process creation costs here: the peers that fork per message pay it.
SPAWN_MS=$( { TIMEFORMAT=%R; time (for ((i = 0; i < 200; i++)); do /bin/true; done); } 2>&1 | awk '{printf "%.1f", $1 * 1000 / 200}')
say "process creation: $SPAWN_MS ms per fork+exec+wait"

# Corpus sizes: full, or --quick.
if ((QUICK)); then
	N1=50 N2=50 N3=50 N4=20 N5=50 N6=30 BIG6=2000000,3000000 ACC7=5 PER7=10
else
	N1=2000 N2=10000 N3=500 N4=50 N5=10000 N6=200 BIG6=22000000,27000000 ACC7=200 PER7=20
fi

# gen NAME ARGS...: generate a corpus into the cache (once per invocation).
gen() {
	local name=$1
	shift
	say "generating corpus $name"
	"$BIN/corpus" gen -out "$CACHE/$name" -uid "$MAIL_UID" -gid "$MAIL_GID" "$@" >&2
	chmod 755 "$CACHE" "$CACHE/$name" "$CACHE/$name/msgs"
}
# describe NAME: "2,016 messages, 124.3 MB"
describe() {
	awk -F'\t' '{n++; s+=$3} END {printf "%\047d messages, %.1f MB\n", n, s/1e6}' "$CACHE/$1/manifest"
}
mkdir -p "$CACHE"
has_row() { [[ $ROWS == *" $1 "* ]]; }
{ has_row 1 || has_row 8; } && gen mix1 -kind mix -n "$N1" -seed 1 -tricky
{ has_row 2 || has_row 5; } && gen small -kind small -n "$((N2 > N5 ? N2 : N5))" -seed 2 -size 8192
has_row 3 && gen mix3 -kind mix -n "$N3" -seed 3 -tricky
has_row 4 && gen mix4 -kind mix -n "$N4" -seed 4 -tricky
has_row 6 && gen big6 -kind mix -n "$N6" -seed 6 -tricky -big "$BIG6"
has_row 6 && gen nobig6 -kind mix -n "$N6" -seed 6 -tricky
has_row 7 && gen acc7 -kind small -n "$((ACC7 * PER7))" -seed 7 -size 8192

printf 'row\tclient\trun\twall_s\tuser_s\tsys_s\tmaxrss_kb\texit\tverify\tload1\n' >"$RAW.tmp"
: >"$ROWSFILE"
rm -f "$WORK/daemon1000.md"
echo "bench/run.sh${ARGS:+ $ARGS}" >"$WORK/cmdline"
FAILED=0

# runs_for ROW CLIENT: how many measured runs.
runs_for() {
	case "$2" in
	fdm | fetchmail | getmail) echo "$SLOW_RUNS" ;;
	*) echo "$RUNS" ;;
	esac
}

# one_run ROW CLIENT RUN CORPUS ACCOUNTS PORT TLS KEEP PREPOLL
# seeds the client's mailbox(es), runs it (after an untimed first poll when
# PREPOLL is 1), measures with GNU time, verifies, and appends a raw line.
one_run() {
	local row=$1 client=$2 run=$3 corpus=$4 nacc=$5 port=$6 tls=$7 keep=$8 prepoll=$9
	local kind=$client u i rc=0 prerc=0 tf log verdict mode=delete exact=() load1=""
	[[ $client == fetchd-nobig ]] && kind=fetchd
	((keep)) && mode=keep
	[[ $kind == fetchd ]] && exact=(-exact)
	C_HOME=$WORK/c/r$row-$client C_MAILDIR=$WORK/c/r$row-$client/Maildir
	C_PORT=$port C_TLS=$tls C_KEEP=$keep
	rm -rf "$C_HOME"
	mkdir -p "$C_MAILDIR/cur" "$C_MAILDIR/new" "$C_MAILDIR/tmp"
	C_USERS=()
	local servers=()
	if ((nacc == 1)); then
		C_USERS=("r$row-$client")
	else
		for ((i = 1; i <= nacc; i++)); do C_USERS+=("$(printf 'r%d-%s-%03d' "$row" "$client" "$i")"); done
	fi
	for u in "${C_USERS[@]}"; do servers+=("$FETCHD_DOVECOT_HOME/$u/Maildir"); done
	"$BIN/corpus" seed -cache "$CACHE/$corpus" -uid "$MAIL_UID" -gid "$MAIL_GID" "${servers[@]}"
	C_PRE=()
	"cfg_$kind"
	chown -R "$BU:$BG" "$C_HOME"
	bench_prefix
	log=$LOGS/r$row-$client-$run.log tf=$LOGS/r$row-$client-$run.time
	: >"$log"
	if ((prepoll)); then
		echo "--- first poll (not timed)" >>"$log"
		"${C_PRE[@]}" "${AS_BENCH[@]}" "${C_CMD[@]}" >>"$log" 2>&1 || prerc=$?
		echo "--- second poll (timed)" >>"$log"
	fi
	sync
	read -r load1 _ </proc/loadavg
	/usr/bin/time -f '%e %U %S %M' -o "$tf" "${C_PRE[@]}" "${AS_BENCH[@]}" "${C_CMD[@]}" >>"$log" 2>&1 || rc=$?
	local wall="" usr="" sys="" rss=""
	read -r wall usr sys rss < <(tail -n 1 "$tf") || true
	local vrc=0
	verdict=$("$BIN/verify" -cache "$CACHE/$corpus" -got "$C_MAILDIR" -mode "$mode" "${exact[@]}" "${servers[@]}") || vrc=$?
	# A run counts only when verify says ok: a verify that crashed or
	# printed nothing fails it, as the report reads it.
	if [[ $verdict != FAILED* && ($vrc -ne 0 || $verdict != ok:*) ]]; then
		verdict="FAILED: bench/verify exited $vrc: ${verdict:-no output}"
	fi
	if ! ok_exit "$kind" "$rc"; then
		verdict="FAILED: exit status $rc; ${verdict#ok: }"
	fi
	# The timed poll of a row with a first poll measures nothing new only
	# if that first poll worked.
	if ((prepoll)) && ! ok_exit "$kind" "$prerc"; then
		verdict="FAILED: the first (untimed) poll exited $prerc; ${verdict#ok: }"
	fi
	if [[ $verdict == FAILED* ]]; then
		FAILED=1
		say "row $row $client run $run: $verdict"
		say "--- last lines of $log:"
		tail -n 15 "$log" >&2
	fi
	say "row $row $client run $run: ${wall}s wall, ${usr}s user, ${sys}s sys, ${rss} KB; $verdict"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$client" "$run" "$wall" "$usr" "$sys" "$rss" "$rc" "$verdict" "$load1" >>"$RAW.tmp"
	rm -rf "$C_MAILDIR" "${servers[@]}"
}

# ok_exit CLIENT STATUS: fetchmail exits 1 when there was no mail.
ok_exit() {
	[[ $2 -eq 0 ]] && return 0
	[[ $1 == fetchmail && $2 -eq 1 ]]
}

# row N TITLE CORPUS ACCOUNTS PORT TLS KEEP PREPOLL [EXTRA_CLIENT EXTRA_CORPUS]
row() {
	local n=$1 title=$2 corpus=$3 nacc=$4 port=$5 tls=$6 keep=$7 prepoll=$8 extra=${9:-} extra_corpus=${10:-}
	has_row "$n" || return 0
	say "=== row $n: $title"
	printf '%s\t%s\n' "$n" "$title" >>"$ROWSFILE"
	local run c clients=$CLIENTS
	[[ -n $extra && $CLIENTS == *" fetchd "* ]] && clients="$clients$extra "
	local max=$RUNS
	((SLOW_RUNS > max)) && max=$SLOW_RUNS
	for ((run = 1; run <= max; run++)); do
		for c in $clients; do
			((run <= $(runs_for "$n" "$c"))) || continue
			if [[ $c == "$extra" ]]; then
				one_run "$n" "$c" "$run" "$extra_corpus" "$nacc" "$port" "$tls" "$keep" "$prepoll"
			else
				one_run "$n" "$c" "$run" "$corpus" "$nacc" "$port" "$tls" "$keep" "$prepoll"
			fi
		done
	done
}

has_row 1 && row 1 "$(describe mix1) mixed (incl. the tricky ones), RTT 0, delete mode, maildir" mix1 1 "$PLAIN_PORT" 0 0 0
has_row 2 && row 2 "$N2 small messages, $(describe small | sed 's/.*, //') in all, RTT 0, delete mode" small 1 "$PLAIN_PORT" 0 0 0
has_row 3 && row 3 "$(describe mix3) mixed, RTT 20 ms (delay proxy), delete mode" mix3 1 "$PROXY_PORT" 0 0 0
has_row 4 && row 4 "poll with nothing new: keep mode, $(describe mix4), RTT 20 ms; only the second poll is timed" mix4 1 "$PROXY_PORT" 0 1 1
has_row 5 && row 5 "keep mode, first poll: $N5 small messages, RTT 0 (fetchd: initial_sync_limit = 0)" small 1 "$PLAIN_PORT" 0 1 0
has_row 6 && row 6 "peak RSS: $(describe big6) ($N6 mixed + tricky + two big: $BIG6 bytes), RTT 0, delete mode; fetchd-nobig: the same without the two big ones ($(describe nobig6))" big6 1 "$PLAIN_PORT" 0 0 0 fetchd-nobig nobig6
has_row 7 && row 7 "$ACC7 accounts × $PER7 small messages ($(describe acc7)), RTT 20 ms, one run of each client over all accounts, delete mode" acc7 "$ACC7" "$PROXY_PORT" 0 0 0
has_row 8 && row 8 "implicit TLS (POP3S, Dovecot's self-signed certificate trusted by each client's CA option): $(describe mix1) mixed, RTT 0, delete mode" mix1 1 "$TLS_PORT" 1 0 0

# Row 5 needs a corpus of N5 messages: the small cache holds max(N2, N5); both are equal by default.

if has_row 9 && [[ $CLIENTS == *" fetchd "* ]]; then
	say "=== row 9: bench/daemon1000.sh"
	d_args=(--dovecot-dir "$DOVECOT_DIR" --bin "$BIN" --fragment "$WORK/daemon1000.md")
	((QUICK)) && d_args+=(--quick)
	if ! "$REPO/bench/daemon1000.sh" "${d_args[@]}"; then
		FAILED=1
		say "row 9: bench/daemon1000.sh FAILED"
	fi
fi

# Facts about this machine and the programs measured.
# load_summary RAW: "0.5 to 2.3 (median 1.1)" of the load1 column.
load_summary() {
	local v n
	v=$(awk -F'\t' 'NR > 1 && $10 != "" {print $10}' "$1" | sort -n)
	n=$(printf '%s' "$v" | grep -c . || true)
	if ((n == 0)); then
		echo "not recorded"
		return
	fi
	echo "$(sed -n 1p <<<"$v") to $(sed -n "${n}p" <<<"$v") (median $(sed -n "$(((n + 1) / 2))p" <<<"$v"))"
}
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
{
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); total time of this run: $(((SECONDS - START) / 60)) min"
	echo "- Machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r), Debian $(cat /etc/debian_version)"
	echo "- fetchd: $commit, built with $(go version | awk '{print $3}')"
	echo "- Dovecot $(pkgver dovecot-core) (private instance on 127.0.0.1, maildir), mpop $(pkgver mpop), fdm $(pkgver fdm), fetchmail $(pkgver fetchmail) with procmail $(pkgver procmail), getmail6 $(pkgver getmail6)"
	echo "- Load: the 1-minute load average just before each measured run was $(load_summary "$RAW.tmp") on $(nproc) cores (column load1 of the raw TSV): other work on the machine during the run shows there"
	echo "- Runs per client and row: $RUNS for fetchd and mpop, $SLOW_RUNS for fdm, fetchmail and getmail"
	echo "- Process creation on this machine: $SPAWN_MS ms per fork+exec+wait of /bin/true (measured at the start; fdm, fetchmail with procmail and getmail fork at least once per message, fetchd and mpop do not)"
} >"$FACTS"

mv "$RAW.tmp" "$RAW"
write_report
say "wrote $OUT and $RAW in $((SECONDS - START)) s"
if ((FAILED)); then
	say "FAILED: at least one client did not deliver every message exactly once (see the table and $LOGS)"
	exit 1
fi
say "every client delivered every message exactly once"
