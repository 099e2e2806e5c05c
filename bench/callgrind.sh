#!/bin/sh
# Instruction counts of uepoll's hot paths (callgrind counts repeat exactly).
# Each kernel of `uepoll-bench --callgrind` runs ITERS operations; only the
# cg_* function of that kernel is collected, so Ir/op is exact.
# usage: bench/callgrind.sh BENCH_BINARY OUTDIR
set -e
bin=$1
out=$2
iters=${CG_ITERS:-10000}
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "callgrind skipped: valgrind is not installed"; exit 0; }
printf '%-8s %8s %10s %12s\n' kernel n ops Ir/op
for spec in add:1000 mod:1000 del:1000 wait1:100 wait1:10000 cycle:1; do
	what=${spec%%:*}
	n=${spec#*:}
	f="$out/$what-$n"
	valgrind --tool=callgrind --toggle-collect="cg_$what" \
		--callgrind-out-file="$f.out" \
		"$bin" --callgrind "$what" "$iters" "$n" >/dev/null 2>"$f.log"
	callgrind_annotate --inclusive=no "$f.out" >"$f.txt" 2>/dev/null
	callgrind_annotate --inclusive=yes "$f.out" >"$f.incl.txt" 2>/dev/null
	total=$(grep 'PROGRAM TOTALS' "$f.txt" | awk '{gsub(",", "", $1); print $1}')
	printf '%-8s %8s %10s %12.1f\n' "$what" "$n" "$iters" \
		"$(echo "$total / $iters" | bc -l)"
done
echo "per-function profiles: $out/*.txt (self) and *.incl.txt (inclusive)"
