/*
 * A signal handler's eventfd write racing a close() of that eventfd in
 * another thread must never run the file's final release: not in the
 * handler (which may have interrupted anything, a malloc or a section
 * holding the program's own locks) and not in the deferred wake-up that a
 * handler landing inside uepoll leaves behind (which runs at the end of
 * whatever uepoll call the interrupted thread was in, under whatever locks
 * that thread's caller holds).  The final release of a watched eventfd
 * takes the watching instance's ep->mtx, so either would deadlock here:
 *
 *   target   holds the program's mutex m most of the time, and inside it
 *            writes another eventfd (a uepoll section for the handler to
 *            land in) and spins (plain code to land in);
 *   harvest  waits on an instance that watches a user object whose poll
 *            takes m (a harvest holds ep->mtx while it polls), and the
 *            eventfd the handler writes;
 *   closer   creates an eventfd, adds it to the harvested instance (and to
 *            16 more, to make the handler's write long), signals the
 *            target, and closes the eventfd as soon as the handler began.
 *
 * A release in the handler or in the target's deferred work waits for
 * ep->mtx, held by the harvest, which waits for m, held by the target: the
 * harvest's timed lock of m gives up after 2 s and the test fails.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "../runner.h"
#include "uepoll.h"

#define SWC_EXTRA 32
#define SWC_STUCK_S 2

static pthread_mutex_t swc_m = PTHREAD_MUTEX_INITIALIZER;
static atomic_int swc_cur = -1;
static atomic_int swc_in_write, swc_closing, swc_stuck, swc_done_flag;
static atomic_long swc_handled, swc_overlaps;
static pthread_t swc_target_tid;
static int swc_ep, swc_side_efd, swc_extra[SWC_EXTRA];
static struct uepoll_wait_queue *swc_wq;

static int64_t swc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void swc_handler(int sig)
{
	int saved = errno;
	uint64_t one = 1;
	(void)sig;
	atomic_store(&swc_in_write, 1);
	if (uepoll_write(atomic_load(&swc_cur), &one, sizeof(one)) ==
	            sizeof(one) &&
	    atomic_load(&swc_closing))
		atomic_fetch_add(&swc_overlaps, 1); /* ended during the close */
	atomic_store(&swc_in_write, 0);
	atomic_fetch_add(&swc_handled, 1);
	errno = saved;
}

/* The user object: always readable; its poll takes the program's mutex. */
static uint32_t swc_poll(struct uepoll_file *f, struct uepoll_poll_table *pt)
{
	uepoll_poll_wait(f, swc_wq, pt);
	/* A timed lock (trylock: TSan knows no pthread_mutex_clocklock). */
	int64_t end = swc_now_ms() + 1000 * SWC_STUCK_S;
	while (pthread_mutex_trylock(&swc_m)) {
		if (swc_now_ms() > end) {
			atomic_store(&swc_stuck, 1);
			return EPOLLIN;
		}
		sched_yield();
	}
	pthread_mutex_unlock(&swc_m);
	return EPOLLIN;
}

static const struct uepoll_file_operations swc_fops = {.poll = swc_poll};

static void *swc_target(void *arg)
{
	uint64_t one = 1;
	(void)arg;
	for (unsigned n = 0; !atomic_load(&swc_done_flag); n++) {
		pthread_mutex_lock(&swc_m);
		if (n % 2)
			uepoll_write(swc_side_efd, &one, sizeof(one));
		for (volatile int i = 0; i < 5000; i++)
			;
		pthread_mutex_unlock(&swc_m);
		for (volatile int i = 0; i < 100; i++)
			;
	}
	return NULL;
}

static void *swc_harvest(void *arg)
{
	struct epoll_event ev[4];
	(void)arg;
	while (!atomic_load(&swc_done_flag)) {
		uepoll_wait(swc_ep, ev, 4, 0);
		struct timespec ts = {0, 20 * 1000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Wait (bounded) until cond() holds; false on timeout. */
static bool swc_wait(bool (*cond)(long), long arg, int64_t ms)
{
	int64_t end = swc_now_ms() + ms;
	while (!cond(arg))
		if (swc_now_ms() > end)
			return false;
	return true;
}

static bool swc_began(long h0)
{
	return atomic_load(&swc_in_write) || atomic_load(&swc_handled) != h0;
}

static bool swc_finished(long h0)
{
	return atomic_load(&swc_handled) != h0;
}

TEST_T(eventfd_close_racing_handler_write_releases_outside_handler, 60)
{
	struct sigaction sa = {.sa_handler = swc_handler};
	sigemptyset(&sa.sa_mask);
	ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
	swc_wq = uepoll_wait_queue_create();
	ASSERT_TRUE(swc_wq != NULL);
	int obj = uepoll_file_create(&swc_fops, NULL, 0);
	ASSERT_GE(obj, 0);
	swc_ep = uepoll_create1(0);
	swc_side_efd = uepoll_eventfd(0, EFD_NONBLOCK);
	ASSERT_GE(swc_ep, 0);
	ASSERT_GE(swc_side_efd, 0);
	struct epoll_event e = {.events = EPOLLIN};
	ASSERT_OK(uepoll_ctl(swc_ep, EPOLL_CTL_ADD, obj, &e));
	for (int i = 0; i < SWC_EXTRA; i++) {
		swc_extra[i] = uepoll_create1(0);
		ASSERT_GE(swc_extra[i], 0);
		ASSERT_OK(uepoll_ctl(swc_extra[i], EPOLL_CTL_ADD, swc_side_efd,
		                     &e));
	}
	pthread_t th[2];
	ASSERT_EQ(pthread_create(&th[0], NULL, swc_target, NULL), 0);
	swc_target_tid = th[0];
	ASSERT_EQ(pthread_create(&th[1], NULL, swc_harvest, NULL), 0);

	/* Until 500 handler writes ended during their close, or 6 s. */
	int64_t end = swc_now_ms() + 6000;
	long rounds = 0;
	while (atomic_load(&swc_overlaps) < 500 && swc_now_ms() < end &&
	       !atomic_load(&swc_stuck)) {
		int efd = uepoll_eventfd(0, EFD_NONBLOCK);
		ASSERT_GE(efd, 0);
		ASSERT_OK(uepoll_ctl(swc_ep, EPOLL_CTL_ADD, efd, &e));
		for (int i = 0; i < SWC_EXTRA; i++)
			ASSERT_OK(uepoll_ctl(swc_extra[i], EPOLL_CTL_ADD, efd,
			                     &e));
		atomic_store(&swc_cur, efd);
		long h0 = atomic_load(&swc_handled);
		ASSERT_EQ(pthread_kill(swc_target_tid, SIGUSR1), 0);
		swc_wait(swc_began, h0, 1000);
		atomic_store(&swc_closing, 1);
		ASSERT_OK(uepoll_close(efd));
		atomic_store(&swc_closing, 0);
		/* A handler stuck in a release is freed by the timed lock. */
		ASSERT_TRUE(swc_wait(swc_finished, h0, 4000 * SWC_STUCK_S));
		rounds++;
	}
	atomic_store(&swc_done_flag, 1);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	long overlaps = atomic_load(&swc_overlaps);
	int stuck = atomic_load(&swc_stuck);
	fprintf(stderr, "    %ld rounds, %ld handler writes ended in a close\n",
	        rounds, overlaps);
	ASSERT_EQ(stuck, 0);
	ASSERT_GT(overlaps, 0);
	/* Every closed eventfd's registration is gone: only obj is ready. */
	struct epoll_event ev[4];
	ASSERT_EQ(uepoll_wait(swc_ep, ev, 4, 0), 1);
	for (int i = 0; i < SWC_EXTRA; i++) {
		ASSERT_EQ(uepoll_wait(swc_extra[i], ev, 4, 0), 1);
		ASSERT_OK(uepoll_close(swc_extra[i]));
	}
	ASSERT_OK(uepoll_close(swc_ep));
	ASSERT_OK(uepoll_close(swc_side_efd));
	ASSERT_OK(uepoll_close(obj));
	uepoll_wait_queue_destroy(swc_wq);
}
