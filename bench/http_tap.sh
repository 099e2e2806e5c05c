#!/usr/bin/env bash
# The same HTTP server, the same wrk, two stacks, inside a network
# namespace of its own: examples/http_server on lwIP + uepoll over a TAP
# device, and on the kernel's TCP + epoll (on the namespace's own address,
# which the kernel routes through loopback: no TAP on that side).
# usage: bench/http_tap.sh BUILD_DIR [SECONDS]   (root; skips otherwise)
set -euo pipefail
B=${1:-build/release}
S=${2:-5}
if [ -z "${UEP_IN_NETNS:-}" ]; then
	if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null ||
		! command -v wrk >/dev/null; then
		echo "skip http_tap: needs root, unshare and wrk"
		exit 0
	fi
	exec unshare --net env UEP_IN_NETNS=1 "$0" "$@"
fi
ip link set lo up
ip tuntap add dev uepb0 mode tap
ip addr add 10.78.0.1/24 dev uepb0
ip link set uepb0 up
"$B/http_server" --tap uepb0 --addr 10.78.0.2/24 --port 8080 --quiet &
lw=$!
"$B/http_server" --kernel --addr 10.78.0.1 --port 8081 --quiet &
kn=$!
trap 'kill $lw $kn 2>/dev/null; wait 2>/dev/null' EXIT
for u in http://10.78.0.2:8080/ http://10.78.0.1:8081/; do
	for _ in $(seq 50); do
		curl -s -m 1 "$u" >/dev/null 2>&1 && break
		sleep 0.1
	done
done
row() {
	out=$(wrk -t1 -c16 -d"${S}s" --latency "$2")
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	err=$(echo "$out" | grep -cE 'Socket errors|Non-2xx' || true)
	printf '%-24s %10s req/s   p50 %9s   p99 %9s   errors %s\n' \
		"$1" "$rps" "$p50" "$p99" "$err"
}
echo "wrk -t1 -c16 -d${S}s from the kernel side of the TAP:"
row "lwIP over TAP + uepoll" http://10.78.0.2:8080/
row "kernel TCP + epoll" http://10.78.0.1:8081/
