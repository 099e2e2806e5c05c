/*
 * The diagnostic mode's detectors (ep_diag.c) and their hooks in the
 * engine and the API.  Every hook is called behind uep_diag_on() (or, for
 * an instance's records, a non-NULL ep->diag), so the mode costs one
 * predictable branch per site when off.
 */
#ifndef UEP_EP_DIAG_H
#define UEP_EP_DIAG_H

#include <stdbool.h>
#include <stdint.h>

#include "uepoll.h"
#include "fs/file.h"
#include "kernel/diag.h"
#include "lib/list.h"

struct uep_eventpoll;
struct uep_epitem;

/* ---- hooks in the engine (eventpoll.c, ep_wait.c) ---- */
/* ep_poll_callback queued epi (ep->lock held); waiters: ep->wq not empty. */
void uep_diag_callback(struct uep_eventpoll *ep, struct uep_epitem *epi,
                       bool waiters);
/* A harvest polled epi and reported revents (0: not ready).  mtx held. */
void uep_diag_polled(struct uep_eventpoll *ep, struct uep_epitem *epi,
                     uint32_t revents);
/* A harvest ended with left on the list untouched.  mtx held. */
void uep_diag_harvest_end(struct uep_eventpoll *ep, struct uep_list *left,
                          int delivered, int maxevents);

/* epi leaves its instance (ep->lock held); the instance goes. */
void uep_diag_forget(struct uep_eventpoll *ep, struct uep_epitem *epi);
void uep_diag_free(struct uep_eventpoll *ep);

/* ---- hooks in the API ---- */
/* The descriptor by which the program knows the instance of epf. */
void uep_diag_note_epfd(struct uepoll_file *epf, int epfd);
/*
 * A uepoll_wait on epf (known as epfd) begins (n < 0), or returned n
 * (events: what it delivered).
 */
void uep_diag_wait(struct uepoll_file *epf, int epfd,
                   const struct epoll_event *events, int n);
/* A uepoll_ctl of kernel fd in epf's kernel half succeeded. */
void uep_diag_kernel_ctl(struct uepoll_file *epf, int op, int fd,
                         const struct epoll_event *ev);
/* A read or recv on f returned r. */
void uep_diag_read(struct uepoll_file *f, long r);
/* uepoll_close(fd) of a uepoll descriptor, before the close. */
void uep_diag_close(int fd);

/* ---- control and observation ---- */
void uep_diag_set(int flags, uepoll_diag_fn fn, void *arg);
bool uep_diag_has_callback(void);
/* Kernel fds registered in instance id's kernel half (seen by the mode). */
unsigned long uep_diag_kernel_count(uint32_t id);

/* ---- the summary at exit (ep_diag_summary.c) ---- */
/* Print it at exit, while the mode is on and has no callback. */
void uep_diag_summary_arm(void);
/* The counters of epi into info (counted = 0 when none).  mtx held. */
void uep_diag_item_counters(struct uep_eventpoll *ep, struct uep_epitem *epi,
                            struct uepoll_item_info *info);

#endif
