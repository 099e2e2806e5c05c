# Differential fuzzing (issue 6): the kernel is the oracle.
#   make fuzz               libFuzzer for FUZZ_SECONDS (default 60; needs clang)
#   make fuzz-seeds         the seed-driven runner, FUZZ_SEEDS seeds (no clang)
# The bounded seed runner is also part of `make test` (tests/unit/fuzz_diff_test.c).
FUZZ_SECONDS ?= 60
FUZZ_SEEDS   ?= 20000
FUZZ_CC      ?= clang
FUZZ_HDRS    := tests/fuzz/fuzz_diff.h tests/fuzz/fuzz_more.h tests/fuzz/fuzz_kern.h

# The unit binary includes the fuzz core.
$(B)/t/unit: $(FUZZ_HDRS)

# libFuzzer: its own build of the library, instrumented for coverage.
FUZZ_B      := build/fuzz
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -pthread -Wall -Wextra -Werror \
	-Wno-unused-parameter -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_B)/%.o)

$(FUZZ_B)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fPIC -fvisibility=hidden -Iinclude -Isrc -c $< -o $@

$(FUZZ_B)/fuzz_diff: tests/fuzz/fuzz_target.c $(FUZZ_HDRS) $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Iinclude -Isrc -o $@ $< $(FUZZ_LIB_OBJ) -pthread

.PHONY: fuzz fuzz-seeds
fuzz:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "fuzz: $(FUZZ_CC) not found (libFuzzer needs clang); try make fuzz-seeds"; exit 1; }
	@$(MAKE) --no-print-directory $(FUZZ_B)/fuzz_diff
	@mkdir -p $(FUZZ_B)/corpus $(FUZZ_B)/artifacts
	$(FUZZ_B)/fuzz_diff -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_B)/artifacts/ \
		$(FUZZ_B)/corpus tests/fuzz/corpus

# In runs of FUZZ_CHUNK seeds per test (each test has its own time limit).
FUZZ_CHUNK   ?= 5000
fuzz-seeds: $(B)/t/unit
	@n=$(FUZZ_SEEDS); base=$${FUZZ_BASE:-0}; while [ $$n -gt 0 ]; do \
		c=$$(( n < $(FUZZ_CHUNK) ? n : $(FUZZ_CHUNK) )); \
		echo "fuzz-seeds: $$c seeds from base $$base"; \
		FUZZ_SEEDS=$$c FUZZ_BASE=$$base $(B)/t/unit fuzz_diff || exit 1; \
		n=$$(( n - c )); base=$$(( base + c )); \
	done

# Replay and shrink one input: fuzz-replay -s SEED [LEN] | fuzz-replay FILE
$(B)/t/fuzz-replay: tests/fuzz/fuzz_replay.c $(FUZZ_HDRS) $(B)/libuepoll.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -Isrc -o $@ $< $(B)/libuepoll.a $(LDLIBS)
