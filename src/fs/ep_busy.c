/*
 * Busy polling: EPIOCSPARAMS / EPIOCGPARAMS, and the spin of a waiter
 * before it sleeps.  The kernel's busy poll spins on NAPI queues; here
 * busy_poll_usecs means spinning on the waiter's own wake-up word, which
 * is what a cross-thread wake-up of an in-process object flips.
 */
#include <errno.h>
#include <sched.h>
#include <unistd.h>

#include "fs/eventpoll_int.h"

/* The kernel's NAPI_POLL_WEIGHT: larger budgets need CAP_NET_ADMIN. */
#define EP_NAPI_POLL_WEIGHT 64

int uep_ep_get_params(struct uepoll_file *epf, struct epoll_params *p)
{
	if (!uep_is_file_epoll(epf))
		return -EINVAL;
	struct uep_eventpoll *ep = epf->private_data;
	*p = (struct epoll_params){
	        .busy_poll_usecs = atomic_load_explicit(&ep->busy_poll_usecs,
	                                                memory_order_relaxed),
	        .busy_poll_budget = atomic_load_explicit(&ep->busy_poll_budget,
	                                                 memory_order_relaxed),
	        .prefer_busy_poll = atomic_load_explicit(&ep->prefer_busy_poll,
	                                                 memory_order_relaxed),
	};
	return 0;
}

/* The kernel's checks, in its order, after the copy from the caller. */
int uep_ep_set_params(struct uepoll_file *epf, const struct epoll_params *p,
                      bool net_admin)
{
	if (!uep_is_file_epoll(epf))
		return -EINVAL;
	if (p->__pad)
		return -EINVAL;
	if (p->busy_poll_usecs > INT32_MAX)
		return -EINVAL;
	if (p->prefer_busy_poll > 1)
		return -EINVAL;
	if (p->busy_poll_budget > EP_NAPI_POLL_WEIGHT && !net_admin)
		return -EPERM;
	struct uep_eventpoll *ep = epf->private_data;
	atomic_store_explicit(&ep->busy_poll_usecs, p->busy_poll_usecs,
	                      memory_order_relaxed);
	atomic_store_explicit(&ep->busy_poll_budget, p->busy_poll_budget,
	                      memory_order_relaxed);
	atomic_store_explicit(&ep->prefer_busy_poll, p->prefer_busy_poll,
	                      memory_order_relaxed);
	return 0;
}

/* Under ep->lock (ep_wake_one_locked), only while busy polling is on. */
void uep_ep_busy_note_waker(struct uep_eventpoll *ep)
{
	atomic_store_explicit(&ep->waker_cpu, sched_getcpu(),
	                      memory_order_relaxed);
}

static bool spin_cpus_ok(void)
{
	static _Atomic long ncpu;
	long n = atomic_load_explicit(&ncpu, memory_order_relaxed);
	if (!n) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		atomic_store_explicit(&ncpu, n, memory_order_relaxed);
	}
	return n > 1;
}

/*
 * Called with w queued on ep->wq (so callbacks find it) and ep->lock
 * dropped.  The spinner's "I spin" flag is w's state word itself, left
 * IDLE: a waker's exchange in uep_waiter_wake() sees IDLE and issues no
 * futex wake, and the spinner's acquire load of WOKEN pairs with that
 * exchange's release (the queued item is visible).  If the spin ends
 * unwoken, the CAS IDLE -> SLEEPING in uep_waiter_sleep() decides: a wake
 * that came in between makes the CAS fail, a later one sees SLEEPING.
 * ep->spinning only bounds the spinners (one per instance).  A waiter
 * does not spin on the CPU its last waker ran on: there the spin would
 * only keep the waker off the CPU (two threads on one CPU), and a
 * one-CPU machine never spins.
 */
bool uep_ep_busy_wait(struct uep_eventpoll *ep, struct uep_waiter *w,
                      const struct uep_deadline *dl)
{
	uint32_t usecs = atomic_load_explicit(&ep->busy_poll_usecs,
	                                      memory_order_relaxed);
	if (UEP_LIKELY(!usecs) || !spin_cpus_ok())
		return false;
	int cpu = sched_getcpu();
	if (cpu >= 0 &&
	    cpu == atomic_load_explicit(&ep->waker_cpu, memory_order_relaxed))
		return false;
	int zero = 0;
	if (!atomic_compare_exchange_strong_explicit(&ep->spinning, &zero, 1,
	                                             memory_order_relaxed,
	                                             memory_order_relaxed))
		return false;
	bool woken = uep_waiter_spin(w, (uint64_t)usecs * 1000, dl);
	atomic_store_explicit(&ep->spinning, 0, memory_order_relaxed);
	return woken;
}
