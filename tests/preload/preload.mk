# The preload's test (issue 4): make test-preload.  The test program is
# plain epoll, built without uepoll; tests/preload/run runs it natively and
# under tools/uepoll-run for each backend.  A sanitizer build of the
# preload cannot be preloaded into an uninstrumented program: skipped.
-include preload/preload.mk

$(B)/t/preload-test: tests/preload/preload_test.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< -ldl $(LDLIBS)

# A plain epoll program with one mistake, for the diagnostic mode (issue 13).
$(B)/t/diag-mistake: tests/preload/diag_mistake.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $<

ifeq ($(SAN),)
PRELOAD_RUNS := "tests/preload/run $(B)/t/preload-test" \
	"tests/preload/diag_run $(B)/t/diag-mistake"
test: $(B)/t/preload-test $(B)/t/diag-mistake $(PRELOAD_SO)
else
PRELOAD_RUNS := "echo 'skip preload: the preload of a sanitizer build needs an instrumented program'; echo 'preload: 0 passed, 0 failed, 1 skipped'"
endif

.PHONY: test-preload
test-preload: $(B)/t/preload-test $(PRELOAD_SO)
	@tools/run-tests $(PRELOAD_RUNS)
