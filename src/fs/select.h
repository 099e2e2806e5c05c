/*
 * poll(2) over uepoll descriptors, and the sleep behind blocking reads and
 * writes: both hook a waiter on every wait queue a file's poll names (the
 * kernel's poll_wqueues), then re-poll after each wake-up.
 */
#ifndef UEP_SELECT_H
#define UEP_SELECT_H

#include <poll.h>

#include "fs/file.h"

int uep_do_poll(struct pollfd *fds, nfds_t nfds, const struct uep_deadline *dl,
                const sigset_t *sigmask);

/*
 * Sleep until f's poll reports one of want (blocking I/O).  Returns the
 * mask, or -EINTR when a signal handler without SA_RESTART ran.
 */
int uep_file_wait_ready(struct uepoll_file *f, uint32_t want);

#endif
