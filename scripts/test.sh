#!/usr/bin/env bash
# Run every fetchd test: the one command for a fresh Debian machine and for CI
# (.ci/run calls it).
#
#   1. install what is missing, in one apt-get run (Dovecot, Postfix, procmail,
#      maildrop, openssl, a C compiler for -race);
#   2. gofmt check and go vet;
#   3. start the real peers in temp dirs, stopped and removed on any exit: a
#      private Dovecot (scripts/dovecot.sh: POP3 to fetch from, LMTP to deliver
#      to) and a private Postfix (scripts/postfix.sh: SMTP to deliver to);
#   4. unit tests with the race detector, the package check (scripts/package.sh:
#      a .deb and make install), then the integration tests (verbose,
#      without -race: they drive the fetchd binary): TestDovecot_* (fetching)
#      and TestPeers_* (delivery through procmail, maildrop, Postfix, Dovecot
#      LMTP and mbox), and a check that both groups really ran rather than
#      skipped. CI=true (set by CI) also makes a test whose peer is missing fail
#      instead of skip.
#
# Exits non-zero if any step fails; every step runs, and a summary comes last.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS=${GOFLAGS:-}

# Everything this run prints is kept, so that the last step can check that no
# password made it into any output: Dovecot's password is a random marker.
full_log=$(mktemp)
exec > >(tee "$full_log") 2>&1
FETCHD_TEST_PASSWORD="fetchd-pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export FETCHD_TEST_PASSWORD

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
# One apt-get update and one install for everything missing; dovecot.sh and
# postfix.sh then only confirm (they install on their own when run alone).
missing=()
command -v dovecot >/dev/null 2>&1 || missing+=(dovecot-core)
[[ -x /usr/lib/dovecot/pop3 ]] || missing+=(dovecot-pop3d)
[[ -x /usr/lib/dovecot/lmtp ]] || missing+=(dovecot-lmtpd)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[[ -x /usr/sbin/postfix ]] || missing+=(postfix)
[[ -x /usr/bin/procmail ]] || missing+=(procmail)
[[ -x /usr/bin/maildrop ]] || missing+=(maildrop)
# import-state is tested with files the real programs wrote.
command -v fetchmail >/dev/null 2>&1 || missing+=(fetchmail)
command -v mpop >/dev/null 2>&1 || missing+=(mpop)
command -v getmail >/dev/null 2>&1 || missing+=(getmail6)
# The benchmark smoke step runs fdm too: one apt-get run for everything.
command -v fdm >/dev/null 2>&1 || missing+=(fdm)
# The daemon tests check the unit files with systemd-analyze and read
# /metrics with curl --unix-socket.
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# The completion tests check the zsh script with zsh -n; scripts/package.sh
# runs make install.
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v make >/dev/null 2>&1 || missing+=(make)
# The race detector needs cgo, so a C compiler.
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [[ ${#missing[@]} -gt 0 ]]; then
	echo "test.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Postfix's package asks how mail should be delivered unless told.
	printf '%s\n' "postfix postfix/main_mailer_type select Local only" \
		"postfix postfix/mailname string fetchd.invalid" | debconf-set-selections
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
./scripts/dovecot.sh install
./scripts/postfix.sh install
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

step "start Dovecot and Postfix"
dovecot_dir=$(mktemp -d /tmp/fetchd-dovecot.XXXXXX)
postfix_dir=$(mktemp -d /tmp/fetchd-postfix.XXXXXX)
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	./scripts/postfix.sh stop "$postfix_dir" || true
	./scripts/dovecot.sh stop "$dovecot_dir" || true
	rm -rf "$postfix_dir" "$dovecot_dir" "$full_log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
./scripts/dovecot.sh start "$dovecot_dir"
set -a
# shellcheck source=/dev/null
. "$dovecot_dir/env"
set +a
# Without Postfix the other tests still run; the TestPeers_*Postfix* tests then
# skip (or fail under CI=true), and the skip check below fails the run.
if ./scripts/postfix.sh start "$postfix_dir"; then
	set -a
	# shellcheck source=/dev/null
	. "$postfix_dir/env"
	set +a
else
	fail "start Postfix (scripts/postfix.sh start)"
fi

step "unit tests: go test -race -count=1 (all packages but internal/integration and internal/campaign)"
mapfile -t unit_pkgs < <(go list ./... | grep -v -e '/internal/integration$' -e '/internal/campaign$')
if go test -race -count=1 -timeout 8m "${unit_pkgs[@]}"; then :; else fail "unit tests"; fi

step "package: scripts/package.sh (a .deb built with dpkg-deb, and make install DESTDIR=…, each checked file by file)"
if ./scripts/package.sh; then :; else fail "package (scripts/package.sh)"; fi

step "integration tests: go test -count=1 -v ./internal/integration/"
itest_log="$dovecot_dir/integration.log"
set +e
go test -count=1 -v -timeout 8m ./internal/integration/ 2>&1 | tee "$itest_log"
itest_rc=${PIPESTATUS[0]}
set -e
if [[ $itest_rc -ne 0 ]]; then
	fail "integration tests (exit $itest_rc)"
	echo "--- last lines of Dovecot's log ($dovecot_dir is removed on exit):"
	tail -n 40 "$FETCHD_DOVECOT_LOG" || true
	if [[ -n ${FETCHD_POSTFIX_LOG:-} ]]; then
		echo "--- last lines of Postfix's log ($postfix_dir is removed on exit):"
		tail -n 40 "$FETCHD_POSTFIX_LOG" || true
	fi
fi

# count GROUP RESULT: tests of GROUP (TestDovecot, TestPeers) with RESULT; top
# level only, but a skipped subtest counts as a skip too.
count() {
	local indent=""
	[[ $2 == SKIP ]] && indent='[[:space:]]*'
	grep -cE -- "^$indent--- $2: $1_" "$itest_log" || true
}
summary=""
for group in TestDovecot TestPeers; do
	passed=$(count "$group" PASS)
	failed=$(count "$group" FAIL)
	skipped=$(count "$group" SKIP)
	if [[ $passed -eq 0 || $skipped -ne 0 ]]; then
		fail "the $group integration tests did not all run ($passed passed, $skipped skipped)"
	fi
	summary+="${summary:+; }${group#Test}: $passed passed, $failed failed, $skipped skipped"
done

step "reliability campaigns at CI size: go test -count=1 -v ./internal/campaign/ -campaign.size=ci"
# scripts/campaign.sh runs them at full size and writes docs/RELIABILITY.md.
campaign_log="$dovecot_dir/campaign.log"
set +e
go test -count=1 -v -timeout 20m ./internal/campaign/ -args -campaign.size=ci 2>&1 | tee "$campaign_log"
campaign_rc=${PIPESTATUS[0]}
set -e
[[ $campaign_rc -eq 0 ]] || fail "reliability campaigns (exit $campaign_rc)"
for campaign in TestKillCampaign TestNetCutCampaign TestHostileCampaign TestStorageFaults TestFuzzCorporaCommitted; do
	if ! grep -q -- "^--- PASS: $campaign " "$campaign_log"; then
		fail "campaign $campaign did not pass (or did not run)"
	fi
done

step "fuzz targets, ${FUZZTIME:-3s} each (scripts/fuzz.sh; longer: scripts/fuzz.sh 5m)"
if ./scripts/fuzz.sh "${FUZZTIME:-3s}"; then :; else fail "fuzzing"; fi

step "benchmark smoke: bench/run.sh --quick (every client delivers every message exactly once; no timings)"
# The full side-by-side run (bench/run.sh) writes docs/BENCHMARKS.md. The
# peers run with the bench's own Dovecot and password, not this run's marker.
if env -u FETCHD_TEST_PASSWORD ./bench/run.sh --quick; then :; else fail "benchmark smoke (bench/run.sh --quick)"; fi

step "integration test results"
grep -E -- '^--- (PASS|FAIL|SKIP): Test(Dovecot|Peers)_' "$itest_log" || true
grep -E -- '^--- (PASS|FAIL|SKIP): Test[A-Za-z]*(Campaign|Faults|Committed)' "$campaign_log" || true

step "no password or token in anything this run printed"
sleep 1 # let tee catch up
# The Dovecot password every integration test and campaign logs in with, and
# the tokens the OAuth2 tests' fake endpoint issues (they all start so).
leaks=$(grep -c -e "$FETCHD_TEST_PASSWORD" -e 'fetchd-token-' "$full_log" || true)
if [[ $leaks -gt 0 ]]; then
	fail "$leaks line(s) of output hold a test password or token"
	grep -n -e "$FETCHD_TEST_PASSWORD" -e 'fetchd-token-' "$full_log" | sed 's/fetchd-pw-[0-9a-f]*/<PASSWORD>/g; s/fetchd-token-[A-Za-z0-9_-]*/<TOKEN>/g' | head -20
else
	echo "none in $(wc -l <"$full_log") lines"
fi

elapsed=$((SECONDS - started))
echo
if [[ ${#failures[@]} -eq 0 ]]; then
	echo "test.sh: PASS: all tests passed; integration: $summary (${elapsed}s)"
	exit 0
fi
joined=$(printf '%s; ' "${failures[@]}")
echo "test.sh: FAIL: ${#failures[@]} step(s) failed (${joined%; }); integration: $summary (${elapsed}s)"
exit 1
