#!/usr/bin/env bash
# A private Dovecot instance for fetchd's integration tests.
#
#   scripts/dovecot.sh install      install Dovecot and openssl with apt-get if missing
#   scripts/dovecot.sh start DIR    configure and start an instance under DIR, write DIR/env
#   scripts/dovecot.sh stop DIR     stop the instance under DIR (idempotent)
#
# The instance listens on 127.0.0.1 and 127.0.0.2 (the certificate names only
# localhost and 127.0.0.1, so 127.0.0.2 is "a host the certificate does not name").
# Any user name logs in with the password "secret" and gets a fresh maildir under
# DIR/home/USER/Maildir, owned by the unprivileged system user fetchd-test.
#
# Ports (override through the environment):
#   FETCHD_DOVECOT_POP3_PORT   POP3, plain and STLS       (default 11110)
#   FETCHD_DOVECOT_POP3S_PORT  POP3S, implicit TLS         (default 11995)
#   FETCHD_DOVECOT_LMTP_PORT   LMTP over TCP, 127.0.0.1    (default 11024)
#   FETCHD_DOVECOT_USER        system user owning the mail (default fetchd-test)
# If none of the ports is set and the defaults are taken (another test run), all
# three shift by a multiple of 100; DIR/env always has the ports in use.
#
# After start, DIR/env holds shell-exportable FETCHD_DOVECOT_* variables:
#   set -a; . DIR/env; set +a
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin # dovecot and useradd live there

POP3_PORT=${FETCHD_DOVECOT_POP3_PORT:-11110}
POP3S_PORT=${FETCHD_DOVECOT_POP3S_PORT:-11995}
LMTP_PORT=${FETCHD_DOVECOT_LMTP_PORT:-11024}
MAIL_USER=${FETCHD_DOVECOT_USER:-fetchd-test}
PASSWORD=${FETCHD_TEST_PASSWORD:-secret}
START_TIMEOUT=${FETCHD_DOVECOT_START_TIMEOUT:-20} # seconds

die() {
	echo "dovecot.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 install | start DIR | stop DIR" >&2
	exit 2
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (Dovecot's mail processes switch to user $MAIL_USER)"
}

cmd_install() {
	local want=()
	command -v dovecot >/dev/null 2>&1 || want+=(dovecot)
	[[ -x /usr/lib/dovecot/pop3 ]] || want+=(pop3)
	[[ -x /usr/lib/dovecot/lmtp ]] || want+=(lmtp)
	command -v openssl >/dev/null 2>&1 || want+=(openssl)
	if [[ ${#want[@]} -eq 0 ]]; then
		return 0
	fi
	need_root
	echo "dovecot.sh: missing ${want[*]}: installing dovecot-core dovecot-pop3d dovecot-lmtpd openssl" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || die "apt-get update failed"
	apt-get install -y -qq dovecot-core dovecot-pop3d dovecot-lmtpd openssl >&2 ||
		die "apt-get install of Dovecot failed"
}

# ensure_user creates the unprivileged system user that owns test mail.
ensure_user() {
	if ! id -u "$MAIL_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$MAIL_USER" ||
			die "cannot create system user $MAIL_USER"
	fi
}

# check_reachable fails unless every parent of $1 can be traversed by other users:
# Dovecot's login and mail processes do not run as root.
check_reachable() {
	local p
	p=$(dirname "$1")
	while [[ $p != / ]]; do
		if (((8#$(stat -c %a "$p") & 1) == 0)); then
			die "$p is not searchable by other users (mode $(stat -c %a "$p")): Dovecot's unprivileged processes cannot reach $1; use a directory like /tmp/…"
		fi
		p=$(dirname "$p")
	done
}

port_open() { # host port
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

master_pid() { # dir → pid of a running master, or nothing
	local pidfile=$1/run/master.pid pid
	[[ -s $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

ports_free() {
	local p
	for p in "$POP3_PORT" "$POP3S_PORT" "$LMTP_PORT"; do
		if port_open 127.0.0.1 "$p" || port_open 127.0.0.2 "$p"; then
			return 1
		fi
	done
}

# pick_ports keeps the ports if they are free. When they are taken (another test
# run on the same machine) and none was set through the environment, it shifts
# all three by a multiple of 100; the tests read the ports from DIR/env.
pick_ports() {
	ports_free && return 0
	if [[ -n ${FETCHD_DOVECOT_POP3_PORT:-}${FETCHD_DOVECOT_POP3S_PORT:-}${FETCHD_DOVECOT_LMTP_PORT:-} ]]; then
		die "port $POP3_PORT, $POP3S_PORT or $LMTP_PORT on 127.0.0.1/127.0.0.2 is already in use; stop what uses it or set other FETCHD_DOVECOT_*_PORT"
	fi
	local base_pop3=$POP3_PORT base_pop3s=$POP3S_PORT base_lmtp=$LMTP_PORT k
	for k in 100 200 300 400 500 600 700 800 900; do
		POP3_PORT=$((base_pop3 + k)) POP3S_PORT=$((base_pop3s + k)) LMTP_PORT=$((base_lmtp + k))
		if ports_free; then
			echo "dovecot.sh: default ports in use (another test run?): using $POP3_PORT, $POP3S_PORT, $LMTP_PORT" >&2
			return 0
		fi
	done
	die "ports $base_pop3, $base_pop3s, $base_lmtp (and 9 shifts by 100) are all in use"
}

log_tail() { # dir
	if [[ -f $1/dovecot.log ]]; then
		echo "--- last lines of $1/dovecot.log:" >&2
		tail -n 30 "$1/dovecot.log" >&2
	fi
}

write_cert() { # dir
	local dir=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
		-keyout "$dir/key.pem" -out "$dir/cert.pem" \
		-subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
		-addext "extendedKeyUsage=serverAuth" \
		>/dev/null 2>&1 || die "openssl could not create a certificate in $dir"
	chmod 600 "$dir/key.pem"
	chmod 644 "$dir/cert.pem"
}

write_conf() { # dir uid gid
	local dir=$1 uid=$2 gid=$3 dh=""
	if [[ -f /usr/share/dovecot/dh.pem ]]; then
		dh="ssl_dh = </usr/share/dovecot/dh.pem"
	fi
	cat >"$dir/dovecot.conf" <<EOF
# Generated by scripts/dovecot.sh: a private instance for fetchd's tests.
instance_name = fetchd-test-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
debug_log_path = $dir/dovecot.log
protocols = pop3 lmtp
listen = 127.0.0.1, 127.0.0.2
shutdown_clients = yes

ssl = yes
ssl_cert = <$dir/cert.pem
ssl_key = <$dir/key.pem
$dh
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256
auth_verbose = yes

# Any user name logs in with the password "$PASSWORD" and gets its own fresh mailbox.
passdb {
  driver = static
  args = password=$PASSWORD
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/home/%u allow_all_users=yes
}
first_valid_uid = $uid
first_valid_gid = $gid
mail_location = maildir:~/Maildir
postmaster_address = postmaster@localhost
pop3_uidl_format = %08Xu%08Xv

# No auth penalty: Dovecot delays every login from an IP after failed ones (2, 4, 8,
# 15 s, even a good login), and all tests connect from 127.0.0.1, so the tests
# that send a wrong password would slow down, or time out, the tests after them.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
# Performance mode (as providers run it): login and pop3 processes serve one
# connection after another instead of one process per connection. Every
# test user is the same system user, which makes reusing pop3 processes
# safe. Forking per connection capped this machine at about 10 logins/s,
# which made the benchmark of many accounts measure Dovecot's fork().
service pop3-login {
  service_count = 0
  process_min_avail = 2
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = $POP3S_PORT
    ssl = yes
  }
}
service pop3 {
  service_count = 0
  process_min_avail = 2
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
EOF
}

cmd_start() {
	local dir=$1
	need_root
	cmd_install
	ensure_user
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	check_reachable "$dir"
	if pid=$(master_pid "$dir"); then
		die "a Dovecot instance is already running under $dir (pid $pid); run: $0 stop $dir"
	fi
	pick_ports

	local uid gid
	uid=$(id -u "$MAIL_USER")
	gid=$(id -g "$MAIL_USER")
	chmod 755 "$dir"
	mkdir -p "$dir/run" "$dir/state" "$dir/home"
	chmod 755 "$dir/run" "$dir/state"
	chown "$uid:$gid" "$dir/home"
	chmod 755 "$dir/home"
	: >"$dir/dovecot.log"
	[[ -s $dir/cert.pem && -s $dir/key.pem ]] || write_cert "$dir"
	write_conf "$dir" "$uid" "$gid"

	dovecot -c "$dir/dovecot.conf" 2>>"$dir/dovecot.log" || {
		log_tail "$dir"
		die "dovecot -c $dir/dovecot.conf failed to start"
	}

	local deadline=$((SECONDS + START_TIMEOUT))
	until port_open 127.0.0.1 "$POP3_PORT" && port_open 127.0.0.1 "$POP3S_PORT" &&
		port_open 127.0.0.2 "$POP3S_PORT" && port_open 127.0.0.1 "$LMTP_PORT"; do
		if ((SECONDS >= deadline)); then
			log_tail "$dir"
			cmd_stop "$dir" || true
			die "Dovecot did not accept connections on ports $POP3_PORT/$POP3S_PORT/$LMTP_PORT within ${START_TIMEOUT}s"
		fi
		if ! master_pid "$dir" >/dev/null; then
			log_tail "$dir"
			die "Dovecot exited during startup"
		fi
		sleep 0.1
	done

	cat >"$dir/env" <<EOF
FETCHD_DOVECOT_DIR=$dir
FETCHD_DOVECOT_CONF=$dir/dovecot.conf
FETCHD_DOVECOT_LOG=$dir/dovecot.log
FETCHD_DOVECOT_POP3=127.0.0.1:$POP3_PORT
FETCHD_DOVECOT_POP3S=127.0.0.1:$POP3S_PORT
FETCHD_DOVECOT_LMTP=127.0.0.1:$LMTP_PORT
FETCHD_DOVECOT_LMTP_SOCKET=$dir/run/lmtp
FETCHD_DOVECOT_CERT=$dir/cert.pem
FETCHD_DOVECOT_HOME=$dir/home
FETCHD_DOVECOT_UID=$uid
FETCHD_DOVECOT_GID=$gid
FETCHD_DOVECOT_PASSWORD=$PASSWORD
EOF
	echo "dovecot.sh: Dovecot running under $dir (pop3 :$POP3_PORT, pop3s :$POP3S_PORT, lmtp :$LMTP_PORT); env in $dir/env" >&2
}

cmd_stop() {
	local dir=$1 pid
	[[ -d $dir ]] || return 0
	pid=$(master_pid "$dir") || return 0
	doveadm -c "$dir/dovecot.conf" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + 10))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			echo "dovecot.sh: Dovecot (pid $pid) did not stop within 10s; killing it" >&2
			kill -9 "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
}

case ${1:-} in
install)
	[[ $# -eq 1 ]] || usage
	cmd_install
	;;
start)
	[[ $# -eq 2 ]] || usage
	cmd_start "$2"
	;;
stop)
	[[ $# -eq 2 ]] || usage
	cmd_stop "$2"
	;;
*) usage ;;
esac
