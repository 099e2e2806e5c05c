# Fault injection (issue 6): make faults [BUILD=asan].  Every allocation
# of the library fails in turn (malloc/calloc/realloc/free are wrapped).
$(B)/t/alloc-fault: tests/faults/alloc_fault.c $(B)/libuepoll.a include/uepoll.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -o $@ $< $(B)/libuepoll.a $(LDLIBS) \
		-no-pie -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

.PHONY: faults
faults: $(B)/t/alloc-fault
	$(B)/t/alloc-fault
