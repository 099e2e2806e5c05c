# make bench: every workload against the kernel's epoll and uepoll, side by
# side (bench/README.md).  BENCH_QUICK=1 for a run under a minute.
# make bench-callgrind: instruction counts of the hot paths.
# bench/timer_lateness.c and bench/timer.mk are a separate benchmark, and
# so are bench/herd_kfd.c (make bench-herd), bench/preload_calls.c (make
# bench-preload, and bench/preload_servers_ir.sh: make bench-preload-ir)
# and bench/http_wire.c.
BENCH_SRC := $(filter-out bench/timer_lateness.c bench/herd_kfd.c bench/http_wire.c bench/preload_calls.c,$(wildcard bench/*.c))
BENCH_BIN := $(B)/bench/uepoll-bench
BENCH_OUT := build/bench

.PHONY: bench bench-callgrind bench-herd bench-preload bench-preload-ir

# The herd around kernel fds (bench/herd_kfd.c, issue 10).
$(B)/bench/herd-kfd: bench/herd_kfd.c $(B)/libuepoll.a include/uepoll.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -o $@ $< $(B)/libuepoll.a $(LDLIBS)

bench-herd: $(B)/bench/herd-kfd
	$(B)/bench/herd-kfd

# What the preload adds to each epoll call (bench/preload_calls.c, issue
# 10): a plain epoll program, run natively (a control) and preloaded.
$(B)/bench/preload-calls: bench/preload_calls.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -ldl $(LDLIBS)

bench-preload: $(B)/bench/preload-calls $(B)/libuepoll-preload.so
	$(B)/bench/preload-calls
	tools/uepoll-run $(B)/bench/preload-calls

# ... and to a whole server's work: instructions per request of redis,
# nginx and memcached, natively and preloaded, under callgrind.
bench-preload-ir: $(B)/libuepoll-preload.so
	bench/preload_servers_ir.sh

$(BENCH_BIN): $(BENCH_SRC) bench/bench.h $(B)/libuepoll.a include/uepoll.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -o $@ $(BENCH_SRC) $(B)/libuepoll.a $(LDLIBS) -lm

bench: $(BENCH_BIN)
	@mkdir -p $(BENCH_OUT)
	$(BENCH_BIN) --out $(BENCH_OUT)

bench-callgrind: $(BENCH_BIN)
	bench/callgrind.sh $(BENCH_BIN) $(BENCH_OUT)/callgrind
