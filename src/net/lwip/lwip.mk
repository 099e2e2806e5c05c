# uepoll-lwip (src/net/lwip/): a library of its own on top of libuepoll.a,
# built when lwIP is installed (HAVE_LWIP, detected in the Makefile).
# Programs that use it get LWIP_USE_CFLAGS, LWIP_USE_LIBS (before
# libuepoll.a) and LWIP_USE_LDLIBS; without lwIP these are empty and
# -DUEP_HAVE_LWIP is not set, so the same sources build and skip.
ifeq ($(HAVE_LWIP),1)
LWIP_SRC := $(wildcard src/net/lwip/*.c)
LWIP_OBJ := $(LWIP_SRC:%.c=$(B)/%.o)
LWIP_LIB := $(B)/libuepoll-lwip.a
$(LWIP_OBJ): LIBCFLAGS += $(LWIP_CFLAGS)

$(LWIP_LIB): $(LWIP_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

LWIP_USE_CFLAGS := -DUEP_HAVE_LWIP -Isrc/net/lwip
LWIP_USE_LIBS := $(LWIP_LIB)
LWIP_USE_LDLIBS := -llwip
all: $(LWIP_LIB)
$(B)/t/conf-uepoll $(B)/demo $(EXAMPLES): $(LWIP_LIB)
endif
