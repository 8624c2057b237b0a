#!/usr/bin/env bash
# Run every fetchd test: the one command for a fresh Debian machine and for CI
# (.ci/run calls it).
#
#   1. install what is missing (Dovecot, openssl, a C compiler for -race);
#   2. gofmt check and go vet;
#   3. start a private Dovecot (scripts/dovecot.sh) in a temp dir, stopped and
#      removed on any exit;
#   4. unit tests with the race detector, then the Dovecot integration tests
#      (verbose, without -race: they drive the fetchd binary), and a check that
#      those really ran rather than skipped.
#
# Exits non-zero if any step fails; every step runs, and a summary comes last.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS=${GOFLAGS:-}

failures=()
started=$SECONDS

step() { printf '\n==> %s\n' "$*"; }
fail() {
	echo "FAIL: $*" >&2
	failures+=("$*")
}

if ! command -v go >/dev/null 2>&1; then
	echo "test.sh: go is not on PATH: install Go 1.26 (https://go.dev/dl/) first" >&2
	exit 1
fi

step "install missing packages"
./scripts/dovecot.sh install
if ! command -v cc >/dev/null 2>&1; then
	# The race detector needs cgo, so a C compiler.
	echo "test.sh: installing gcc for go test -race" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >&2
fi
export CGO_ENABLED=1

step "gofmt"
unformatted=$(gofmt -l . 2>&1) || true
if [[ -n $unformatted ]]; then
	echo "$unformatted"
	fail "gofmt: files above are not formatted (run gofmt -w)"
else
	echo "ok"
fi

step "go vet ./..."
if go vet ./...; then echo "ok"; else fail "go vet"; fi

step "start Dovecot"
dovecot_dir=$(mktemp -d /tmp/fetchd-dovecot.XXXXXX)
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

step "unit tests: go test -race -count=1 (all packages but internal/integration)"
mapfile -t unit_pkgs < <(go list ./... | grep -v '/internal/integration$')
if go test -race -count=1 -timeout 8m "${unit_pkgs[@]}"; then :; else fail "unit tests"; fi

step "Dovecot integration tests: go test -count=1 -v ./internal/integration/"
itest_log="$dovecot_dir/integration.log"
set +e
go test -count=1 -v -timeout 5m ./internal/integration/ 2>&1 | tee "$itest_log"
itest_rc=${PIPESTATUS[0]}
set -e
if [[ $itest_rc -ne 0 ]]; then
	fail "integration tests (exit $itest_rc)"
	echo "--- last lines of Dovecot's log ($dovecot_dir is removed on exit):"
	tail -n 40 "$FETCHD_DOVECOT_LOG" || true
fi
passed=$(grep -c -- '^--- PASS: TestDovecot' "$itest_log" || true)
skipped=$(grep -c -- '^--- SKIP: TestDovecot' "$itest_log" || true)
failed=$(grep -c -- '^--- FAIL: TestDovecot' "$itest_log" || true)
if [[ $passed -eq 0 || $skipped -ne 0 ]]; then
	fail "the Dovecot integration tests did not run ($passed passed, $skipped skipped)"
fi

step "Dovecot integration test results"
grep -E -- '^--- (PASS|FAIL|SKIP): TestDovecot' "$itest_log" || true

elapsed=$((SECONDS - started))
echo
if [[ ${#failures[@]} -eq 0 ]]; then
	echo "test.sh: PASS: all tests passed; Dovecot integration: $passed passed, $failed failed, $skipped skipped (${elapsed}s)"
	exit 0
fi
joined=$(printf '%s; ' "${failures[@]}")
echo "test.sh: FAIL: ${#failures[@]} step(s) failed (${joined%; }); Dovecot integration: $passed passed, $failed failed, $skipped skipped (${elapsed}s)"
exit 1
