#!/usr/bin/env bash
# Run fetchd's reliability campaigns against a private Dovecot and write their
# figures into docs/RELIABILITY.md (each campaign regenerates its own section).
#
#   scripts/campaign.sh kill|netcut|hostile|fuzz|all [--ci]
#
#   kill     TestKillCampaign: fetchd killed with SIGKILL at crash points and
#            at random times, restarted until done, for maildir, MDA and LMTP
#   netcut   TestNetCutCampaign: the connection to Dovecot cut at random points
#   hostile  TestHostileCampaign: a hostile POP3 server
#   fuzz     scripts/fuzz.sh --report: every fuzz target for FUZZTIME each
#            (default 1m; 10s with --ci)
#   all      all of the above, in that order
#
# By default the campaigns run at the acceptance sizes (kill: 300 messages,
# 200 kills per target; netcut: 500 cuts); --ci runs the CI size (minutes on
# 2 cores), which scripts/test.sh also runs.
# Dovecot (scripts/dovecot.sh) is started in a temp dir and stopped on exit.
# Exits non-zero if any campaign fails; every requested campaign runs.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: $0 kill|netcut|hostile|fuzz|all [--ci]" >&2
	exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
which=$1
size=full
if [[ $# -eq 2 ]]; then
	[[ $2 == --ci ]] || usage
	size=ci
fi
case $which in
kill | netcut | hostile | fuzz) campaigns=("$which") ;;
all) campaigns=(kill netcut hostile fuzz) ;;
*) usage ;;
esac

if ! command -v go >/dev/null 2>&1; then
	echo "campaign.sh: go is not on PATH: install Go 1.26 first" >&2
	exit 1
fi

./scripts/dovecot.sh install
dovecot_dir=$(mktemp -d /tmp/fetchd-campaign.XXXXXX)
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	./scripts/dovecot.sh stop "$dovecot_dir" || true
	rm -rf "$dovecot_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
./scripts/dovecot.sh start "$dovecot_dir"
set -a
# shellcheck source=/dev/null
. "$dovecot_dir/env"
set +a

# gotest NAME TIMEOUT: one campaign test, verbose, with the figures reported.
# A test that did not run (no such test yet, or skipped) is a failure.
gotest() {
	local log=$dovecot_dir/$1.log rc
	set +e
	go test -count=1 -v -timeout "$2" -run "^$1\$" ./internal/campaign \
		-campaign.size="$size" -campaign.report 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	if [[ $rc -eq 0 ]] && ! grep -q -- "^--- PASS: $1 " "$log"; then
		echo "campaign.sh: $1 did not run (no such test, or it skipped)" >&2
		rc=1
	fi
	return "$rc"
}

failures=()
started=$SECONDS
for c in "${campaigns[@]}"; do
	printf '\n==> campaign %s (%s)\n' "$c" "$size"
	rc=0
	case $c in
	kill) gotest TestKillCampaign 60m || rc=$? ;;
	netcut) gotest TestNetCutCampaign 60m || rc=$? ;;
	hostile) gotest TestHostileCampaign 30m || rc=$? ;;
	fuzz)
		# scripts/fuzz.sh finds every target and writes the "fuzz" section.
		fuzztime=${FUZZTIME:-10s}
		[[ $size == full && -z ${FUZZTIME:-} ]] && fuzztime=1m
		./scripts/fuzz.sh --report "$fuzztime" || rc=$?
		;;
	esac
	if [[ $rc -ne 0 ]]; then
		failures+=("$c")
		echo "--- last lines of Dovecot's log:"
		tail -n 20 "$FETCHD_DOVECOT_LOG" || true
	fi
done

elapsed=$((SECONDS - started))
if [[ ${#failures[@]} -eq 0 ]]; then
	echo "campaign.sh: PASS: ${campaigns[*]} ($size, ${elapsed}s)"
	exit 0
fi
echo "campaign.sh: FAIL: ${failures[*]} ($size, ${elapsed}s)"
exit 1
