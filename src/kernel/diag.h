/*
 * The diagnostic mode's switch (uepoll_set_diag, UEPOLL_DIAG): one
 * well-predicted branch on a global when off.  The detectors live in
 * fs/ep_diag.c; the wait queues number their wake-ups for them (a herd is
 * several waiters woken by one wake-up).
 */
#ifndef UEP_DIAG_H
#define UEP_DIAG_H

#include <stdbool.h>

#include "lib/compiler.h"
#include "lib/sync.h"

extern _Atomic int uep_diag_flags; /* UEPOLL_DIAG_*; 0: off */
/* This thread's count of wake-ups run while diagnosing. */
extern UEP_TLS unsigned uep_diag_wake_gen;

static inline bool uep_diag_on(void)
{
	return UEP_UNLIKELY(
	        atomic_load_explicit(&uep_diag_flags, memory_order_relaxed));
}

#endif
