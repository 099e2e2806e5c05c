/*
 * The diagnostic mode's summary: when a program that runs with the mode on
 * (UEPOLL_DIAG=1) exits, one line per epoll instance it still holds, from
 * the instance's counters (uepoll_stats): how it was waited on, what the
 * waits returned, how often a waiter slept and woke for nothing, the
 * largest herd, and how many registrations it holds.  A program that made
 * no mistake gets only these lines; they are what the kernel's fdinfo
 * cannot tell.
 *
 * The preload's instances do their waits in the kernel; with the mode on
 * their waits take the engine's path, which counts them (ep_wait.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>

#include "fs/ep_diag.h"
#include "fs/eventpoll_int.h"
#include "fs/fdtable.h"
#include "lib/sigsafe.h"

static void summary_line(int fd, struct uepoll_file *f)
{
	struct uep_eventpoll *ep = f->private_data;
	struct uepoll_stats st;
	if (uep_ep_stats(f, &st) || !st.waits)
		return;
	int epfd = atomic_load(&ep->diag_epfd);
	unsigned long kfds = uep_diag_kernel_count(ep->id);
	char sleeps[160] = "; its waits sleep in the kernel, unseen";
	if (!ep->kernel_only)
		snprintf(sleeps, sizeof(sleeps),
		         "; %lu slept, %lu spurious wake-up(s), %lu woken "
		         "while busy polling; largest herd %lu",
		         (unsigned long)st.sleeps, (unsigned long)st.spurious,
		         (unsigned long)st.spin_wakes,
		         (unsigned long)st.herd_max);
	fprintf(stderr,
	        "uepoll diag: summary: instance %d: %lu registration(s) "
	        "(%lu kernel fd(s)); %lu wait(s): %lu returned %lu event(s), "
	        "%lu returned none%s\n",
	        epfd >= 0 ? epfd : fd, (unsigned long)st.watches + kfds, kfds,
	        (unsigned long)st.waits,
	        (unsigned long)(st.harvests - st.empty_harvests),
	        (unsigned long)st.events, (unsigned long)st.empty_harvests,
	        sleeps);
}

/*
 * At exit.  Not from inside a uepoll section (exit() in a handler that
 * interrupted one: its locks may be held), and not when the reports go to
 * a callback, which owns the output.
 */
static void summary_at_exit(void)
{
	if (!uep_diag_on() || uep_diag_has_callback() || uep_in_engine())
		return;
	long span = uep_fd_span();
	for (long i = 0; i < span; i++) {
		int fd = UEPOLL_FD_BASE + (int)i;
		struct uepoll_file *f = uep_fget(fd);
		if (!f)
			continue;
		if (uep_is_file_epoll(f))
			summary_line(fd, f);
		uep_file_put(f);
	}
}

static void summary_register(void)
{
	atexit(summary_at_exit);
}

void uep_diag_summary_arm(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, summary_register);
}
