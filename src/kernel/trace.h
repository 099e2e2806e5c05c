/* The tracing hook (uepoll_set_trace): one well-predicted branch when off. */
#ifndef UEP_TRACE_H
#define UEP_TRACE_H

#include "uepoll.h"
#include "lib/compiler.h"

extern _Atomic(uepoll_trace_fn) uep_trace_fn;
extern void *_Atomic uep_trace_arg;

static inline void uep_trace(enum uepoll_trace_kind kind, int fd,
                             uint32_t events, int count)
{
	uepoll_trace_fn fn =
	        atomic_load_explicit(&uep_trace_fn, memory_order_relaxed);
	if (UEP_LIKELY(!fn))
		return;
	struct uepoll_trace_event ev = {kind, fd, events, count};
	fn(&ev, atomic_load_explicit(&uep_trace_arg, memory_order_relaxed));
}

#endif
