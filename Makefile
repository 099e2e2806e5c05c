# uepoll: plain GNU make.  `make`, `make test`, `make demo`, `make install`.
# Variants: make BUILD=asan (ASan+UBSan), make BUILD=tsan; each in build/$(BUILD).
BUILD   ?= release
PREFIX  ?= /usr/local
CC      ?= cc
B       := build/$(BUILD)
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS_release := -O2 -g
CFLAGS_asan    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS_tsan    := -O1 -g -fsanitize=thread -Wno-tsan
ifeq ($(origin CFLAGS_$(BUILD)),undefined)
$(error unknown BUILD=$(BUILD): use release, asan or tsan)
endif
SAN     := $(filter -fsanitize=%,$(CFLAGS_$(BUILD)))
CFLAGS  := -std=gnu11 $(WARN) $(CFLAGS_$(BUILD)) -D_GNU_SOURCE -pthread
LIBCFLAGS := $(CFLAGS) -fPIC -fvisibility=hidden -fno-semantic-interposition -Iinclude -Isrc
LDLIBS  := -pthread

PC_LIBS :=

# Optional: lwIP (liblwip-dev) for the uepoll-lwip module, src/net/lwip/
# (its own library, libuepoll-lwip.a; rules in src/net/lwip/lwip.mk).
LWIP_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags lwip 2>/dev/null))
HAVE_LWIP := $(shell printf '\043include <lwip/tcpip.h>\nint main(void){tcpip_init(0,0);return 0;}\n' | $(CC) -x c - -o /dev/null $(LWIP_CFLAGS) -llwip -pthread 2>/dev/null && echo 1)
ifneq ($(HAVE_LWIP),1)
$(info lwIP not found: uepoll-lwip, its tests and demo scene are skipped (apt-get install liblwip-dev))
endif

LIB_SRC  := $(wildcard src/*/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
CONF_SRC := $(wildcard tests/conf/*.c)
HDRS     := $(wildcard include/*.h src/*/*.h src/*/*/*.h tests/*.h tests/conf/*.h)

.PHONY: all test test-unit test-kernel test-uepoll demo examples install clean format format-check
all: $(B)/libuepoll.a $(B)/libuepoll.so $(B)/uepoll.pc

V ?= 0
Q := $(if $(filter 1,$(V)),,@)

$(B)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(LIBCFLAGS) -c $< -o $@

$(B)/libuepoll.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(B)/libuepoll.so: $(LIB_OBJ)
	$(Q)$(CC) -shared $(SAN) -Wl,-soname,libuepoll.so.0 -o $@ $^ $(LDLIBS)

$(B)/uepoll.pc: uepoll.pc.in
	@mkdir -p $(B)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@LIBS@|$(PC_LIBS)|g' $< > $@

# ---- tests -------------------------------------------------------------
$(B)/t/unit: tests/runner.c $(UNIT_SRC) $(B)/libuepoll.a $(HDRS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -Iinclude -Isrc -DTEST_TARGET='"unit"' -o $@ tests/runner.c $(UNIT_SRC) $(B)/libuepoll.a $(LDLIBS)

$(B)/t/conf-kernel: tests/runner.c $(CONF_SRC) $(HDRS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -Iinclude -DTEST_TARGET='"kernel"' -o $@ tests/runner.c $(CONF_SRC) $(LDLIBS)

$(B)/t/conf-uepoll: tests/runner.c $(CONF_SRC) $(B)/libuepoll.a $(HDRS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -Iinclude $(LWIP_USE_CFLAGS) -DCONF_UEPOLL -DTEST_TARGET='"uepoll"' -o $@ tests/runner.c $(CONF_SRC) $(LWIP_USE_LIBS) $(B)/libuepoll.a $(LDLIBS) $(LWIP_USE_LDLIBS)

test-unit: $(B)/t/unit
	@$(B)/t/unit | tee $(B)/t/unit.log
test-kernel: $(B)/t/conf-kernel
	@$(B)/t/conf-kernel | tee $(B)/t/kernel.log
test-uepoll: $(B)/t/conf-uepoll
	@$(B)/t/conf-uepoll | tee $(B)/t/uepoll.log

# Runs all three (even when one fails), then prints the summed closing line.
TSAN_OPTIONS ?= halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp
ASAN_OPTIONS ?= abort_on_error=1 detect_leaks=1
export TSAN_OPTIONS ASAN_OPTIONS
test: $(B)/t/unit $(B)/t/conf-kernel $(B)/t/conf-uepoll $(EXAMPLES)
	@tools/run-tests tools/check-layers tools/check-docs $(B)/t/unit $(B)/t/conf-kernel $(B)/t/conf-uepoll $(PRELOAD_RUNS)

# ---- demo, install -------------------------------------------------------
$(B)/demo: examples/demo.c examples/demo_lwip.c $(B)/libuepoll.a include/uepoll.h
	$(Q)$(CC) $(CFLAGS) -Iinclude $(LWIP_USE_CFLAGS) -o $@ $(filter %.c,$^) $(LWIP_USE_LIBS) $(B)/libuepoll.a $(LDLIBS) $(LWIP_USE_LDLIBS)
demo: $(B)/demo
	@$(B)/demo $(B)/demo-trace.json

# Examples of the API beyond the demo; built by make test so they stay right.
EXAMPLES := $(patsubst examples/%.c,$(B)/%,$(filter-out examples/demo.c examples/demo_%.c,$(wildcard examples/*.c)))
$(B)/%: examples/%.c $(B)/libuepoll.a include/uepoll.h
	$(Q)$(CC) $(CFLAGS) -Iinclude $(LWIP_USE_CFLAGS) -o $@ $< $(LWIP_USE_LIBS) $(B)/libuepoll.a $(LDLIBS) $(LWIP_USE_LDLIBS)
examples: $(EXAMPLES)
# (make test names $(EXAMPLES) before they are defined: this builds them.)
test: examples

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/uepoll.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(B)/libuepoll.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/libuepoll.so $(DESTDIR)$(PREFIX)/lib/libuepoll.so.0
	ln -sf libuepoll.so.0 $(DESTDIR)$(PREFIX)/lib/libuepoll.so
	install -m 644 $(B)/uepoll.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

FORMAT_FILES = $(wildcard include/*.h src/*/*.[ch] src/*/*/*.[ch] tests/*.[ch] tests/*/*.[ch] bench/*.[ch] examples/*.[ch] preload/*.[ch])
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build

# Further parts of the tree bring their own rules (bench, stress, fuzz).
-include $(wildcard bench/*.mk tests/*/*.mk preload/*.mk src/*/*/*.mk)
