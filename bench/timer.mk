# make bench-timer: timer lateness, kernel timerfd against uepoll's, side by
# side (bench/timer_lateness.c).  Arguments: TIMER_ARGS="N TICKS ROUNDS".
.PHONY: bench-timer

$(B)/bench/timer_lateness: bench/timer_lateness.c $(B)/libuepoll.a include/uepoll.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -o $@ $< $(B)/libuepoll.a $(LDLIBS)

bench-timer: $(B)/bench/timer_lateness
	$(B)/bench/timer_lateness $(TIMER_ARGS)
