#!/usr/bin/env bash
# Demo: start a private Dovecot, seed a mailbox with 50 mixed and the tricky
# test messages, run `fetchd once` twice (the second fetches nothing) into
# ./demo/Maildir, then stop Dovecot. ./demo is recreated on every run.
#
#   scripts/demo.sh [N]     N mixed messages (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-50}
[[ $n =~ ^[0-9]+$ ]] || {
	echo "usage: $0 [N]" >&2
	exit 2
}
command -v go >/dev/null 2>&1 || {
	echo "demo.sh: go is not on PATH: install Go 1.26 first" >&2
	exit 1
}

./scripts/dovecot.sh install
dovecot_dir=$(mktemp -d /tmp/fetchd-demo-dovecot.XXXXXX)
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

demo=$PWD/demo
rm -rf "$demo"
mkdir -p "$demo/state"
go build -o "$demo/fetchd" ./cmd/fetchd
go run ./scripts/seed -dir "$FETCHD_DOVECOT_HOME/demo/Maildir" -n "$n" -tricky \
	-uid "$FETCHD_DOVECOT_UID" -gid "$FETCHD_DOVECOT_GID"

(
	umask 077
	cat >"$demo/fetchd.toml" <<TOML
state = "$demo/state/fetchd.db"
log_level = "info"

[[account]]
name = "demo"
server = "localhost"
port = ${FETCHD_DOVECOT_POP3S##*:}
tls = "implicit"
user = "demo"
password = "$FETCHD_DOVECOT_PASSWORD"
keep = false
timeout = "30s"

[[account.deliver]]
maildir = "$demo/Maildir"
TOML
)

export SSL_CERT_FILE=$FETCHD_DOVECOT_CERT # trust the demo certificate
echo "+ fetchd check -c demo/fetchd.toml"
"$demo/fetchd" check -c "$demo/fetchd.toml"
echo "+ fetchd once -c demo/fetchd.toml"
"$demo/fetchd" once -c "$demo/fetchd.toml"
echo "+ fetchd once -c demo/fetchd.toml   (again: nothing new)"
"$demo/fetchd" once -c "$demo/fetchd.toml"

echo
echo "demo.sh: $(find "$demo/Maildir/new" -type f | wc -l) messages in demo/Maildir/new;" \
	"$(find "$FETCHD_DOVECOT_HOME/demo/Maildir/new" "$FETCHD_DOVECOT_HOME/demo/Maildir/cur" -type f | wc -l) left on the server"
