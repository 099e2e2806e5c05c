# The drop-in preload (issue 4): make preload -> $(B)/libuepoll-preload.so.
# It links the library's objects it needs (libuepoll.a is position
# independent), exports only the interposed libc symbols (exports.map),
# and wraps the library's own calls to those symbols so that they reach
# libc rather than the preload (see preload/real.c).
ifndef UEP_PRELOAD_MK
UEP_PRELOAD_MK := 1
PRELOAD_SRC  := $(wildcard preload/*.c)
PRELOAD_OBJ  := $(PRELOAD_SRC:%.c=$(B)/%.o)
PRELOAD_SO   := $(B)/libuepoll-preload.so
PRELOAD_WRAP := epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_pwait2 \
	close dup2 dup3 close_range closefrom syscall
preload_comma := ,

$(PRELOAD_OBJ): preload/preload.h

$(PRELOAD_SO): $(PRELOAD_OBJ) $(B)/libuepoll.a preload/exports.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(SAN) -o $@ $(PRELOAD_OBJ) $(B)/libuepoll.a \
		-Wl,--version-script=preload/exports.map -Wl,-z,defs \
		$(addprefix -Wl$(preload_comma)--wrap=,$(PRELOAD_WRAP)) \
		-ldl $(LDLIBS)

.PHONY: preload
preload: $(PRELOAD_SO)
endif
