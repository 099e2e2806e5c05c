/*
 * Signals against epoll_wait, epoll_pwait, epoll_pwait2 and poll.
 *
 * Checked on the kernel: a handled signal makes every one of these calls
 * fail with EINTR, with or without SA_RESTART (they are never restarted);
 * ready events win over a pending signal, then an expired timeout (timeout 0
 * with a pending signal gives 0), then the signal (EINTR).  pwait/pwait2
 * install their mask for the duration of the wait only: after a normal
 * return the old mask is back before the call returns, so a signal that the
 * pwait mask let through but the call did not consume stays pending; after
 * EINTR the handler runs under the pwait mask, then the old mask is back.
 */
#include "sys.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

static atomic_int hits;

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&hits, 1);
}

static void install(int sig, int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	ASSERT_OK(sigaction(sig, &sa, NULL));
}

static void block_in_thread(int sig, int block)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	ASSERT_EQ(pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &s, NULL),
	          0);
}

static int thread_blocks(int sig)
{
	sigset_t cur;
	ASSERT_EQ(pthread_sigmask(SIG_SETMASK, NULL, &cur), 0);
	return sigismember(&cur, sig);
}

static int thread_pending(int sig)
{
	sigset_t p;
	ASSERT_OK(sigpending(&p));
	return sigismember(&p, sig);
}

/* Take a pending (blocked) signal without running its handler. */
static void consume_pending(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	struct timespec zero = {0, 0};
	ASSERT_EQ(sigtimedwait(&s, NULL, &zero), sig);
}

/* ---- a thread that waits in one of the calls ---- */

enum call { C_WAIT, C_PWAIT, C_PWAIT2, C_POLL };

struct waiter {
	pthread_t tid;
	enum call call;
	int fd;       /* epoll fd, or the fd to poll */
	int timeout;  /* ms; for pwait2 converted to a timespec, < 0: NULL */
	int use_mask; /* pwait/pwait2: pass mask, else NULL */
	sigset_t mask;
	int block_sig; /* block this signal in the thread first (0: none) */
	/* results */
	int ret, err;
	int64_t elapsed;
	int hits_at_return;
	int blocked_after; /* SIGUSR1 blocked in the thread after the call */
	struct epoll_event ev[4];
	struct pollfd pfd;
	atomic_int started;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	if (w->block_sig)
		block_in_thread(w->block_sig, 1);
	const sigset_t *mask = w->use_mask ? &w->mask : NULL;
	struct timespec ts = {w->timeout / 1000,
	                      (long)(w->timeout % 1000) * 1000000};
	/*
	 * Before `started`: the test sleeps only once it sees it, so the
	 * elapsed time covers the test's sleep even if we are preempted here.
	 */
	int64_t t0 = now_ms();
	atomic_store(&w->started, 1);
	switch (w->call) {
	case C_WAIT:
		w->ret = sys_epoll_wait(w->fd, w->ev, 4, w->timeout);
		break;
	case C_PWAIT:
		w->ret = sys_epoll_pwait(w->fd, w->ev, 4, w->timeout, mask);
		break;
	case C_PWAIT2:
		w->ret = sys_epoll_pwait2(w->fd, w->ev, 4,
		                          w->timeout < 0 ? NULL : &ts, mask);
		break;
	case C_POLL:
		w->pfd = (struct pollfd){.fd = w->fd, .events = POLLIN};
		w->ret = sys_poll(&w->pfd, 1, w->timeout);
		break;
	}
	w->err = errno;
	w->elapsed = now_ms() - t0;
	w->hits_at_return = atomic_load(&hits);
	w->blocked_after = thread_blocks(SIGUSR1);
	return NULL;
}

static void waiter_start(struct waiter *w)
{
	ASSERT_EQ(pthread_create(&w->tid, NULL, waiter_main, w), 0);
	while (!atomic_load(&w->started))
		sleep_ms(1);
}

static void waiter_join(struct waiter *w)
{
	ASSERT_EQ(pthread_join(w->tid, NULL), 0);
}

/* Start the waiter, let it fall asleep, signal it, collect the result. */
static void signal_waiter(struct waiter *w, int sig)
{
	waiter_start(w);
	sleep_ms(100);
	ASSERT_EQ(pthread_kill(w->tid, sig), 0);
	waiter_join(w);
}

static void expect_eintr(enum call call, int sa_flags, int timeout)
{
	atomic_store(&hits, 0);
	install(SIGUSR1, sa_flags);
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct waiter w = {.call = call,
	                   .fd = call == C_POLL ? efd : ep,
	                   .timeout = timeout};
	signal_waiter(&w, SIGUSR1);
	ASSERT_EQ(w.ret, -1);
	ASSERT_EQ(w.err, EINTR);
	ASSERT_EQ(w.hits_at_return, 1);
	ASSERT_GE(w.elapsed, 100 - SLACK_MS);
	ASSERT_LT(w.elapsed, LATE_MS);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(sig_wait_eintr_without_restart)
{
	expect_eintr(C_WAIT, 0, -1);
}

/* SA_RESTART does not restart epoll_wait: still EINTR (signal(7)). */
TEST(sig_wait_eintr_with_restart)
{
	expect_eintr(C_WAIT, SA_RESTART, -1);
}

TEST(sig_wait_eintr_before_timeout)
{
	expect_eintr(C_WAIT, 0, 5000);
	expect_eintr(C_WAIT, SA_RESTART, 5000);
}

TEST(sig_pwait_null_mask_eintr)
{
	expect_eintr(C_PWAIT, 0, -1);
	expect_eintr(C_PWAIT, SA_RESTART, 5000);
}

TEST(sig_pwait2_null_mask_eintr)
{
	expect_eintr(C_PWAIT2, 0, -1);
	expect_eintr(C_PWAIT2, SA_RESTART, 5000);
}

TEST(sig_poll_eintr_without_restart)
{
	expect_eintr(C_POLL, 0, -1);
	expect_eintr(C_POLL, 0, 5000);
}

/* poll with a handler that ran is never restarted either. */
TEST(sig_poll_eintr_with_restart)
{
	expect_eintr(C_POLL, SA_RESTART, -1);
	expect_eintr(C_POLL, SA_RESTART, 5000);
}

/* After EINTR the instance works as before: a later event is reported. */
TEST(sig_event_after_eintr_still_reported)
{
	install(SIGUSR1, 0);
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLET, 11);
	struct waiter w = {.call = C_WAIT, .fd = ep, .timeout = -1};
	signal_waiter(&w, SIGUSR1);
	ASSERT_EQ(w.ret, -1);
	ASSERT_EQ(w.err, EINTR);
	write_u64(efd, 1);
	struct epoll_event ev[2];
	ASSERT_EQ(sys_epoll_wait(ep, ev, 2, 1000), 1);
	ASSERT_EQ(ev[0].data.u64, 11);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/*
 * A pending signal that the pwait mask unblocks, and an item already ready:
 * the event is returned, not EINTR; the old mask is back before the call
 * returns, so the handler has not run and the signal is still pending.
 */
static void ready_beats_pending(enum call call, int timeout)
{
	atomic_store(&hits, 0);
	install(SIGUSR1, 0);
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 21);
	write_u64(efd, 1);
	block_in_thread(SIGUSR1, 1);
	ASSERT_EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
	ASSERT_TRUE(thread_pending(SIGUSR1));
	sigset_t empty;
	sigemptyset(&empty);
	struct epoll_event ev[2];
	struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000};
	int n = call == C_PWAIT
	                ? sys_epoll_pwait(ep, ev, 2, timeout, &empty)
	                : sys_epoll_pwait2(ep, ev, 2, timeout < 0 ? NULL : &ts,
	                                   &empty);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(ev[0].data.u64, 21);
	ASSERT_EQ(atomic_load(&hits), 0);
	ASSERT_TRUE(thread_blocks(SIGUSR1));
	ASSERT_TRUE(thread_pending(SIGUSR1));
	consume_pending(SIGUSR1);
	ASSERT_EQ(atomic_load(&hits), 0);
	block_in_thread(SIGUSR1, 0);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(sig_ready_event_beats_pending_signal_pwait)
{
	ready_beats_pending(C_PWAIT, -1);
	ready_beats_pending(C_PWAIT, 0);
	ready_beats_pending(C_PWAIT, 1000);
}

TEST(sig_ready_event_beats_pending_signal_pwait2)
{
	ready_beats_pending(C_PWAIT2, -1);
	ready_beats_pending(C_PWAIT2, 0);
	ready_beats_pending(C_PWAIT2, 1000);
}

/* Nothing ready, timeout 0, a pending signal let through: 0, not EINTR. */
TEST(sig_timeout_zero_with_pending_signal_gives_zero)
{
	atomic_store(&hits, 0);
	install(SIGUSR1, 0);
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	block_in_thread(SIGUSR1, 1);
	ASSERT_EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
	sigset_t empty;
	sigemptyset(&empty);
	struct epoll_event ev[2];
	struct timespec zero = {0, 0};
	ASSERT_EQ(sys_epoll_pwait(ep, ev, 2, 0, &empty), 0);
	ASSERT_EQ(sys_epoll_pwait2(ep, ev, 2, &zero, &empty), 0);
	ASSERT_EQ(atomic_load(&hits), 0);
	ASSERT_TRUE(thread_blocks(SIGUSR1));
	ASSERT_TRUE(thread_pending(SIGUSR1));
	/* With a timeout, the pending signal interrupts at once. */
	int64_t t0 = now_ms();
	ASSERT_ERRNO(sys_epoll_pwait(ep, ev, 2, 2000, &empty), EINTR);
	ASSERT_LT(now_ms() - t0, 1500);
	ASSERT_EQ(atomic_load(&hits), 1);
	ASSERT_TRUE(thread_blocks(SIGUSR1));
	ASSERT_FALSE(thread_pending(SIGUSR1));
	block_in_thread(SIGUSR1, 0);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/*
 * The thread blocks SIGUSR1, the pwait mask does not: the signal interrupts
 * the wait, the handler runs, and the thread's old mask is back afterwards.
 */
static void mask_unblocks(enum call call)
{
	atomic_store(&hits, 0);
	install(SIGUSR1, SA_RESTART);
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct waiter w = {.call = call,
	                   .fd = ep,
	                   .timeout = 5000,
	                   .use_mask = 1,
	                   .block_sig = SIGUSR1};
	sigemptyset(&w.mask);
	signal_waiter(&w, SIGUSR1);
	ASSERT_EQ(w.ret, -1);
	ASSERT_EQ(w.err, EINTR);
	ASSERT_EQ(w.hits_at_return, 1);
	ASSERT_TRUE(w.blocked_after);
	ASSERT_LT(w.elapsed, LATE_MS);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(sig_pwait_mask_unblocks_signal_interrupts)
{
	mask_unblocks(C_PWAIT);
}

TEST(sig_pwait2_mask_unblocks_signal_interrupts)
{
	mask_unblocks(C_PWAIT2);
}

/*
 * The pwait mask blocks SIGUSR1: the signal sent mid-wait does not interrupt
 * it; the wait times out (0), the old mask comes back on the way out and the
 * pending signal is delivered then, before the call returns to the caller.
 */
static void mask_blocks(enum call call)
{
	atomic_store(&hits, 0);
	install(SIGUSR1, 0);
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct waiter w = {
	        .call = call, .fd = ep, .timeout = 300, .use_mask = 1};
	sigemptyset(&w.mask);
	sigaddset(&w.mask, SIGUSR1);
	signal_waiter(&w, SIGUSR1);
	ASSERT_EQ(w.ret, 0);
	ASSERT_GE(w.elapsed, 300 - SLACK_MS);
	ASSERT_LT(w.elapsed, LATE_MS);
	ASSERT_EQ(w.hits_at_return, 1);
	ASSERT_FALSE(w.blocked_after);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(sig_pwait_mask_blocks_signal_no_interrupt)
{
	mask_blocks(C_PWAIT);
}

TEST(sig_pwait2_mask_blocks_signal_no_interrupt)
{
	mask_blocks(C_PWAIT2);
}

/* Same, but an event ends the wait: it is reported, then the handler ran. */
TEST(sig_pwait_mask_blocks_signal_event_reported)
{
	atomic_store(&hits, 0);
	install(SIGUSR1, 0);
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 31);
	struct waiter w = {
	        .call = C_PWAIT, .fd = ep, .timeout = 5000, .use_mask = 1};
	sigemptyset(&w.mask);
	sigaddset(&w.mask, SIGUSR1);
	waiter_start(&w);
	sleep_ms(100);
	ASSERT_EQ(pthread_kill(w.tid, SIGUSR1), 0);
	sleep_ms(100);
	ASSERT_EQ(atomic_load(&hits), 0);
	write_u64(efd, 1);
	waiter_join(&w);
	ASSERT_EQ(w.ret, 1);
	ASSERT_EQ(w.ev[0].data.u64, 31);
	ASSERT_EQ(w.hits_at_return, 1);
	ASSERT_FALSE(w.blocked_after);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* A mask that blocks another signal is undone after a normal return. */
TEST(sig_pwait_mask_restored_after_return)
{
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	sigset_t before, after, m;
	ASSERT_EQ(pthread_sigmask(SIG_SETMASK, NULL, &before), 0);
	ASSERT_FALSE(sigismember(&before, SIGUSR2));
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGTERM);
	struct epoll_event ev[2];
	struct timespec ts = {0, 20 * 1000 * 1000};
	ASSERT_EQ(sys_epoll_pwait(ep, ev, 2, 20, &m), 0);
	ASSERT_EQ(pthread_sigmask(SIG_SETMASK, NULL, &after), 0);
	ASSERT_FALSE(sigismember(&after, SIGUSR2));
	ASSERT_FALSE(sigismember(&after, SIGTERM));
	ASSERT_EQ(sys_epoll_pwait2(ep, ev, 2, &ts, &m), 0);
	write_u64(efd, 1);
	ASSERT_EQ(sys_epoll_pwait(ep, ev, 2, 20, &m), 1);
	ASSERT_EQ(sys_epoll_pwait2(ep, ev, 2, &ts, &m), 1);
	ASSERT_EQ(pthread_sigmask(SIG_SETMASK, NULL, &after), 0);
	ASSERT_FALSE(sigismember(&after, SIGUSR2));
	ASSERT_FALSE(sigismember(&after, SIGTERM));
	/* An empty mask (unblock all) does not leak out either. */
	block_in_thread(SIGUSR2, 1);
	sigemptyset(&m);
	ASSERT_EQ(sys_epoll_pwait(ep, ev, 2, 0, &m), 1);
	ASSERT_TRUE(thread_blocks(SIGUSR2));
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* pwait with a NULL mask keeps the thread's mask: a blocked signal waits. */
TEST(sig_pwait_null_mask_keeps_blocked_signal_blocked)
{
	atomic_store(&hits, 0);
	install(SIGUSR1, 0);
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct waiter w = {.call = C_PWAIT,
	                   .fd = ep,
	                   .timeout = 300,
	                   .block_sig = SIGUSR1};
	signal_waiter(&w, SIGUSR1);
	ASSERT_EQ(w.ret, 0);
	ASSERT_GE(w.elapsed, 300 - SLACK_MS);
	ASSERT_EQ(w.hits_at_return, 0);
	ASSERT_TRUE(w.blocked_after);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* An ignored signal is discarded: it does not interrupt the wait. */
TEST(sig_ignored_signal_does_not_interrupt)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct waiter w = {.call = C_WAIT, .fd = ep, .timeout = 300};
	signal_waiter(&w, SIGUSR1);
	ASSERT_EQ(w.ret, 0);
	ASSERT_GE(w.elapsed, 300 - SLACK_MS);
	struct waiter p = {.call = C_POLL, .fd = efd, .timeout = 300};
	signal_waiter(&p, SIGUSR1);
	ASSERT_EQ(p.ret, 0);
	ASSERT_GE(p.elapsed, 300 - SLACK_MS);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* A process-directed signal goes to the one thread that does not block it. */
TEST(sig_process_signal_interrupts_unblocked_waiter)
{
	atomic_store(&hits, 0);
	install(SIGUSR1, 0);
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	block_in_thread(SIGUSR1, 1); /* the waiter inherits this mask */
	struct waiter w = {
	        .call = C_PWAIT, .fd = ep, .timeout = 5000, .use_mask = 1};
	sigemptyset(&w.mask);
	waiter_start(&w);
	sleep_ms(100);
	ASSERT_OK(kill(getpid(), SIGUSR1));
	waiter_join(&w);
	ASSERT_EQ(w.ret, -1);
	ASSERT_EQ(w.err, EINTR);
	ASSERT_EQ(w.hits_at_return, 1);
	/* The waiter inherited the main thread's mask and got it back. */
	ASSERT_TRUE(w.blocked_after);
	ASSERT_FALSE(thread_pending(SIGUSR1));
	block_in_thread(SIGUSR1, 0);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/* Two waiters on one instance: only the signalled one returns EINTR. */
TEST(sig_only_signalled_waiter_interrupted)
{
	atomic_store(&hits, 0);
	install(SIGUSR1, 0);
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN | EPOLLET, 41);
	struct waiter a = {.call = C_WAIT, .fd = ep, .timeout = 5000};
	struct waiter b = {.call = C_WAIT, .fd = ep, .timeout = 5000};
	waiter_start(&a);
	waiter_start(&b);
	sleep_ms(100);
	ASSERT_EQ(pthread_kill(a.tid, SIGUSR1), 0);
	waiter_join(&a);
	ASSERT_EQ(a.ret, -1);
	ASSERT_EQ(a.err, EINTR);
	sleep_ms(100);
	/* b still waits, and gets the next event. */
	write_u64(efd, 1);
	waiter_join(&b);
	ASSERT_EQ(b.ret, 1);
	ASSERT_EQ(b.ev[0].data.u64, 41);
	ASSERT_GE(b.elapsed, 200 - SLACK_MS);
	ASSERT_EQ(atomic_load(&hits), 1);
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

/*
 * No handler at all, but the process is stopped and continued: epoll_wait
 * fails with EINTR (signal(7) lists it among the calls that do), while
 * poll() is restarted transparently and keeps waiting.
 */
static void stop_and_continue(enum call call, int expect_eintr)
{
	/*
	 * A stop and continue with no handler runs no userspace code, so
	 * uepoll cannot see it: its sleep is restarted by the kernel (README,
	 * Differences from Linux).
	 */
	if (SYS_IS_UEPOLL && expect_eintr)
		SKIP("uepoll cannot observe SIGSTOP/SIGCONT without a handler "
		     "(documented difference)");
	int ep = new_ep(), efd = new_efd(0, EFD_NONBLOCK);
	ADD(ep, efd, EPOLLIN, 1);
	struct waiter w = {
	        .call = call, .fd = call == C_POLL ? efd : ep, .timeout = 800};
	waiter_start(&w);
	pid_t parent = getpid();
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		sleep_ms(100);
		kill(parent, SIGSTOP);
		sleep_ms(50);
		kill(parent, SIGCONT);
		_exit(0);
	}
	waiter_join(&w);
	int status;
	ASSERT_EQ(waitpid(child, &status, 0), child);
	if (expect_eintr) {
		ASSERT_EQ(w.ret, -1);
		ASSERT_EQ(w.err, EINTR);
		ASSERT_LT(w.elapsed, 700);
	} else {
		ASSERT_EQ(w.ret, 0);
		ASSERT_GE(w.elapsed, 800 - SLACK_MS);
	}
	ASSERT_OK(sys_close(efd));
	ASSERT_OK(sys_close(ep));
}

TEST(sig_stop_continue_wait_eintr)
{
	stop_and_continue(C_WAIT, 1);
}

TEST(sig_stop_continue_poll_restarted)
{
	stop_and_continue(C_POLL, 0);
}
