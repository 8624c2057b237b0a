# Shared by bench/run.sh and bench/daemon1000.sh: packages, users, builds, the
# private Dovecot and delay proxy, and one function per client that writes its
# configuration and prints its command line. Sourced, not run.
# shellcheck shell=bash

BENCH_USER=${FETCHD_BENCH_USER:-fetchd-bench}
PASSWORD=${FETCHD_TEST_PASSWORD:-secret}

say() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

# ensure_packages installs, with apt-get, whatever of the peers and tools is
# missing (apt-get update once, only then).
ensure_packages() {
	local want=() pair
	for pair in fetchmail:fetchmail mpop:mpop getmail:getmail6 fdm:fdm procmail:procmail \
		dovecot:dovecot-core doveadm:dovecot-core openssl:openssl setpriv:util-linux curl:curl; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || want+=("${pair#*:}")
	done
	[[ -x /usr/bin/time ]] || want+=(time)
	[[ -x /usr/lib/dovecot/pop3 ]] || want+=(dovecot-pop3d)
	((${#want[@]} == 0)) && return 0
	mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
	say "installing missing packages: ${want[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || die "apt-get update failed"
	apt-get install -y -qq "${want[@]}" >&2 || die "apt-get install ${want[*]} failed"
}

# ensure_bench_user creates the unprivileged user the clients run as (getmail
# refuses to deliver as root; the others are run the same way for fairness).
ensure_bench_user() {
	if ! id -u "$BENCH_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$BENCH_USER" ||
			die "cannot create system user $BENCH_USER"
	fi
	BU=$(id -u "$BENCH_USER")
	BG=$(id -g "$BENCH_USER")
}

# build_tools builds fetchd (from the work tree, or takes the binary named by
# FETCHD_BENCH_FETCHD) and the bench helpers into $1.
build_tools() {
	local bin=$1
	mkdir -p "$bin"
	if [[ -n ${FETCHD_BENCH_FETCHD:-} ]]; then
		say "using the fetchd binary $FETCHD_BENCH_FETCHD (FETCHD_BENCH_FETCHD)"
		cp "$FETCHD_BENCH_FETCHD" "$bin/fetchd" || die "cannot copy $FETCHD_BENCH_FETCHD"
	else
		say "building fetchd from $REPO"
		(cd "$REPO" && go build -o "$bin/fetchd" ./cmd/fetchd) ||
			die "go build ./cmd/fetchd failed: the work tree does not build (set FETCHD_BENCH_FETCHD=/path/to/fetchd to measure another binary)"
	fi
	say "building bench/{corpus,verify,delayproxy,report,daemoncheck}"
	(cd "$REPO" && go build -o "$bin/" ./bench/corpus ./bench/verify ./bench/delayproxy ./bench/report ./bench/daemoncheck) ||
		die "go build of the bench tools failed"
	chmod 755 "$bin" "$bin"/*
}

# start_dovecot DIR starts the private Dovecot on the bench's ports and loads
# DIR/env (FETCHD_DOVECOT_*).
start_dovecot() {
	local dir=$1
	"$REPO/scripts/dovecot.sh" stop "$dir" >/dev/null 2>&1 || true
	say "starting Dovecot under $dir (ports $FETCHD_DOVECOT_POP3_PORT/$FETCHD_DOVECOT_POP3S_PORT/$FETCHD_DOVECOT_LMTP_PORT)"
	"$REPO/scripts/dovecot.sh" start "$dir" || die "Dovecot did not start"
	set -a
	# shellcheck disable=SC1091
	. "$dir/env"
	set +a
	MAIL_UID=$FETCHD_DOVECOT_UID MAIL_GID=$FETCHD_DOVECOT_GID
}

# start_proxy BIN LISTENPORT UPSTREAM DELAY LOG: starts the delay proxy in the
# background, sets PROXY_PID, and waits until it listens.
start_proxy() {
	local bin=$1 port=$2 upstream=$3 delay=$4 log=$5 i
	"$bin/delayproxy" -listen "127.0.0.1:$port" -upstream "$upstream" -delay "$delay" 2>"$log" &
	PROXY_PID=$!
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		kill -0 "$PROXY_PID" 2>/dev/null || die "delay proxy exited: $(cat "$log")"
		sleep 0.05
	done
	die "delay proxy does not listen on 127.0.0.1:$port"
}

# bench_prefix sets AS_BENCH to the words that run a command as the bench user
# with a clean environment whose HOME is $C_HOME (extra VAR=value words may
# follow, before the command): "${AS_BENCH[@]}" "${C_CMD[@]}".
bench_prefix() {
	AS_BENCH=(setpriv --reuid="$BU" --regid="$BG" --clear-groups --
		env -i HOME="$C_HOME" USER="$BENCH_USER" LOGNAME="$BENCH_USER" PATH=/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8)
}

# Client configuration. Each cfg_CLIENT reads these globals:
#   C_HOME      the client's home (its config, state and maildir live there)
#   C_MAILDIR   where it delivers
#   C_PORT      the POP3 port to connect to on 127.0.0.1
#   C_TLS       1 for implicit TLS (trusting $FETCHD_DOVECOT_CERT), 0 for plain POP3
#   C_KEEP      1 keep mode, 0 delete mode
#   C_USERS     array of the POP3 user names (one account each)
# writes its files under $C_HOME and sets C_CMD (array) to the command to run
# as the bench user, and C_PRE (array, usually empty) to what runs before the
# switch to that user, as root.

cfg_fetchd() {
	local f=$C_HOME/fetchd.toml u i=0
	{
		echo "state = \"$C_HOME/state/fetchd.db\""
		echo 'log_level = "warn"'
		for u in "${C_USERS[@]}"; do
			i=$((i + 1))
			echo
			echo '[[account]]'
			echo "name = \"a$i\""
			echo 'server = "127.0.0.1"'
			echo "port = $C_PORT"
			if ((C_TLS)); then
				echo 'tls = "implicit"'
				echo "ca_file = \"$FETCHD_DOVECOT_CERT\""
			else
				echo 'tls = "none"'
				echo 'allow_insecure = true'
			fi
			echo "user = \"$u\""
			echo "password = \"$PASSWORD\""
			# USER/PASS, as every peer here logs in (auto would pick
			# SCRAM-SHA-256: more round trips and a PBKDF2).
			echo 'auth = "user"'
			if ((C_KEEP)); then
				echo 'keep = true'
				echo 'initial_sync_limit = 0'
			fi
			echo '[[account.deliver]]'
			echo "maildir = \"$C_MAILDIR\""
		done
	} >"$f"
	chmod 600 "$f"
	C_CMD=("$BIN/fetchd" once -c "$f")
}

cfg_mpop() {
	local f=$C_HOME/mpoprc u i=0
	mkdir -p "$C_HOME/uidls"
	{
		echo 'defaults'
		echo 'host 127.0.0.1'
		echo "port $C_PORT"
		echo 'auth user'
		echo "password $PASSWORD"
		if ((C_TLS)); then
			echo 'tls on'
			echo 'tls_starttls off'
			echo "tls_trust_file $FETCHD_DOVECOT_CERT"
		else
			echo 'tls off'
		fi
		echo "delivery maildir $C_MAILDIR"
		echo "uidls_file $C_HOME/uidls/%U_at_%H"
		if ((C_KEEP)); then echo 'keep on'; else echo 'keep off'; fi
		echo 'only_new on'
		for u in "${C_USERS[@]}"; do
			i=$((i + 1))
			echo
			echo "account a$i"
			echo "user $u"
		done
	} >"$f"
	chmod 600 "$f"
	C_CMD=(mpop -q -C "$f" -a)
}

cfg_fdm() {
	local f=$C_HOME/fdm.conf u i=0 proto=pop3 extra
	((C_TLS)) && proto=pop3s
	{
		echo "set lock-file \"$C_HOME/fdm.lock\""
		((C_TLS)) && echo 'set verify-certificates'
		echo "action \"md\" maildir \"$C_MAILDIR\""
		for u in "${C_USERS[@]}"; do
			i=$((i + 1))
			extra=""
			((C_KEEP)) && extra="new-only cache \"$C_HOME/cache-a$i\" keep"
			echo "account \"a$i\" $proto server \"127.0.0.1\" port $C_PORT user \"$u\" pass \"$PASSWORD\" $extra"
		done
		echo 'match all action "md"'
	} >"$f"
	chmod 600 "$f"
	# fdm has no CA file option: OpenSSL's default verify paths honour SSL_CERT_FILE.
	C_CMD=(SSL_CERT_FILE="$FETCHD_DOVECOT_CERT" fdm -q -f "$f" fetch)
}

cfg_fetchmail() {
	local f=$C_HOME/fetchmailrc rc=$C_HOME/procmailrc u i=0 tls mode
	cat >"$rc" <<EOF
LOGFILE=/dev/null
:0
$C_MAILDIR/
EOF
	if ((C_TLS)); then
		# fetchmail checks the name against the CN only, not the IP address SAN.
		tls="ssl sslcertck sslcertfile \"$FETCHD_DOVECOT_CERT\" sslcommonname localhost"
	else
		tls="sslproto ''" # no opportunistic STLS: plain POP3 like the other clients
	fi
	if ((C_KEEP)); then mode="keep"; else mode="nokeep fetchall"; fi
	{
		echo 'set no bouncemail'
		echo 'set no syslog'
		for u in "${C_USERS[@]}"; do
			i=$((i + 1))
			echo "poll \"a$i\" via 127.0.0.1 service $C_PORT proto pop3 uidl auth password"
			echo "  user \"$u\" password \"$PASSWORD\" is \"$BENCH_USER\" here $mode $tls"
			echo "  mda \"/usr/bin/procmail -m $rc\""
		done
	} >"$f"
	chmod 600 "$f"
	# Exit status 1 means "no mail": accepted by run.sh.
	C_CMD=(fetchmail -s -f "$f" --idfile "$C_HOME/.fetchids" --pidfile "$C_HOME/fetchmail.pid" --nosyslog)
}

cfg_getmail() {
	local dir=$C_HOME/getmail u i=0 args=()
	mkdir -p "$dir"
	for u in "${C_USERS[@]}"; do
		i=$((i + 1))
		{
			echo '[retriever]'
			if ((C_TLS)); then
				echo 'type = SimplePOP3SSLRetriever'
				echo "ca_certs = $FETCHD_DOVECOT_CERT"
			else
				echo 'type = SimplePOP3Retriever'
			fi
			echo 'server = 127.0.0.1'
			echo "port = $C_PORT"
			echo "username = $u"
			echo "password = $PASSWORD"
			echo
			echo '[destination]'
			echo 'type = Maildir'
			echo "path = $C_MAILDIR/"
			echo
			echo '[options]'
			echo 'verbose = 0'
			if ((C_KEEP)); then
				echo 'delete = false'
				echo 'read_all = false'
			else
				echo 'delete = true'
				echo 'read_all = true'
			fi
		} >"$dir/rc-a$i"
		chmod 600 "$dir/rc-a$i"
		args+=(-r "rc-a$i")
	done
	# getmail 6.18 installs its SIGCHLD handler after fork() and notifies a
	# condition nobody waits on yet when the delivery child exits first (getmail6
	# issues #52, #226): the poll then hangs for its 180 s timeout and gives up.
	# On one CPU under SCHED_FIFO (which the child inherits) the child cannot run
	# before the parent blocks in its wait, so the race cannot happen. Set as
	# root, before the switch to the bench user, by run.sh through C_PRE.
	C_PRE=(chrt -f 1 taskset -c 0)
	C_CMD=(getmail -q --getmaildir="$dir" "${args[@]}")
}
