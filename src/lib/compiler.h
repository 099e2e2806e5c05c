/* Small helpers shared by every module. */
#ifndef UEP_COMPILER_H
#define UEP_COMPILER_H

#include <assert.h>
#include <stdatomic.h>

#define UEP_LIKELY(x) __builtin_expect(!!(x), 1)
#define UEP_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* For the few hot-path helpers whose call would cost more than their body. */
#define UEP_ALWAYS_INLINE inline __attribute__((always_inline))

/*
 * The path of an epoll call that only passes through to the kernel (the
 * preload's): its functions share a few pages of text (.text.hot), since
 * without PCID every system call empties the TLB and each page the path
 * touches afterwards costs a page walk.
 */
#define UEP_HOT __attribute__((hot))

#endif
