# make bench-lwip: HTTP over lwIP + uepoll against kernel TCP + epoll
# (bench/README.md, "TCP/IP in userspace"): bench/http_wire.c in one
# process, bench/http_tap.sh over a TAP device from wrk.
# make bench-lwip-callgrind: where the lwIP server's time goes.
.PHONY: bench-lwip bench-lwip-callgrind
ifeq ($(HAVE_LWIP),1)
$(B)/bench/http_wire: bench/http_wire.c $(LWIP_LIB) $(B)/libuepoll.a include/uepoll.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude $(LWIP_USE_CFLAGS) -o $@ $< $(LWIP_USE_LIBS) $(B)/libuepoll.a $(LDLIBS) $(LWIP_USE_LDLIBS)

bench-lwip: $(B)/bench/http_wire $(B)/http_server
	$(B)/bench/http_wire --seconds $(or $(BENCH_SECONDS),5)
	bench/http_tap.sh $(B) $(or $(BENCH_SECONDS),5)

bench-lwip-callgrind: $(B)/bench/http_wire
	bench/lwip-callgrind.sh $(B)/bench/http_wire $(BENCH_OUT)/callgrind-lwip
else
bench-lwip bench-lwip-callgrind:
	@echo "skip $@: lwIP not found (apt-get install liblwip-dev)"
endif
