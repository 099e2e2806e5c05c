/*
 * The epoll instance (the kernel's struct eventpoll): interface between the
 * API layer, which looks up descriptors and copies arguments, and the
 * engine, which does the rest in the kernel's error order.
 */
#ifndef UEP_EVENTPOLL_H
#define UEP_EVENTPOLL_H

#include <sys/epoll.h>

#include "fs/file.h"

extern const struct uepoll_file_operations uep_eventpoll_fops;

static inline bool uep_is_file_epoll(const struct uepoll_file *f)
{
	return f->f_op == &uep_eventpoll_fops;
}

/* A new epoll file with one reference, or NULL. */
struct uepoll_file *uep_ep_create(void);

/*
 * epoll_ctl after the descriptors were looked up: epf and tf carry the
 * caller's references; ev is the caller's copy (unused for DEL).
 */
int uep_ep_ctl(struct uepoll_file *epf, int op, struct uepoll_file *tf, int fd,
               struct epoll_event *ev);

/* epoll_wait after lookup and argument checks (not-an-epoll is checked here).
 */
int uep_ep_wait(struct uepoll_file *epf, struct epoll_event *events,
                int maxevents, const struct uep_deadline *dl,
                const sigset_t *sigmask);

/*
 * epoll_ctl of a kernel fd: one epoll_ctl on the instance's kernel half
 * (created by the first ADD), the kernel's errno (ep_kfd.c).
 */
int uep_ep_ctl_kernel(struct uepoll_file *epf, int op, int fd,
                      struct epoll_event *ev);

/* The kernel half of an epoll file, or -1. */
int uep_ep_kfd(struct uepoll_file *f);

/*
 * A new instance whose kernel half is kfd, a kernel epoll the caller owns
 * (the preload's epoll fd): it holds kernel fds only, and a wait sleeps
 * in kfd itself.  Returns the file with one reference, or NULL.
 */
struct uepoll_file *uep_ep_create_on(int kfd);
/*
 * Let waits and ctls of kernel fds on descriptor fd, which names f (from
 * uep_ep_create_on), go straight to its kernel half (uep_fget_epoll),
 * for as long as f holds kernel fds only.
 */
void uep_ep_set_fast_fd(struct uepoll_file *f, int fd);

/* Remove every registration watching f; called at f's final release. */
void uep_eventpoll_release_file(struct uepoll_file *f);

int uep_ep_notify(struct uepoll_file *epf, int fd);
int uep_ep_stats(struct uepoll_file *epf, struct uepoll_stats *st);
int uep_ep_fdinfo(struct uepoll_file *epf, char *buf, size_t len);
int uep_ep_item_info(struct uepoll_file *epf, int fd,
                     struct uepoll_item_info *info);

/* EPIOCGPARAMS / EPIOCSPARAMS on an instance; -EINVAL when not one. */
int uep_ep_get_params(struct uepoll_file *epf, struct epoll_params *p);
int uep_ep_set_params(struct uepoll_file *epf, const struct epoll_params *p,
                      bool net_admin);

long uep_ep_max_watches(void);
int uep_ep_set_max_watches(long n);

/* Hold (true) or release (false) the engine's global locks across a fork. */
void uep_ep_fork_lock(bool lock);

#endif
