# Stress (issue 6): make stress [STRESS_SECONDS=30] [BUILD=asan|tsan].
# Other knobs (environment): STRESS_BOUND_MS (lost wake-up bound, 2000),
# STRESS_HANG_MS (watchdog, 15000).
STRESS_SECONDS ?= 30

STRESS_SRC := tests/stress/stress.c tests/stress/stress_edges.c
$(B)/t/stress: $(STRESS_SRC) tests/stress/stress.h $(B)/libuepoll.a include/uepoll.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -o $@ $(STRESS_SRC) $(B)/libuepoll.a $(LDLIBS)

.PHONY: stress
stress: $(B)/t/stress
	STRESS_SECONDS=$(STRESS_SECONDS) $(B)/t/stress
