/* Small helpers shared by every module. */
#ifndef UEP_COMPILER_H
#define UEP_COMPILER_H

#include <assert.h>
#include <stdatomic.h>

#define UEP_LIKELY(x) __builtin_expect(!!(x), 1)
#define UEP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define UEP_UNUSED __attribute__((unused))
#define UEP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Defensive branches that cannot be taken (SQLite's ALWAYS/NEVER): the
 * condition is asserted in debug builds and still handled in release builds.
 */
#ifdef NDEBUG
#define UEP_ALWAYS(x) (x)
#define UEP_NEVER(x) (x)
#else
#define UEP_ALWAYS(x) ((x) ? 1 : (assert(0), 0))
#define UEP_NEVER(x) ((x) ? (assert(0), 1) : 0)
#endif

#endif
