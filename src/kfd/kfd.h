/*
 * The kernel-fd bridge: the kernel half of an epoll instance.  An instance
 * that watches kernel fds owns one kernel epoll holding exactly those fds,
 * with the caller's events and flags, so that the kernel decides all about
 * them (what may be registered, LT/ET, ONESHOT, EXCLUSIVE across
 * processes, the (file, fd) key, close and dup, fork).  This layer only
 * wraps the system calls; the engine's side is fs/ep_kfd.c, the design is
 * in docs/DESIGN.md ("Kernel fds: the kernel half").
 */
#ifndef UEP_KFD_H
#define UEP_KFD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "lib/sync.h"

/*
 * A new kernel epoll for uepoll's own use: close-on-exec, at a high number
 * (uep_fd_high).  Returns the fd or -errno (EMFILE, ENFILE, ENOMEM).
 */
int uep_kfd_create(void);

/* epoll_ctl on a kernel half: 0 or the kernel's -errno. */
int uep_kfd_ctl(int kfd, int op, int fd, struct epoll_event *ev);

/* The kernel half's ready events now (timeout 0): a count or -errno. */
int uep_kfd_harvest(int kfd, struct epoll_event *events, int maxevents);

/*
 * Sleep in the kernel half itself (epoll_pwait2, the mask installed by
 * the kernel) until the deadline: a count or -errno.
 */
int uep_kfd_wait(int kfd, struct epoll_event *events, int maxevents,
                 const struct uep_deadline *dl, const sigset_t *sigmask);

/* Is the kernel half readable now (poll with timeout 0)? */
bool uep_kfd_readable(int kfd);

/*
 * The eventfd that in-process wake-ups write to reach a thread asleep in
 * the kernel half: created close-on-exec at a high number, registered in
 * kfd (EPOLLIN, level-triggered, data = token).  Returns it or -errno.
 */
int uep_kfd_wake_create(int kfd, uint64_t token);
/* Empty the wake eventfd (its token was harvested). */
void uep_kfd_wake_drain(int wfd);

/* This process's id, kept across fork (a pthread_atfork child handler). */
int uep_kfd_pid(void);

/* 0 when fd is an open kernel fd, else -EBADF. */
int uep_kfd_check_fd(int fd);

/*
 * What the kernel says of fd before it looks at the epoll fd's kind:
 * -EBADF (not open, or O_PATH), -EPERM (cannot be polled) or 0.  Asks a
 * scratch kernel epoll (error paths only).
 */
int uep_kfd_probe(int fd);
/*
 * epoll_ctl's errno for open kernel fd epfd given a valid target the
 * kernel cannot name (an in-process object): EINVAL if epfd is no epoll
 * (the kernel's answer), else EBADF (a kernel epoll cannot hold it: to the
 * kernel the number does not exist).
 */
int uep_kfd_foreign_target(int epfd);

/*
 * The data word of uepoll's own registrations in a kernel half (a nested
 * instance's kernel half in its parent's): the object's address mixed with
 * a per-process random word, so that a user's data cannot be taken for one
 * except by a 2^-64 accident.
 */
uint64_t uep_kfd_token(const void *obj);

#endif
