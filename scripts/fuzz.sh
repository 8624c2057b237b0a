#!/usr/bin/env bash
# Run every fuzz target of fetchd, one after the other, for FUZZTIME each.
#
#   scripts/fuzz.sh               # 10s per target: what CI runs
#   scripts/fuzz.sh 5m            # a long run, before a release or after a parser change
#   scripts/fuzz.sh --report 5m   # also write the table into docs/RELIABILITY.md ("fuzz")
#
# Targets are discovered with `go test -list '^Fuzz' ./...`, so a new target
# runs without editing this script (and TestFuzzCorporaCommitted in
# internal/campaign makes sure it has a committed corpus). Each runs with
#
#   go test -run '^$' -fuzz '^Name$' -fuzztime FUZZTIME ./pkg
#
# A failing target leaves its crasher in the package's testdata/fuzz/Name/, as
# go test does; commit it with the fix so the seed run (plain `go test`) keeps
# checking it. A package whose tests do not build counts as a failure, since
# its targets cannot be listed. Exits non-zero if anything failed; the summary
# comes last.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: scripts/fuzz.sh [--report] [FUZZTIME]   (FUZZTIME as go test -fuzztime: 10s, 5m, 100000x; default 10s)" >&2
	exit 2
}

report=false
fuzztime=""
for arg in "$@"; do
	case $arg in
	--report) report=true ;;
	-h | --help) usage ;;
	-*) usage ;;
	*)
		[[ -z $fuzztime ]] || usage
		fuzztime=$arg
		;;
	esac
done
fuzztime=${fuzztime:-10s}

if ! command -v go >/dev/null 2>&1; then
	echo "fuzz.sh: go is not on PATH: install Go 1.26 first" >&2
	exit 1
fi

logdir=$(mktemp -d /tmp/fetchd-fuzz.XXXXXX)
# The logs of failed targets are worth keeping; the rest are removed.
keep_logs=false
# shellcheck disable=SC2317 # called by the trap
cleanup() { $keep_logs || rm -rf "$logdir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=()
started=$SECONDS

# Discover: `go test -list` prints a package's matching names, then its
# "ok  <pkg>" line (or "FAIL <pkg> [build failed]").
echo "==> discovering fuzz targets: go test -list '^Fuzz' ./..."
targets=() # "pkg name"
set +e
go test -list '^Fuzz' ./... >"$logdir/list" 2>&1
list_rc=$?
set -e
pending=()
while IFS= read -r line; do
	case $line in
	Fuzz*) pending+=("$line") ;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for name in "${pending[@]}"; do targets+=("$pkg $name"); done
		pending=()
		;;
	FAIL*)
		pkg=$(awk '{print $2}' <<<"$line")
		if [[ -n $pkg ]]; then
			failures+=("$pkg: tests do not build, its fuzz targets cannot be listed")
		fi
		pending=()
		;;
	esac
done <"$logdir/list"
if [[ $list_rc -ne 0 ]]; then
	grep -vE '^(Fuzz|ok|\?)' "$logdir/list" | head -n 40 >&2 || true
	[[ ${#failures[@]} -gt 0 ]] || failures+=("go test -list failed (exit $list_rc)")
fi
echo "found ${#targets[@]} targets"

# results: target, package, seconds, execs, corpus (new interesting total), result
results="$logdir/results.tsv"
printf 'fuzztime\t%s\n' "$fuzztime" >"$results"

for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	log="$logdir/$name.log"
	printf '\n==> %s (%s), %s\n' "$name" "$pkg" "$fuzztime"
	t0=$SECONDS
	set +e
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1
	rc=$?
	# Go's fuzzing coordinator sometimes ends a short run on a loaded
	# machine with "context deadline exceeded" and no failing input: a
	# worker missed the stop. That says nothing about the target, so such
	# a run is repeated once; a run that found an input always fails.
	if [[ $rc -ne 0 ]] && grep -q 'context deadline exceeded' "$log" && ! grep -qE 'Failing input|testdata/fuzz/' "$log"; then
		echo "(the fuzzing coordinator timed out without a failing input; running $name again)"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1
		rc=$?
	fi
	set -e
	secs=$((SECONDS - t0))
	# "fuzz: elapsed: 10s, execs: 123456 (12345/sec), new interesting: 3 (total: 15)"
	execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -n 1 | awk '{print $2}') || true
	corpus=$(grep -oE 'total: [0-9]+' "$log" | tail -n 1 | awk '{print $2}') || true
	if [[ $rc -eq 0 ]]; then
		result=PASS
		tail -n 3 "$log"
	else
		result=FAIL
		keep_logs=true
		cat "$log"
		crasher=$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | head -n 1) || true
		msg="$name ($pkg): exit $rc"
		[[ -n $crasher ]] && msg+=", crasher kept in $(go list -f '{{.Dir}}' "$pkg")/$crasher"
		failures+=("$msg; log: $log")
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$pkg" "$secs" "${execs:--}" "${corpus:--}" "$result" >>"$results"
done

echo
echo "==> summary (fuzztime $fuzztime)"
{
	printf 'TARGET\tPACKAGE\tSECONDS\tEXECS\tCORPUS\tRESULT\n'
	tail -n +2 "$results"
} | column -t -s $'\t'

if $report; then
	echo
	echo "==> writing the fuzz section of docs/RELIABILITY.md"
	if ! go test -count=1 -run '^TestWriteFuzzReport$' ./internal/campaign -args -campaign.fuzzreport="$results"; then
		failures+=("writing the report (go test ./internal/campaign -run TestWriteFuzzReport)")
	fi
fi

elapsed=$((SECONDS - started))
echo
if [[ ${#failures[@]} -eq 0 ]]; then
	echo "fuzz.sh: PASS: ${#targets[@]} targets, $fuzztime each (${elapsed}s)"
	exit 0
fi
printf 'FAIL: %s\n' "${failures[@]}" >&2
echo "fuzz.sh: FAIL: ${#failures[@]} failure(s) among ${#targets[@]} targets (${elapsed}s); logs in $logdir"
exit 1
