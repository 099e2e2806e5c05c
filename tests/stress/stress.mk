# Stress (issue 6): make stress [STRESS_SECONDS=30] [BUILD=asan|tsan].
# The workloads: the header comments of stress.c, stress_edges.c and
# stress_kfd.c (the kernel half).
# Other knobs (environment): STRESS_BOUND_MS (lost wake-up bound, 2000),
# STRESS_HANG_MS (watchdog, 15000).
STRESS_SECONDS ?= 30

STRESS_SRC := tests/stress/stress.c tests/stress/stress_edges.c \
	tests/stress/stress_kfd.c
$(B)/t/stress: $(STRESS_SRC) tests/stress/stress.h $(B)/libuepoll.a include/uepoll.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -o $@ $(STRESS_SRC) $(B)/libuepoll.a $(LDLIBS)

# With a release build, also the preload's lock-free wait/ctl path against
# the close and reuse of the epoll fd (tests/preload/preload_test.c,
# wait_ctl_race_close), as long.
ifeq ($(SAN),)
STRESS_DEPS := $(B)/t/preload-test $(B)/libuepoll-preload.so
STRESS_PRELOAD = UEPOLL_RACE_SECONDS=$(STRESS_SECONDS) tools/uepoll-run \
	$(B)/t/preload-test preload-stress preload wait_ctl_race_close
else
STRESS_PRELOAD = @echo "stress: the preload's race needs a release build (skipped)"
endif

.PHONY: stress
stress: $(B)/t/stress $(STRESS_DEPS)
	STRESS_SECONDS=$(STRESS_SECONDS) $(B)/t/stress
	$(STRESS_PRELOAD)
