/*
 * Races the kernel once got wrong (kselftest epoll59..65 are the model):
 * MOD during a wait, lost wakeups with many eventfds and threads, timeout 0
 * reporting nothing while another thread harvests a level-triggered item,
 * two waiters and two events, ADD of a ready file during a wait, ONESHOT
 * re-arming, close of the watched fd (or of the instance) during a wait.
 *
 * Every loop is bounded in time; a lost wakeup shows up as a count that
 * stops short, or a wait that times out, never as a hang.
 */
#include "sys.h"
#include "waiter.h"

#include <pthread.h>
#include <stdatomic.h>

/* TSan counts closing an fd that another thread is using as a data race. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* ---- MOD during a wait ---- */

/*
 * The waiter sleeps on an item whose mask matches nothing; MOD to a mask
 * that matches re-polls the file, queues the item and wakes the waiter,
 * which reports the new mask's event.
 */
static void mod_during_wait(int rounds, int settle_ms)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLPRI, 1); /* never true for an eventfd */
	for (int i = 0; i < rounds; i++) {
		/* counter 0: OUT true, IN false; odd rounds make it IN too */
		uint32_t want = (i & 1) ? EPOLLIN : EPOLLOUT;
		if (i & 1)
			write_u64(efd, 1);
		struct waiter w;
		waiter_start(&w, ep, 8, 2000);
		if (settle_ms)
			sleep_ms(settle_ms);
		else
			while (!atomic_load(&w.started))
				;
		MOD(ep, efd, want, 100 + i);
		waiter_join(&w);
		ASSERT_EQ(w.ret, 1);
		ASSERT_EQ_HEX(w.ev[0].events, want);
		ASSERT_EQ(w.ev[0].data.u64, 100 + i);
		MOD(ep, efd, EPOLLPRI, 1);
		if (i & 1)
			ASSERT_EQ(read_u64(efd), 1);
		struct epoll_event ev[2];
		ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 0);
	}
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(race_mod_during_wait_sleeping_waiter)
{
	mod_during_wait(4, 100);
}

TEST(race_mod_during_wait_tight_loop)
{
	mod_during_wait(300, 0);
}

/* MOD that changes only data, during a wait, then the event: new data. */
TEST(race_mod_data_during_wait)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLET, 1);
	struct waiter w;
	waiter_start(&w, ep, 8, 2000);
	sleep_ms(100);
	MOD(ep, efd, EPOLLIN | EPOLLET, 2);
	sleep_ms(50);
	ASSERT_FALSE(atomic_load(&w.done));
	write_u64(efd, 1);
	waiter_join(&w);
	ASSERT_EQ(w.ret, 1);
	ASSERT_EQ(w.ev[0].data.u64, 2);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* ---- many eventfds, many threads: no lost wakeup ---- */

#define NFD 64
#define NWRITERS 4
#define NREADERS 3
#define WRITES 4000 /* per writer */

struct storm {
	int ep, efd[NFD];
	uint32_t mode; /* EPOLLET or 0 */
	int maxevents, timeout;
	atomic_llong sum; /* values read back */
	atomic_int stop;
	atomic_llong events;
};

struct writer_arg {
	struct storm *s;
	pthread_t tid;
	unsigned seed;
};

static void *storm_writer(void *arg)
{
	struct writer_arg *a = arg;
	unsigned x = a->seed;
	for (int i = 0; i < WRITES; i++) {
		x = x * 1103515245u + 12345u;
		write_u64(a->s->efd[(x >> 16) % NFD], 1);
	}
	return NULL;
}

static void *storm_reader(void *arg)
{
	struct storm *s = arg;
	struct epoll_event ev[16];
	int64_t end = now_ms() + 8000;
	while (!atomic_load(&s->stop) && now_ms() < end) {
		int n = sys_epoll_wait(s->ep, ev, s->maxevents, s->timeout);
		ASSERT_GE(n, 0);
		atomic_fetch_add(&s->events, n);
		for (int i = 0; i < n; i++) {
			uint64_t v;
			ssize_t r =
			        sys_read(s->efd[ev[i].data.u64], &v, sizeof(v));
			if (r == sizeof(v))
				atomic_fetch_add(&s->sum, (long long)v);
			else
				ASSERT_EQ(errno, EAGAIN);
		}
	}
	return NULL;
}

static void storm_run(uint32_t mode, int maxevents, int timeout)
{
	struct storm s;
	memset(&s, 0, sizeof(s));
	s.ep = new_ep();
	s.mode = mode;
	s.maxevents = maxevents;
	s.timeout = timeout;
	for (int i = 0; i < NFD; i++) {
		s.efd[i] = new_efd(0, EFD_NONBLOCK);
		ADD(s.ep, s.efd[i], EPOLLIN | mode, (uint64_t)i);
	}
	pthread_t rd[NREADERS];
	struct writer_arg wr[NWRITERS];
	for (int i = 0; i < NREADERS; i++)
		ASSERT_EQ(pthread_create(&rd[i], NULL, storm_reader, &s), 0);
	sleep_ms(20);
	for (int i = 0; i < NWRITERS; i++) {
		wr[i].s = &s;
		wr[i].seed = 7u * (unsigned)i + 1u;
		ASSERT_EQ(
		        pthread_create(&wr[i].tid, NULL, storm_writer, &wr[i]),
		        0);
	}
	for (int i = 0; i < NWRITERS; i++)
		ASSERT_EQ(pthread_join(wr[i].tid, NULL), 0);
	long long total = (long long)NWRITERS * WRITES;
	int64_t end = now_ms() + 5000;
	while (atomic_load(&s.sum) < total && now_ms() < end)
		sleep_ms(2);
	atomic_store(&s.stop, 1);
	for (int i = 0; i < NREADERS; i++)
		ASSERT_EQ(pthread_join(rd[i], NULL), 0);
	ASSERT_EQ(atomic_load(&s.sum), total);
	ASSERT_GE(atomic_load(&s.events), 1);
	for (int i = 0; i < NFD; i++)
		ASSERT_OK(sys_close(s.efd[i]));
	ASSERT_OK(sys_close(s.ep));
}

TEST_T(race_many_eventfds_et_no_lost_wakeup, 30)
{
	storm_run(EPOLLET, 16, 100);
}

TEST_T(race_many_eventfds_et_maxevents_one, 30)
{
	storm_run(EPOLLET, 1, 100);
}

TEST_T(race_many_eventfds_lt_no_lost_wakeup, 30)
{
	storm_run(0, 16, 100);
}

/* Timeouts of 1 ms racing the writes: no event is lost either. */
TEST_T(race_many_eventfds_short_timeouts, 30)
{
	storm_run(EPOLLET, 4, 1);
}

/* ---- timeout 0 while another thread harvests an LT item ---- */

struct harvester {
	pthread_t tid;
	int ep;
	atomic_int stop;
	long rounds;
};

static void *harvester_main(void *arg)
{
	struct harvester *h = arg;
	struct epoll_event ev[1];
	while (!atomic_load(&h->stop)) {
		ASSERT_EQ(sys_epoll_wait(h->ep, ev, 1, 0), 1);
		h->rounds++;
	}
	return NULL;
}

/*
 * An LT eventfd is ready and never read; one thread harvests it in a loop.
 * The main thread's timeout-0 waits must always report it, never 0.
 */
TEST_T(race_timeout_zero_never_misses_lt_item, 20)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 5);
	write_u64(efd, 1);
	struct harvester h = {.ep = ep};
	ASSERT_EQ(pthread_create(&h.tid, NULL, harvester_main, &h), 0);
	int64_t end = now_ms() + 1000;
	int zeros = 0, i;
	struct epoll_event ev[1];
	for (i = 0; i < 100000 && now_ms() < end; i++) {
		int n = sys_epoll_wait(ep, ev, 1, 0);
		if (n == 0)
			zeros++;
		else
			ASSERT_EQ(n, 1);
	}
	atomic_store(&h.stop, 1);
	ASSERT_EQ(pthread_join(h.tid, NULL), 0);
	ASSERT_EQ(zeros, 0);
	ASSERT_GE(i, 1000);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* The same with pwait2 {0, 0} and with several items. */
TEST_T(race_timeout_zero_pwait2_many_lt_items, 20)
{
	int ep = new_ep(), efd[3];
	for (int k = 0; k < 3; k++) {
		efd[k] = new_efd(0, EFD_NONBLOCK);
		ADD(ep, efd[k], EPOLLIN, (uint64_t)k);
		write_u64(efd[k], 1);
	}
	struct harvester h = {.ep = ep};
	ASSERT_EQ(pthread_create(&h.tid, NULL, harvester_main, &h), 0);
	int64_t end = now_ms() + 1000;
	int zeros = 0, i;
	struct epoll_event ev[4];
	struct timespec zero = {0, 0};
	for (i = 0; i < 100000 && now_ms() < end; i++) {
		int n = sys_epoll_pwait2(ep, ev, 4, &zero, NULL);
		if (n == 0)
			zeros++;
		else
			ASSERT_GE(n, 1);
	}
	atomic_store(&h.stop, 1);
	ASSERT_EQ(pthread_join(h.tid, NULL), 0);
	ASSERT_EQ(zeros, 0);
	for (int k = 0; k < 3; k++)
		ASSERT_OK(sys_close(efd[k]));
	ASSERT_OK(sys_close(ep));
}

/* ---- two waiters, two events ---- */

/*
 * Two threads wait (maxevents 1) on one instance, two ET eventfds are
 * written back to back: both threads wake, each with a different one.
 */
static void two_waiters_round(int ep, int a, int b, int settle_ms)
{
	struct waiter w[2];
	waiter_start(&w[0], ep, 1, 2000);
	waiter_start(&w[1], ep, 1, 2000);
	if (settle_ms)
		sleep_ms(settle_ms);
	write_u64(a, 1);
	write_u64(b, 1);
	waiter_join(&w[0]);
	waiter_join(&w[1]);
	ASSERT_EQ(w[0].ret, 1);
	ASSERT_EQ(w[1].ret, 1);
	ASSERT_EQ(w[0].ev[0].data.u64 + w[1].ev[0].data.u64, 1 + 2);
	ASSERT_EQ(read_u64(a), 1);
	ASSERT_EQ(read_u64(b), 1);
}

TEST(race_two_waiters_two_events_both_wake)
{
	int ep = new_ep(), a = new_efd(0, EFD_NONBLOCK),
	    b = new_efd(0, EFD_NONBLOCK);
	ADD(ep, a, EPOLLIN | EPOLLET, 1);
	ADD(ep, b, EPOLLIN | EPOLLET, 2);
	two_waiters_round(ep, a, b, 100);
	for (int i = 0; i < 100; i++)
		two_waiters_round(ep, a, b, 2);
	for (int i = 0; i < 100; i++)
		two_waiters_round(ep, a, b, 0);
	ASSERT_OK(sys_close(a));
	ASSERT_OK(sys_close(b));
	ASSERT_OK(sys_close(ep));
}

/* ---- ADD of a ready file during a wait ---- */

TEST(race_add_ready_file_wakes_waiter)
{
	int ep = new_ep();
	for (int i = 0; i < 200; i++) {
		int efd = new_efd(0, EFD_NONBLOCK);
		write_u64(efd, 1);
		struct waiter w;
		waiter_start(&w, ep, 8, 2000);
		if (i == 0)
			sleep_ms(100);
		else
			while (!atomic_load(&w.started))
				;
		ADD(ep, efd, (i & 1) ? EPOLLIN | EPOLLET : EPOLLIN,
		    (uint64_t)i);
		waiter_join(&w);
		ASSERT_EQ(w.ret, 1);
		ASSERT_EQ(w.ev[0].data.u64, i);
		ASSERT_OK(sys_epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
		ASSERT_OK(sys_close(efd));
	}
	ASSERT_OK(sys_close(ep));
}

/* ---- ONESHOT re-arm: producer and consumer ---- */

struct producer {
	pthread_t tid;
	int efd, n;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	for (int i = 0; i < p->n; i++)
		write_u64(p->efd, 1);
	return NULL;
}

TEST_T(race_oneshot_rearm_consumer_sees_every_write, 20)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLONESHOT, 9);
	struct producer p = {.efd = efd, .n = 20000};
	ASSERT_EQ(pthread_create(&p.tid, NULL, producer_main, &p), 0);
	long long sum = 0;
	int64_t end = now_ms() + 8000;
	struct epoll_event ev[2];
	while (sum < p.n && now_ms() < end) {
		int n = sys_epoll_wait(ep, ev, 2, 1000);
		ASSERT_GE(n, 0);
		if (n == 0)
			continue;
		ASSERT_EQ(n, 1);
		ASSERT_EQ(ev[0].data.u64, 9);
		uint64_t v;
		ssize_t r = sys_read(efd, &v, sizeof(v));
		if (r == sizeof(v))
			sum += (long long)v;
		MOD(ep, efd, EPOLLIN | EPOLLONESHOT, 9);
	}
	ASSERT_EQ(pthread_join(p.tid, NULL), 0);
	ASSERT_EQ(sum, p.n);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* ---- ping-pong: every wakeup must arrive ---- */

struct pong {
	pthread_t tid;
	int use_poll, rounds;
	int in, out; /* eventfds: wait for in, write out */
	int ep;
	int failed_round;
};

static int wait_one(struct pong *p)
{
	if (p->use_poll) {
		struct pollfd pf = {.fd = p->in, .events = POLLIN};
		return sys_poll(&pf, 1, 2000);
	}
	struct epoll_event ev[1];
	return sys_epoll_wait(p->ep, ev, 1, 2000);
}

static void *pong_main(void *arg)
{
	struct pong *p = arg;
	for (int i = 0; i < p->rounds; i++) {
		if (wait_one(p) != 1) {
			p->failed_round = i;
			return NULL;
		}
		read_u64(p->in);
		write_u64(p->out, 1);
	}
	return NULL;
}

static void ping_pong(int use_poll, uint32_t mode)
{
	int a = new_efd(0, EFD_NONBLOCK), b = new_efd(0, EFD_NONBLOCK);
	struct pong me = {.use_poll = use_poll,
	                  .rounds = 5000,
	                  .in = b,
	                  .out = a,
	                  .failed_round = -1};
	struct pong peer = me;
	peer.in = a;
	peer.out = b;
	me.ep = new_ep();
	peer.ep = new_ep();
	ADD(me.ep, b, EPOLLIN | mode, 0);
	ADD(peer.ep, a, EPOLLIN | mode, 0);
	ASSERT_EQ(pthread_create(&peer.tid, NULL, pong_main, &peer), 0);
	int64_t t0 = now_ms();
	for (int i = 0; i < me.rounds && me.failed_round < 0; i++) {
		write_u64(me.out, 1);
		if (wait_one(&me) != 1)
			me.failed_round = i;
		else
			read_u64(me.in);
	}
	/* If a round failed here, the peer's own wait times out (2 s). */
	ASSERT_EQ(pthread_join(peer.tid, NULL), 0);
	ASSERT_EQ(me.failed_round, -1);
	ASSERT_EQ(peer.failed_round, -1);
	ASSERT_LT(now_ms() - t0, 15000);
	ASSERT_OK(sys_close(me.ep));
	ASSERT_OK(sys_close(peer.ep));
	ASSERT_OK(sys_close(a));
	ASSERT_OK(sys_close(b));
}

TEST_T(race_ping_pong_epoll_et, 30)
{
	ping_pong(0, EPOLLET);
}

TEST_T(race_ping_pong_epoll_lt, 30)
{
	ping_pong(0, 0);
}

TEST_T(race_ping_pong_poll, 30)
{
	ping_pong(1, 0);
}

/* ---- close during a wait ---- */

/*
 * Closing the last reference of the watched eventfd removes the item: the
 * waiter is not woken with anything and times out.
 */
TEST(race_close_watched_fd_during_wait)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct waiter w;
	waiter_start(&w, ep, 8, 400);
	sleep_ms(100);
	ASSERT_OK(sys_close(efd));
	waiter_join(&w);
	ASSERT_EQ(w.ret, 0);
	ASSERT_GE(w.elapsed, 400 - SLACK_MS);
	/* The registration is gone: a new file on the same number is new. */
	int efd2 = new_efd(0, EFD_NONBLOCK);
	struct epoll_event ev[2];
	write_u64(efd2, 1);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 0);
	ADD(ep, efd2, EPOLLIN, 2);
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 0), 1);
	ASSERT_EQ(ev[0].data.u64, 2);
	ASSERT_OK(sys_close(efd2));
	ASSERT_OK(sys_close(ep));
}

/* Closing the write end of a watched pipe: the reader's waiter gets HUP. */
TEST(race_close_pipe_writer_during_wait_hup)
{
	int ep = new_ep(), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ADD(ep, p[0], EPOLLIN, 3);
	struct waiter w;
	waiter_start(&w, ep, 8, 5000);
	sleep_ms(100);
	ASSERT_OK(sys_close(p[1]));
	waiter_join(&w);
	ASSERT_EQ(w.ret, 1);
	ASSERT_EQ_HEX(w.ev[0].events, EPOLLHUP);
	ASSERT_EQ(w.ev[0].data.u64, 3);
	ASSERT_LT(w.elapsed, LATE_MS);
	ASSERT_OK(sys_close(p[0]));
	ASSERT_OK(sys_close(ep));
}

/* Closing the watched read end itself: the item goes, the wait times out. */
TEST(race_close_pipe_reader_during_wait)
{
	int ep = new_ep(), p[2];
	ASSERT_OK(sys_pipe2(p, O_NONBLOCK));
	ADD(ep, p[0], EPOLLIN, 3);
	struct waiter w;
	waiter_start(&w, ep, 8, 400);
	sleep_ms(100);
	ASSERT_OK(sys_close(p[0]));
	waiter_join(&w);
	ASSERT_EQ(w.ret, 0);
	ASSERT_GE(w.elapsed, 400 - SLACK_MS);
	ASSERT_OK(sys_close(p[1]));
	ASSERT_OK(sys_close(ep));
}

/* A dup keeps the file alive: a write through it reaches the waiter. */
TEST(race_close_watched_fd_with_dup_during_wait)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 4);
	int d = sys_dup(efd);
	ASSERT_GE(d, 0);
	struct waiter w;
	waiter_start(&w, ep, 8, 5000);
	sleep_ms(100);
	ASSERT_OK(sys_close(efd));
	sleep_ms(50);
	ASSERT_FALSE(atomic_load(&w.done));
	write_u64(d, 1);
	waiter_join(&w);
	ASSERT_EQ(w.ret, 1);
	ASSERT_EQ(w.ev[0].data.u64, 4);
	ASSERT_OK(sys_close(d));
	ASSERT_OK(sys_close(ep));
}

/*
 * Closing the epoll fd while a thread waits in it: the wait holds its own
 * reference, so the instance lives on until the wait returns; an event on
 * a watched file still wakes it.
 */
TEST(race_close_epfd_during_wait)
{
	if (UNDER_TSAN)
		SKIP("closing an fd in use by another thread is a TSan race");
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 6);
	struct waiter w;
	waiter_start(&w, ep, 8, 5000);
	sleep_ms(100);
	ASSERT_OK(sys_close(ep));
	sleep_ms(50);
	ASSERT_FALSE(atomic_load(&w.done));
	write_u64(efd, 1);
	waiter_join(&w);
	ASSERT_EQ(w.ret, 1);
	ASSERT_EQ(w.ev[0].data.u64, 6);
	ASSERT_OK(sys_close(efd));
}
