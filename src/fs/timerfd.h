/* timerfd: the object (timerfd.c) behind the public calls (timerfd_api.c). */
#ifndef UEP_TIMERFD_H
#define UEP_TIMERFD_H

#include <sys/timerfd.h>

#include "fs/file.h"

/* Each returns a descriptor, 0, or -errno; arguments are already valid. */
int uep_timerfd_create(int clockid, int flags);
/* -EINVAL if f is not a timerfd. */
int uep_timerfd_settime(struct uepoll_file *f, int flags,
                        const struct itimerspec *new_value,
                        struct itimerspec *old_value);
int uep_timerfd_gettime(struct uepoll_file *f, struct itimerspec *cur);

#endif
