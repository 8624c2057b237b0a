#!/usr/bin/env bash
# A private Postfix instance for fetchd's integration tests: an SMTP relay on
# loopback that delivers into maildirs under the test's own directory.
#
#   scripts/postfix.sh install      install Postfix with apt-get if missing (non-interactive)
#   scripts/postfix.sh start DIR    configure and start an instance under DIR, write DIR/env
#   scripts/postfix.sh stop DIR     stop the instance under DIR (idempotent)
#
# The instance accepts mail on 127.0.0.1:PORT (default 12525, override with
# FETCHD_POSTFIX_SMTP_PORT; shifted by a multiple of 100 when taken and not set)
# for the domain fetchd.test only, and delivers it with Postfix's virtual(8)
# agent into DIR/vmail/LOCAL/ (a maildir) owned by the unprivileged system user
# fetchd-test (FETCHD_POSTFIX_USER). Nothing is relayed and no local user's
# mailbox is touched.
#
# virtual(8) refuses $1 substitution in regexp tables (a security rule), so the
# addresses are a fixed pool: p000@fetchd.test … p999@fetchd.test, each to its own
# maildir DIR/vmail/pNNN/. Tests pick one and empty it first.
#
# Postfix only runs a second instance whose config directory the default
# /etc/postfix/main.cf lists in alternate_config_directories: start adds DIR/etc
# there, stop removes it again.
#
# What this Postfix changes in a message, so tests can expect it exactly:
#   - virtual(8) prepends "Return-Path: <sender>" and "Delivered-To: rcpt", and
#     smtpd prepends one "Received:" field (folded over several lines);
#   - nothing else: message_drop_headers is empty (the default drops every
#     Return-Path, Bcc and Content-Length header in the message),
#     local_header_rewrite_clients is empty (no address rewriting, no headers
#     added), MIME output conversion is off;
#   - long lines arrive whole: smtpd cuts a line longer than line_length_limit
#     (default 2048, kept) into queue records, and virtual(8) joins them again
#     when it writes the maildir; seen here with a 20 KB body line and a 3 KB
#     header line. (Only Postfix's SMTP client would break lines, at
#     smtp_line_length_limit = 998, when relaying onwards; this instance does not.)
#   - NUL bytes and 8-bit data pass unchanged (message_strip_characters and
#     message_reject_characters are empty by default).
#
# After start, DIR/env holds shell-exportable FETCHD_POSTFIX_* variables.
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin

SMTP_PORT=${FETCHD_POSTFIX_SMTP_PORT:-12525}
MAIL_USER=${FETCHD_POSTFIX_USER:-fetchd-test}
DOMAIN=fetchd.test
POOL=1000 # addresses p000 … p999
START_TIMEOUT=${FETCHD_POSTFIX_START_TIMEOUT:-30} # seconds

die() {
	echo "postfix.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 install | start DIR | stop DIR" >&2
	exit 2
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (Postfix's private instance needs its daemons and a mail user)"
}

cmd_install() {
	if command -v postfix >/dev/null 2>&1 && [[ -x /usr/lib/postfix/sbin/master ]]; then
		return 0
	fi
	need_root
	echo "postfix.sh: missing postfix: installing it" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Without these answers the package asks how mail should be delivered.
	printf '%s\n' "postfix postfix/main_mailer_type select Local only" \
		"postfix postfix/mailname string fetchd.invalid" | debconf-set-selections ||
		die "debconf-set-selections failed"
	apt-get update -qq >&2 || die "apt-get update failed"
	apt-get install -y -qq postfix >&2 || die "apt-get install postfix failed"
}

ensure_user() {
	if ! id -u "$MAIL_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$MAIL_USER" ||
			die "cannot create system user $MAIL_USER"
	fi
}

port_open() { # host port
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

pick_port() {
	port_open 127.0.0.1 "$SMTP_PORT" || return 0
	[[ -z ${FETCHD_POSTFIX_SMTP_PORT:-} ]] ||
		die "port $SMTP_PORT on 127.0.0.1 is already in use; stop what uses it or set another FETCHD_POSTFIX_SMTP_PORT"
	local base=$SMTP_PORT k
	for k in 100 200 300 400 500 600 700 800 900; do
		SMTP_PORT=$((base + k))
		if ! port_open 127.0.0.1 "$SMTP_PORT"; then
			echo "postfix.sh: port $base in use (another test run?): using $SMTP_PORT" >&2
			return 0
		fi
	done
	die "port $base (and 9 shifts by 100) are all in use"
}

# alt_dirs edits alternate_config_directories in the default main.cf: add|remove DIR.
alt_dirs() {
	local op=$1 conf=$2 cur d out=()
	cur=$(postconf -c /etc/postfix -h alternate_config_directories 2>/dev/null || true)
	for d in ${cur//,/ }; do
		[[ $d == "$conf" ]] || out+=("$d")
	done
	[[ $op == add ]] && out+=("$conf")
	if [[ ${#out[@]} -eq 0 ]]; then
		postconf -c /etc/postfix -X alternate_config_directories
	else
		postconf -c /etc/postfix -e "alternate_config_directories = ${out[*]}"
	fi || die "cannot edit alternate_config_directories in /etc/postfix/main.cf"
}

log_tail() { # dir
	if [[ -f $1/postfix.log ]]; then
		echo "--- last lines of $1/postfix.log:" >&2
		tail -n 30 "$1/postfix.log" >&2
	fi
}

write_conf() { # dir uid gid
	local dir=$1 uid=$2 gid=$3 i
	mkdir -p "$dir/etc"
	cat >"$dir/etc/main.cf" <<EOF
# Generated by scripts/postfix.sh: a private instance for fetchd's tests.
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $dir/postfix.log
maillog_file_prefixes = $dir
syslog_name = postfix-fetchd-test

inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.$DOMAIN
mydomain = $DOMAIN
myorigin = \$myhostname
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
relay_domains =
local_transport = error:5.1.1 local delivery is disabled in this test instance
default_transport = error:5.7.1 this test instance relays nothing
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_tls_security_level = none
smtp_tls_security_level = none
smtp_dns_support_level = disabled
biff = no

virtual_mailbox_domains = $DOMAIN
virtual_mailbox_base = $dir/vmail
virtual_mailbox_maps = texthash:$dir/etc/vmailbox
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_minimum_uid = $uid
virtual_mailbox_limit = 0
message_size_limit = 67108864

# Carry messages unchanged (see the header of scripts/postfix.sh).
smtputf8_enable = yes
message_drop_headers =
local_header_rewrite_clients =
disable_mime_output_conversion = yes
EOF
	cat >"$dir/etc/master.cf" <<EOF
# Generated by scripts/postfix.sh: no chroot, smtpd on 127.0.0.1:$SMTP_PORT only.
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	: >"$dir/etc/vmailbox"
	for ((i = 0; i < POOL; i++)); do
		printf 'p%03d@%s p%03d/\n' "$i" "$DOMAIN" "$i"
	done >"$dir/etc/vmailbox"
}

master_pid() { # dir → pid of a running master, or nothing
	local pidfile=$1/spool/pid/master.pid pid
	[[ -s $pidfile ]] || return 1
	pid=$(tr -d ' \n' <"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

cmd_start() {
	local dir=$1
	need_root
	cmd_install
	ensure_user
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	if pid=$(master_pid "$dir"); then
		die "a Postfix instance is already running under $dir (pid $pid); run: $0 stop $dir"
	fi
	pick_port

	local uid gid
	uid=$(id -u "$MAIL_USER")
	gid=$(id -g "$MAIL_USER")
	chmod 755 "$dir"
	mkdir -p "$dir/spool" "$dir/data" "$dir/vmail"
	chown postfix "$dir/data"
	chown "$uid:$gid" "$dir/vmail"
	chmod 755 "$dir/vmail"
	: >"$dir/postfix.log"
	write_conf "$dir" "$uid" "$gid"
	alt_dirs add "$dir/etc"

	# postfix check creates the queue directories with their owners and modes.
	postfix -c "$dir/etc" check >>"$dir/postfix.log" 2>&1 || {
		log_tail "$dir"
		die "postfix -c $dir/etc check failed"
	}
	postfix -c "$dir/etc" start >>"$dir/postfix.log" 2>&1 || {
		log_tail "$dir"
		die "postfix -c $dir/etc start failed"
	}

	local deadline=$((SECONDS + START_TIMEOUT))
	until port_open 127.0.0.1 "$SMTP_PORT"; do
		if ((SECONDS >= deadline)); then
			log_tail "$dir"
			cmd_stop "$dir" || true
			die "Postfix did not accept connections on 127.0.0.1:$SMTP_PORT within ${START_TIMEOUT}s"
		fi
		sleep 0.1
	done

	cat >"$dir/env" <<EOF
FETCHD_POSTFIX_DIR=$dir
FETCHD_POSTFIX_LOG=$dir/postfix.log
FETCHD_POSTFIX_SMTP=127.0.0.1:$SMTP_PORT
FETCHD_POSTFIX_VMAIL=$dir/vmail
FETCHD_POSTFIX_DOMAIN=$DOMAIN
FETCHD_POSTFIX_POOL=$POOL
EOF
	echo "postfix.sh: Postfix running under $dir (smtp 127.0.0.1:$SMTP_PORT, maildirs in $dir/vmail); env in $dir/env" >&2
}

cmd_stop() {
	local dir=$1 pid
	[[ -d $dir ]] || return 0
	dir=$(cd "$dir" && pwd -P)
	if pid=$(master_pid "$dir"); then
		postfix -c "$dir/etc" stop >>"$dir/postfix.log" 2>&1 || kill "$pid" 2>/dev/null || true
		local deadline=$((SECONDS + 10))
		while kill -0 "$pid" 2>/dev/null; do
			if ((SECONDS >= deadline)); then
				echo "postfix.sh: Postfix (pid $pid) did not stop within 10s; killing it" >&2
				kill -9 "$pid" 2>/dev/null || true
				break
			fi
			sleep 0.1
		done
	fi
	if command -v postconf >/dev/null 2>&1 && [[ -f /etc/postfix/main.cf ]]; then
		alt_dirs remove "$dir/etc"
	fi
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
