#!/bin/sh
# Where the time of an HTTP request goes on lwIP + uepoll over the wire:
# bench/http_wire --only lwip under callgrind (all threads: client,
# server, the wire's driver thread), then the functions by inclusive and
# by self instruction counts, per request.
# usage: bench/lwip-callgrind.sh HTTP_WIRE_BINARY OUTDIR
set -e
bin=$1
out=$2
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "callgrind skipped: valgrind is not installed"; exit 0; }
valgrind --tool=callgrind --separate-threads=no \
	--callgrind-out-file="$out/http.out" \
	"$bin" --only lwip --seconds 4 --conns 4 >"$out/http.log" 2>&1
cat "$out/http.log"
reqs=$(sed -n 's/.*(\([0-9]*\) requests.*/\1/p' "$out/http.log")
callgrind_annotate --inclusive=yes "$out/http.out" >"$out/incl.txt" 2>/dev/null
callgrind_annotate --inclusive=no "$out/http.out" >"$out/self.txt" 2>/dev/null
for kind in incl self; do
	echo "== $kind: Ir per request ($reqs requests), top 25"
	grep -E '^ *[0-9,]+ ' "$out/$kind.txt" | head -26 | tail -25 |
		awk -v r="$reqs" '{ n = $1; gsub(",", "", n); $1 = ""; $2 = "";
			printf "%10.0f %s\n", n / r, $0 }'
done
