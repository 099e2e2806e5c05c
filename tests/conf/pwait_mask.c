/*
 * epoll_pwait/epoll_pwait2's signal mask covers the whole call: Linux
 * installs it at entry (before it even looks at the descriptor) and puts
 * the old one back at exit, so a signal the mask blocks never runs its
 * handler while the call works, and an unreadable mask fails with EFAULT
 * even when events are ready (LTP's epoll_pwait04 checks both calls).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "sys.h"

/* An address the kernel refuses at once (beyond user space). */
#define BAD_MASK ((const sigset_t *)(uintptr_t)0xffffffffffff0000ull)

/* One LT item, readable: every wait has an event to return. */
static int ready_ep(int *efd)
{
	int ep = new_ep();
	*efd = sys_eventfd(1, EFD_NONBLOCK);
	ASSERT_GE(*efd, 0);
	ADD(ep, *efd, EPOLLIN, 7);
	return ep;
}

static void check_efault(const sigset_t *mask)
{
	int efd, ep = ready_ep(&efd);
	struct epoll_event ev;
	struct timespec ts = {0, 0};
	ASSERT_ERRNO(sys_epoll_pwait(ep, &ev, 1, 0, mask), EFAULT);
	ASSERT_ERRNO(sys_epoll_pwait2(ep, &ev, 1, &ts, mask), EFAULT);
	ASSERT_ERRNO(sys_epoll_pwait2(ep, &ev, 1, NULL, mask), EFAULT);
	/* The mask is read before the descriptor is looked up. */
	ASSERT_ERRNO(sys_epoll_pwait(-1, &ev, 1, 0, mask), EFAULT);
	ASSERT_ERRNO(sys_epoll_pwait2(-1, &ev, 1, &ts, mask), EFAULT);
	/* A valid mask: the event is there. */
	sigset_t none;
	sigemptyset(&none);
	ASSERT_EQ(sys_epoll_pwait(ep, &ev, 1, 0, &none), 1);
	ASSERT_OK(sys_close(ep));
	ASSERT_OK(sys_close(efd));
}

TEST(pwait_bad_sigmask_efault_even_with_events_ready)
{
	check_efault(BAD_MASK);
}

TEST(pwait_unmapped_sigmask_efault_even_with_events_ready)
{
	void *page =
	        mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(page != MAP_FAILED);
	check_efault(page);
	munmap(page, 4096);
}

/* A bad timeout is found before a bad mask (pwait2 reads it first). */
TEST(pwait2_bad_timeout_before_bad_sigmask)
{
	int efd, ep = ready_ep(&efd);
	struct epoll_event ev;
	struct timespec bad = {0, -1};
	ASSERT_ERRNO(sys_epoll_pwait2(ep, &ev, 1, &bad, BAD_MASK), EINVAL);
	ASSERT_OK(sys_close(ep));
	ASSERT_OK(sys_close(efd));
}

/*
 * A handler for a signal the pwait mask blocks must not run inside the
 * call: here it would wait on the same instance, which deadlocks if the
 * call is in the middle of a harvest.  A thread fires the signal at the
 * waiter as fast as it can while the waiter harvests many ready items.
 */
static int hm_ep;
static atomic_bool hm_stop;
static atomic_int hm_handled;

static void hm_handler(int sig)
{
	struct epoll_event ev[4];
	(void)sig;
	if (sys_epoll_wait(hm_ep, ev, 4, 0) >= 0)
		atomic_fetch_add(&hm_handled, 1);
}

static void *hm_killer(void *p)
{
	pthread_t target = *(pthread_t *)p;
	while (!atomic_load(&hm_stop)) {
		pthread_kill(target, SIGUSR1);
		struct timespec ts = {0, 20000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void masked_handler_run(bool pwait2)
{
	enum { NITEMS = 256 };
	int efd[NITEMS];
	struct sigaction sa = {.sa_handler = hm_handler};
	sigemptyset(&sa.sa_mask);
	ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
	hm_ep = new_ep();
	for (int i = 0; i < NITEMS; i++) {
		efd[i] = new_efd(1, EFD_NONBLOCK);
		ADD(hm_ep, efd[i], EPOLLIN, (uint64_t)i);
	}
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_t self = pthread_self(), killer;
	ASSERT_EQ(pthread_create(&killer, NULL, hm_killer, &self), 0);
	struct epoll_event ev[NITEMS];
	struct timespec zero = {0, 0};
	int64_t end = now_ms() + 1000;
	int rounds = 0;
	while (now_ms() < end) {
		int n = pwait2 ? sys_epoll_pwait2(hm_ep, ev, NITEMS, &zero,
		                                  &block)
		               : sys_epoll_pwait(hm_ep, ev, NITEMS, 0, &block);
		ASSERT_EQ(n, NITEMS);
		rounds++;
	}
	atomic_store(&hm_stop, true);
	ASSERT_EQ(pthread_join(killer, NULL), 0);
	ASSERT_GT(rounds, 0);
	ASSERT_GT(atomic_load(&hm_handled), 0); /* it did run, outside */
	for (int i = 0; i < NITEMS; i++)
		ASSERT_OK(sys_close(efd[i]));
	ASSERT_OK(sys_close(hm_ep));
}

TEST_T(pwait_masked_signal_handler_never_runs_during_harvest, 15)
{
	masked_handler_run(false);
}

TEST_T(pwait2_masked_signal_handler_never_runs_during_harvest, 15)
{
	masked_handler_run(true);
}
