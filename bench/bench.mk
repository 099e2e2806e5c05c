# make bench: every workload against the kernel's epoll and uepoll, side by
# side (bench/README.md).  BENCH_QUICK=1 for a run under a minute.
# make bench-callgrind: instruction counts of the hot paths.
# bench/timer_lateness.c and bench/timer.mk are a separate benchmark.
BENCH_SRC := $(filter-out bench/timer_lateness.c bench/http_wire.c,$(wildcard bench/*.c))
BENCH_BIN := $(B)/bench/uepoll-bench
BENCH_OUT := build/bench

.PHONY: bench bench-callgrind

$(BENCH_BIN): $(BENCH_SRC) bench/bench.h $(B)/libuepoll.a include/uepoll.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -o $@ $(BENCH_SRC) $(B)/libuepoll.a $(LDLIBS) -lm

bench: $(BENCH_BIN)
	@mkdir -p $(BENCH_OUT)
	$(BENCH_BIN) --out $(BENCH_OUT)

bench-callgrind: $(BENCH_BIN)
	bench/callgrind.sh $(BENCH_BIN) $(BENCH_OUT)/callgrind
