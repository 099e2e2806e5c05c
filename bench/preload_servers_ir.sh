#!/usr/bin/env bash
# bench/preload_servers_ir.sh (make bench-preload-ir): what the preload
# adds to a real server's work, in instructions per request, which do not
# drift with the machine's load as times do.
#
# Each server (redis-server, nginx with one worker, memcached with two
# threads) runs under valgrind --tool=callgrind twice per mode, natively
# and under tools/uepoll-run, driven on loopback by a small and a large
# run of the same client; instructions per request are
# (I_large - I_small) / (R_large - R_small), so start-up and shutdown (the
# preload's constructor, dlsym, the server's own set-up) cancel out.  The
# clients are not counted: only the server runs under valgrind.
#
# Knobs: IR_SMALL, IR_LARGE (redis and memcached requests: 2000, 10000),
# IR_WRK_SMALL, IR_WRK_LARGE (nginx: wrk seconds, 2 and 6), IR_SERVERS
# (which of them).
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=${IR_SMALL:-2000}
LARGE=${IR_LARGE:-10000}
WSMALL=${IR_WRK_SMALL:-2}
WLARGE=${IR_WRK_LARGE:-6}

for c in valgrind callgrind_annotate redis-server redis-benchmark redis-cli \
	nginx wrk curl memcached memcaslap; do
	command -v "$c" >/dev/null || { echo "skip: $c not installed"; exit 0; }
done
make -s preload

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${IR_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

port() { echo $((40000 + RANDOM % 20000)); }

# launch MODE OUT CMD...: the server under callgrind, in the background
# (with RLIMIT_NOFILE at $NOFILE if set).
launch() {
	local mode=$1 out=$2
	shift 2
	local pre=()
	[ "$mode" = preload ] && pre=(tools/uepoll-run)
	(
		[ -n "${NOFILE:-}" ] && ulimit -n "$NOFILE"
		exec "${pre[@]}" valgrind --tool=callgrind \
			--callgrind-out-file="$out" "$@" >"$out.log" 2>&1
	) &
	pids+=($!)
}

# total OUT: the program's instruction total from a callgrind file.
total() {
	callgrind_annotate "$1" 2>/dev/null |
		sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,
}

# own OUT: the instructions run in the preload's own code (exclusive
# cost of its functions; the system calls it makes are libc's and the
# kernel's, as natively).
own() {
	callgrind_annotate --threshold=100 --auto=no "$1" 2>/dev/null |
		grep 'libuepoll-preload\.so\]' |
		awk '{ gsub(",", "", $1); s += $1 } END { print s + 0 }'
}

# up CMD...: wait (up to 30 s, valgrind is slow to start) until CMD works.
up() {
	for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "server did not come up: $*" >&2
	return 1
}

# One run of each server; each prints "INSTRUCTIONS REQUESTS".
run_redis() { # MODE N
	local p out=$tmp/redis.$1.$2
	p=$(port)
	launch "$1" "$out" redis-server --port "$p" --bind 127.0.0.1 \
		--save '' --appendonly no --daemonize no --dir "$tmp"
	local pid=${pids[-1]}
	up redis-cli -p "$p" ping
	timeout 300 redis-benchmark -p "$p" -n "$2" -c 20 -t set,get -q >/dev/null
	redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
	wait "$pid" || true
	echo "$(total "$out") $((2 * $2)) $(own "$out")"
}

run_nginx() { # MODE SECONDS
	local p out=$tmp/nginx.$1.$2 dir=$tmp/nginx.$1.$2.d
	p=$(port)
	mkdir -p "$dir/www" "$dir/tmp"
	chmod 755 "$dir" "$dir/www"
	head -c 4096 /dev/zero | tr '\0' x >"$dir/www/index.html"
	cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; use epoll; }
http {
	access_log off;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	server { listen 127.0.0.1:$p; root $dir/www; }
}
CONF
	launch "$1" "$out" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
	local pid=${pids[-1]}
	up curl -sf -o /dev/null "http://127.0.0.1:$p/index.html"
	local res reqs
	res=$(timeout 120 wrk -t 1 -c 10 -d "${2}s" "http://127.0.0.1:$p/index.html")
	reqs=$(echo "$res" | sed -n 's/^ *\([0-9][0-9]*\) requests in.*/\1/p')
	kill -QUIT "$pid"
	wait "$pid" || true
	echo "$(total "$out") $((reqs + 1)) $(own "$out")" # and up's curl
}

run_memcached() { # MODE N
	local p out=$tmp/memcached.$1.$2
	p=$(port)
	# memcached sets RLIMIT_NOFILE to its connection limit, and valgrind
	# accepts only its own limit (the process's, less the 12 fds it
	# keeps): 1012 under a limit of 1024.
	NOFILE=1024 launch "$1" "$out" memcached -p "$p" -l 127.0.0.1 -t 2 \
		-U 0 -u nobody -c 1012
	local pid=${pids[-1]}
	up bash -c "exec 3<>/dev/tcp/127.0.0.1/$p"
	chmod 666 "$out" # written at exit, by the user memcached became
	timeout 300 memcaslap -s "127.0.0.1:$p" -T 1 -c 8 -x "$2" >"$out.client" 2>&1
	kill -TERM "$pid"
	wait "$pid" || true
	echo "$(total "$out") $2 $(own "$out")"
}

# per SERVER MODE SMALL LARGE: instructions per request, and those of
# the preload's own code.
per() {
	local a b
	a=$("run_$1" "$2" "$3")
	b=$("run_$1" "$2" "$4")
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
		printf "%.0f %.1f", (y[1] - x[1]) / (y[2] - x[2]),
			(y[3] - x[3]) / (y[2] - x[2]) }'
}

echo "server instructions per request, native and under the preload"
echo "($(date -u +%Y-%m-%d); callgrind, large run minus small run; own: in"
echo "the preload's own code, and its share of the preloaded server's)"
printf '%-10s %10s %10s %8s %8s %6s %7s\n' server native preload added ratio \
	own share
for s in ${IR_SERVERS:-redis nginx memcached}; do
	case $s in
	nginx) small=$WSMALL large=$WLARGE ;;
	*) small=$SMALL large=$LARGE ;;
	esac
	n=$(per "$s" native "$small" "$large")
	u=$(per "$s" preload "$small" "$large")
	awk -v s="$s" -v n="$n" -v u="$u" 'BEGIN { split(n, a, " "); split(u, b, " ");
		printf "%-10s %10d %10d %+8d %7.2f%% %6.1f %6.2f%%\n", s, a[1], b[1],
			b[1] - a[1], 100 * b[1] / a[1], b[2], 100 * b[2] / b[1] }'
done
echo "(added and ratio move with how many events each wait returns, which"
echo "differs from run to run; own is what the preload itself runs)"
