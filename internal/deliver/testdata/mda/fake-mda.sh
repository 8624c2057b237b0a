#!/bin/sh
# fake-mda.sh: a stand-in MDA for mda_test.go, driven by its arguments since
# the MDA target gives commands a clean environment.
#
#   fake-mda.sh OUT MODE [ARG...]
#
# Every mode first writes its arguments after MODE to OUT.args, one a line,
# and its environment to OUT.env. Then:
#   copy [CODE]     copy stdin to OUT, exit CODE (default 0)
#   args ARG...     copy stdin to OUT, exit 0
#   signal          copy stdin to OUT, then kill itself with SIGKILL
#   noread          exit 0 without reading stdin
#   head N          read only the first N bytes of stdin, exit 0
#   sleep           start a grandchild "sleep 60" (its pid to OUT.pid), then sleep 60
#   linger          read stdin, leave a grandchild holding stderr open (pid to OUT.pid), exit 0
#   stderr N CODE   read stdin, write N numbered lines and one long line to stderr, exit CODE
#   id              read stdin, write "id -u", "id -G", $HOME and the working directory to OUT
out=$1
mode=$2
shift 2
printf '%s\n' "$@" > "$out.args"
env > "$out.env"
case $mode in
copy)
	cat > "$out"
	exit "${1:-0}"
	;;
args)
	cat > "$out"
	exit 0
	;;
signal)
	cat > "$out"
	kill -KILL $$
	;;
noread)
	exit 0
	;;
head)
	head -c "$1" > "$out"
	exit 0
	;;
sleep)
	sleep 60 &
	echo $! > "$out.pid"
	sleep 60
	;;
linger)
	cat > /dev/null
	sleep 60 &
	echo $! > "$out.pid"
	exit 0
	;;
stderr)
	cat > /dev/null
	i=1
	while [ "$i" -le "$1" ]; do
		echo "line $i" >&2
		i=$((i + 1))
	done
	printf 'long%01000d\n' 0 >&2
	printf 'last line, no newline' >&2
	exit "$2"
	;;
id)
	cat > /dev/null
	{ id -u; id -G; echo "$HOME"; pwd; } > "$out"
	;;
*)
	echo "fake-mda.sh: unknown mode $mode" >&2
	exit 64
	;;
esac
