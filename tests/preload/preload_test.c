/*
 * The preload's test: a plain epoll program, built without uepoll, run
 * natively and under libuepoll-preload.so (tests/preload/run); both runs
 * must pass.  The tests run one after another in this process, under
 * one alarm.  Arguments: [LABEL [EXPECTED-MODE [ONLY-THIS-TEST]]].  Closing
 * line: "MODE: N passed, N failed, N skipped".
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed_here;

#define CHECK(x)                                                               \
	do {                                                                   \
		if (!(x)) {                                                    \
			printf("  %s:%d: `%s` is false (errno %d: %s)\n",      \
			       __FILE__, __LINE__, #x, errno,                  \
			       strerror(errno));                               \
			failed_here = 1;                                       \
			return;                                                \
		}                                                              \
	} while (0)
#define CHECK_ERR(call, e) CHECK((call) == -1 && errno == (e))

static int wait_n(int ep, int ms)
{
	struct epoll_event ev[8];
	return epoll_wait(ep, ev, 8, ms);
}

static int readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r = poll(&p, 1, ms);
	return r == 1 && (p.revents & POLLIN);
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void t_create(void)
{
	CHECK_ERR(epoll_create(0), EINVAL);
	CHECK_ERR(epoll_create1(~EPOLL_CLOEXEC), EINVAL);
	int a = epoll_create(1), b = epoll_create1(EPOLL_CLOEXEC);
	CHECK(a >= 0 && b >= 0 && a < 1024 && b < 1024);
	CHECK((fcntl(a, F_GETFD) & FD_CLOEXEC) == 0);
	CHECK((fcntl(b, F_GETFD) & FD_CLOEXEC) == FD_CLOEXEC);
	CHECK(close(a) == 0 && close(b) == 0);
	CHECK_ERR(wait_n(a, 0), EBADF);
}

static void t_ctl_errors(void)
{
	int ep = epoll_create1(0), p[2], f = open("/proc/self/exe", O_RDONLY);
	CHECK(pipe(p) == 0 && f >= 0);
	struct epoll_event ev = {.events = EPOLLIN};
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], NULL), EFAULT);
	CHECK_ERR(epoll_ctl(-1, EPOLL_CTL_ADD, p[0], &ev), EBADF);
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev), EBADF);
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev), EPERM);
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
	CHECK_ERR(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev), EINVAL);
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), ENOENT);
	CHECK(add(ep, p[0], EPOLLIN, 1) == 0);
	CHECK_ERR(add(ep, p[0], EPOLLIN, 1), EEXIST);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0);
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), ENOENT);
	CHECK_ERR(epoll_wait(ep, (struct epoll_event[1]){}, 0, 0), EINVAL);
	CHECK_ERR(epoll_wait(p[0], (struct epoll_event[1]){}, 1, 0), EINVAL);
	close(f);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void t_level_edge_oneshot(void)
{
	int ep = epoll_create1(0), a[2], b[2], c[2];
	CHECK(pipe2(a, O_NONBLOCK) == 0 && pipe2(b, O_NONBLOCK) == 0 &&
	      pipe2(c, O_NONBLOCK) == 0);
	CHECK(add(ep, a[0], EPOLLIN, 1) == 0);
	CHECK(add(ep, b[0], EPOLLIN | EPOLLET, 2) == 0);
	CHECK(add(ep, c[0], EPOLLIN | EPOLLONESHOT, 3) == 0);
	CHECK(wait_n(ep, 0) == 0);
	CHECK(write(a[1], "x", 1) == 1 && write(b[1], "x", 1) == 1 &&
	      write(c[1], "x", 1) == 1);
	struct epoll_event ev[8];
	CHECK(epoll_wait(ep, ev, 8, 1000) == 3);
	CHECK(ev[0].data.u64 + ev[1].data.u64 + ev[2].data.u64 == 6);
	CHECK(epoll_wait(ep, ev, 8, 0) == 1 && ev[0].data.u64 == 1); /* LT */
	CHECK(write(b[1], "y", 1) == 1); /* ET: a new wake-up, a new event */
	CHECK(epoll_wait(ep, ev, 8, 0) == 2);
	struct epoll_event re = {.events = EPOLLIN | EPOLLONESHOT,
	                         .data.u64 = 3};
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, c[0], &re) == 0);
	CHECK(epoll_wait(ep, ev, 8, 0) == 2); /* a (LT) and c (re-armed) */
	sigset_t none;
	sigemptyset(&none);
	CHECK(epoll_pwait(ep, ev, 8, 0, &none) == 1);
	struct timespec ts = {0, 0};
	CHECK(epoll_pwait2(ep, ev, 8, &ts, NULL) == 1);
	char buf[8];
	CHECK(read(a[0], buf, 8) == 1);
	CHECK(epoll_wait(ep, ev, 8, 0) == 0);
	ts.tv_nsec = 50 * 1000 * 1000;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(epoll_pwait2(ep, ev, 8, &ts, NULL) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec >=
	      45 * 1000 * 1000);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
		close(c[i]);
	}
	close(ep);
}

/* The epoll fd under poll and select: readable exactly when ready. */
static void t_nested_poll_select(void)
{
	int ep = epoll_create1(0), p[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0);
	CHECK(add(ep, p[0], EPOLLIN, 1) == 0);
	CHECK(!readable(ep, 0));
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(readable(ep, 1000));
	CHECK(wait_n(ep, 0) == 1);
	CHECK(readable(ep, 0)); /* level-triggered: still ready */
	fd_set r;
	FD_ZERO(&r);
	FD_SET(ep, &r);
	struct timeval tv = {0, 0};
	CHECK(select(ep + 1, &r, NULL, NULL, &tv) == 1);
	char c;
	CHECK(read(p[0], &c, 1) == 1);
	CHECK(wait_n(ep, 0) == 0);
	CHECK(!readable(ep, 0));
	FD_ZERO(&r);
	FD_SET(ep, &r);
	CHECK(select(ep + 1, &r, NULL, NULL, &tv) == 0);
	/* Never writable. */
	struct pollfd pw = {.fd = ep, .events = POLLOUT};
	CHECK(poll(&pw, 1, 0) == 0);
	close(p[0]);
	close(p[1]);
	close(ep);
}

struct delayed {
	int fd;
	int ms;
};

static void *write_later(void *arg)
{
	struct delayed *d = arg;
	usleep((useconds_t)d->ms * 1000);
	uint64_t one = 1;
	ssize_t r = write(d->fd, &one, sizeof(one));
	(void)r;
	return NULL;
}

/* A thread blocked in poll(epfd) is woken by a write to a watched pipe. */
static void t_nested_poll_blocking(void)
{
	int ep = epoll_create1(0), p[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0);
	CHECK(add(ep, p[0], EPOLLIN, 1) == 0);
	struct delayed d = {p[1], 50};
	pthread_t t;
	CHECK(pthread_create(&t, NULL, write_later, &d) == 0);
	struct pollfd pf[2] = {{.fd = ep, .events = POLLIN},
	                       {.fd = p[1], .events = POLLERR}};
	int r = poll(pf, 2, 3000);
	pthread_join(t, NULL);
	CHECK(r == 1 && pf[0].revents == POLLIN && pf[1].revents == 0);
	/* And a thread blocked in epoll_wait, for the plain case. */
	CHECK(pthread_create(&t, NULL, write_later, &d) == 0);
	CHECK(wait_n(ep, 3000) == 1);
	pthread_join(t, NULL);
	close(p[0]);
	close(p[1]);
	close(ep);
}

/* An epoll fd inside another: IN only, ELOOP, fd == epfd. */
static void t_nested_epoll(void)
{
	int inner = epoll_create1(0), outer = epoll_create1(0), p[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0);
	CHECK(add(inner, p[0], EPOLLIN, 1) == 0);
	CHECK(add(outer, inner, EPOLLIN, 2) == 0);
	CHECK_ERR(add(inner, outer, EPOLLIN, 3), ELOOP);
	int out_only = epoll_create1(0);
	CHECK(add(out_only, inner, EPOLLOUT, 4) == 0);
	CHECK(wait_n(outer, 0) == 0);
	CHECK(write(p[1], "x", 1) == 1);
	struct epoll_event ev[4];
	CHECK(epoll_wait(outer, ev, 4, 1000) == 1);
	CHECK(ev[0].data.u64 == 2 && ev[0].events == EPOLLIN);
	CHECK(wait_n(out_only, 0) == 0);
	CHECK(wait_n(inner, 0) == 1);
	close(p[0]);
	close(p[1]);
	close(out_only);
	close(outer);
	close(inner);
}

/* dup: the same instance; each number its own key; lives to the last. */
static void t_dup(void)
{
	int ep = epoll_create1(0), p[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0);
	int d1 = dup(ep), d2 = fcntl(ep, F_DUPFD_CLOEXEC, 100), d3 = 200;
	CHECK(d1 >= 0 && d2 >= 100 && dup2(ep, d3) == d3);
	CHECK((fcntl(d2, F_GETFD) & FD_CLOEXEC) == FD_CLOEXEC);
	CHECK(add(d1, p[0], EPOLLIN, 7) == 0); /* through one number... */
	CHECK_ERR(add(d2, p[0], EPOLLIN, 7), EEXIST); /* ...seen by all */
	int outer = epoll_create1(0);
	CHECK(add(outer, ep, EPOLLIN, 1) == 0);
	CHECK(add(outer, d1, EPOLLIN, 2) == 0); /* another number: a new key */
	CHECK_ERR(add(d1, d2, EPOLLIN, 0), EINVAL); /* the same file */
	CHECK(close(ep) == 0);
	CHECK(write(p[1], "x", 1) == 1);
	struct epoll_event ev[4];
	CHECK(epoll_wait(d3, ev, 4, 1000) == 1 && ev[0].data.u64 == 7);
	CHECK(readable(d2, 1000)); /* the proxy still notifies */
	/* outer: the registration of the closed number goes with the file,
	 * which d1..d3 keep open: both registrations still report. */
	CHECK(epoll_wait(outer, ev, 4, 1000) == 2);
	CHECK(close(d1) == 0 && close(d2) == 0);
	CHECK(wait_n(d3, 0) == 1);
	/* dup3 onto an epoll number replaces it. */
	int q[2];
	CHECK(pipe(q) == 0);
	CHECK(dup3(q[0], d3, O_CLOEXEC) == d3);
	CHECK_ERR(wait_n(d3, 0), EINVAL); /* now a pipe, not an epoll */
	close(d3);
	close(q[0]);
	close(q[1]);
	close(p[0]);
	close(p[1]);
	close(outer);
}

/* Closing a watched fd (last reference) removes its registration. */
static void t_close_target(void)
{
	int ep = epoll_create1(0), s[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	CHECK(add(ep, s[0], EPOLLIN, 1) == 0);
	CHECK(write(s[1], "x", 1) == 1);
	CHECK(wait_n(ep, 1000) == 1);
	CHECK(close(s[0]) == 0);
	CHECK(wait_n(ep, 0) == 0);
	/* The number, reused by a new file, is not registered. */
	int n = dup(s[1]);
	CHECK(n >= 0);
	CHECK(add(ep, n, EPOLLOUT, 2) == 0);
	close(n);
	close(s[1]);
	close(ep);
}

/* fork: the child's epoll fds keep their registrations; the parent's
 * instance is not disturbed by the child. */
static void t_fork(void)
{
	int ep = epoll_create1(0), p[2], q[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0 && pipe2(q, O_NONBLOCK) == 0);
	CHECK(add(ep, p[0], EPOLLIN, 5) == 0);
	CHECK(add(ep, q[0], EPOLLIN, 6) == 0);
	CHECK(write(p[1], "x", 1) == 1);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct epoll_event ev[4];
		int ok =
		        epoll_wait(ep, ev, 4, 1000) == 1 && ev[0].data.u64 == 5;
		char c;
		ok = ok && read(p[0], &c, 1) == 1 && wait_n(ep, 0) == 0;
		int e2 = epoll_create1(0);
		ok = ok && e2 >= 0 && add(e2, p[0], EPOLLIN, 1) == 0;
		close(ep); /* must not touch the parent's registrations */
		close(q[0]);
		_exit(ok ? 0 : 1);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(wait_n(ep, 0) == 0); /* the child drained the shared pipe */
	CHECK(write(q[1], "y", 1) == 1);
	struct epoll_event ev[4];
	CHECK(epoll_wait(ep, ev, 4, 1000) == 1 && ev[0].data.u64 == 6);
	for (int i = 0; i < 2; i++) {
		close(p[i]);
		close(q[i]);
	}
	close(ep);
}

/* A fork before any fd was registered (nginx's master and workers): the
 * child fills its copy of the instance and it works there.  Runs
 * first, before any other test registered a kernel fd. */
static void t_fork_fresh(void)
{
	int ep = epoll_create1(0), p[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int ok = add(ep, p[0], EPOLLIN, 3) == 0 && !readable(ep, 0) &&
		         write(p[1], "x", 1) == 1 && readable(ep, 1000) &&
		         wait_n(ep, 1000) == 1;
		_exit(ok ? 0 : 1);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The instance is shared with the child, as Linux shares it: the
	 * child's registration is the parent's too. */
	struct epoll_event ev[2];
	CHECK(epoll_wait(ep, ev, 2, 0) == 1 && ev[0].data.u64 == 3);
	CHECK_ERR(add(ep, p[0], EPOLLIN, 4), EEXIST);
	close(p[0]);
	close(p[1]);
	close(ep);
}

/*
 * A vfork child (posix_spawn's kind: close and dup2 before exec) runs on
 * the parent's memory: its close of a registered socket and of the epoll
 * fd are its own, and the parent's instance keeps its registration.
 */
static void t_vfork(void)
{
	int ep = epoll_create1(0), s[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s) == 0);
	CHECK(add(ep, s[0], EPOLLIN, 8) == 0);
	pid_t pid = vfork();
	if (pid == 0) {
		close(s[0]);
		close(ep);
		_exit(0);
	}
	CHECK(pid > 0);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECK(write(s[1], "x", 1) == 1);
	struct epoll_event ev[2];
	CHECK(epoll_wait(ep, ev, 2, 1000) == 1 && ev[0].data.u64 == 8);
	close(s[0]);
	close(s[1]);
	close(ep);
}

/* Under the preload the program's epoll calls reach uepoll. */
static void t_calls_reach_preload(void)
{
	Dl_info a, b, c;
	int pre = dladdr((void *)epoll_ctl, &a) && a.dli_fname &&
	          strstr(a.dli_fname, "uepoll-preload");
	if (!pre)
		return; /* native run */
	CHECK(dladdr((void *)epoll_wait, &b) && b.dli_fname &&
	      strstr(b.dli_fname, "uepoll-preload"));
	CHECK(dladdr((void *)epoll_create1, &c) && c.dli_fname &&
	      strstr(c.dli_fname, "uepoll-preload"));
}

/* An epoll with one readable pipe; the pipe's ends in p. */
static int ready_epoll(int p[2])
{
	int ep = epoll_create1(0);
	if (ep < 0 || pipe2(p, O_NONBLOCK) || add(ep, p[0], EPOLLIN, 7) ||
	    write(p[1], "x", 1) != 1)
		return -1;
	return ep;
}

/*
 * close_range and closefrom close epoll fds too; the numbers they free
 * serve new epolls at once.  A failed call, or CLOSE_RANGE_CLOEXEC,
 * leaves the epoll working.
 */
static void t_close_range(void)
{
	int p[2], q[2], ep = ready_epoll(p);
	CHECK(ep >= 0);
	CHECK_ERR(close_range((unsigned)ep, (unsigned)ep, 0x1000), EINVAL);
	CHECK_ERR(close_range((unsigned)ep + 1, (unsigned)ep, 0), EINVAL);
	CHECK(close_range((unsigned)ep, (unsigned)ep, CLOSE_RANGE_CLOEXEC) ==
	      0);
	CHECK(fcntl(ep, F_GETFD) == FD_CLOEXEC);
	CHECK(wait_n(ep, 0) == 1);
	CHECK(close_range((unsigned)ep, (unsigned)ep, 0) == 0);
	CHECK_ERR(wait_n(ep, 0), EBADF);
	int again = ready_epoll(q);
	CHECK(again == ep); /* the lowest free number */
	CHECK(wait_n(again, 0) == 1);
	CHECK(syscall(SYS_close_range, again, again, 0) == 0);
	CHECK_ERR(wait_n(again, 0), EBADF);
	for (int i = 0; i < 2; i++)
		close(p[i]), close(q[i]);
	/* closefrom: the epoll at the top goes, the ones below stay. */
	int low = ready_epoll(p), high = epoll_create1(0);
	CHECK(low >= 0 && high > p[1]);
	closefrom(high);
	CHECK_ERR(wait_n(high, 0), EBADF);
	CHECK(wait_n(low, 0) == 1);
	int next = ready_epoll(q);
	CHECK(next == high && wait_n(next, 0) == 1);
	close(next);
	close(low);
	for (int i = 0; i < 2; i++)
		close(p[i]), close(q[i]);
}

/* Raw syscall() reaches the same instances. */
static void t_raw_syscall(void)
{
	int ep = (int)syscall(SYS_epoll_create1, 0), p[2];
	CHECK(ep >= 0 && pipe2(p, O_NONBLOCK) == 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 9}, out[2];
	CHECK(syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(syscall(SYS_epoll_wait, ep, out, 2, 1000) == 1);
	CHECK(out[0].data.u64 == 9);
	CHECK(epoll_wait(ep, out, 2, 0) == 1); /* and libc agrees */
	sigset_t m;
	sigemptyset(&m);
	CHECK(syscall(SYS_epoll_pwait, ep, out, 2, 0, &m, 8) == 1);
	CHECK(syscall(SYS_epoll_pwait, ep, out, 2, 0, &m, 7) == -1 &&
	      errno == EINVAL);
	CHECK(syscall(SYS_close, ep) == 0);
	CHECK_ERR(epoll_wait(ep, out, 2, 0), EBADF);
	close(p[0]);
	close(p[1]);
}

/* Many connections through one instance, two threads waiting. */
static void t_threads(void)
{
	enum { N = 64 };
	int ep = epoll_create1(0), s[N][2];
	for (int i = 0; i < N; i++) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
		                 s[i]) == 0);
		CHECK(add(ep, s[i][0], EPOLLIN | EPOLLET, (uint64_t)i) == 0);
	}
	for (int round = 0; round < 50; round++) {
		for (int i = round % 3; i < N; i += 3)
			CHECK(write(s[i][1], "x", 1) == 1);
		int want = 0, got = 0;
		for (int i = round % 3; i < N; i += 3)
			want++;
		while (got < want) {
			struct epoll_event ev[N];
			int n = epoll_wait(ep, ev, N, 1000);
			CHECK(n > 0);
			for (int k = 0; k < n; k++) {
				char c;
				CHECK(read(s[ev[k].data.u64][0], &c, 1) == 1);
			}
			got += n;
		}
		CHECK(got == want && wait_n(ep, 0) == 0);
	}
	for (int i = 0; i < N; i++) {
		close(s[i][0]);
		close(s[i][1]);
	}
	close(ep);
}

/*
 * Waits and ctls racing the close of their epoll fd and the reuse of its
 * number: each call gets an answer Linux could give (under the preload a
 * wait on the instance goes to its kernel half with no lock: see
 * uep_fget_epoll), and nothing crashes.
 */
static _Atomic int race_ep = -1, race_stop, race_bad, race_rfd;
static _Atomic long race_calls;

static void *race_caller(void *arg)
{
	(void)arg;
	struct epoll_event ev = {.events = EPOLLIN}, out[4];
	while (!atomic_load(&race_stop)) {
		atomic_fetch_add(&race_calls, 2);
		int ep = atomic_load(&race_ep);
		int w = epoll_wait(ep, out, 4, 0), we = errno;
		int c = epoll_ctl(ep, EPOLL_CTL_MOD, atomic_load(&race_rfd),
		                  &ev);
		int ce = errno;
		if (!(w >= 0 || we == EBADF || we == EINVAL) ||
		    !(c == 0 || ce == EBADF || ce == EINVAL || ce == ENOENT))
			atomic_store(&race_bad, w < 0 ? we : ce);
	}
	return NULL;
}

static void t_wait_ctl_race_close(void)
{
	int p[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0 && write(p[1], "x", 1) == 1);
	atomic_store(&race_rfd, p[0]);
	atomic_store(&race_stop, 0);
	atomic_store(&race_bad, 0);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, race_caller, NULL) == 0);
	/* UEPOLL_RACE_SECONDS: longer runs for make stress (default 1). */
	const char *env = getenv("UEPOLL_RACE_SECONDS");
	long secs = env ? atol(env) : 1, max_rounds = env ? LONG_MAX : 200000;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long rounds = 0;
	atomic_store(&race_calls, 0);
	do {
		int ep = epoll_create1(0);
		if (ep < 0)
			break;
		struct epoll_event ev = {.events = EPOLLIN};
		atomic_store(&race_ep, ep);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) != 0)
			atomic_store(&race_bad, errno);
		close(ep);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < secs && rounds < max_rounds);
	atomic_store(&race_stop, 1);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	CHECK(atomic_load(&race_bad) == 0);
	CHECK(rounds > 100);
	if (env)
		printf("  %ld epoll fds created and closed, %ld racing calls, "
		       "all answered as Linux could\n",
		       rounds, atomic_load(&race_calls));
	close(p[0]);
	close(p[1]);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
        {"fork_fresh", t_fork_fresh},
        {"create", t_create},
        {"ctl_errors", t_ctl_errors},
        {"level_edge_oneshot", t_level_edge_oneshot},
        {"nested_poll_select", t_nested_poll_select},
        {"nested_poll_blocking", t_nested_poll_blocking},
        {"nested_epoll", t_nested_epoll},
        {"dup", t_dup},
        {"close_target", t_close_target},
        {"fork", t_fork},
        {"raw_syscall", t_raw_syscall},
        {"close_range", t_close_range},
        {"threads", t_threads},
        {"wait_ctl_race_close", t_wait_ctl_race_close},
        {"vfork", t_vfork},
        {"calls_reach_preload", t_calls_reach_preload},
};

int main(int argc, char **argv)
{
	/* Under the preload, epoll_ctl is not libc's. */
	Dl_info info;
	const char *mode = "native";
	if (dladdr((void *)epoll_ctl, &info) && info.dli_fname &&
	    strstr(info.dli_fname, "uepoll-preload"))
		mode = "preload";
	const char *label = argc > 1 ? argv[1] : mode;
	if (argc > 2 && strcmp(argv[2], mode) != 0) {
		printf("%s: expected a %s run, got %s\n", label, argv[2], mode);
		printf("%s: 0 passed, 1 failed, 0 skipped\n", label);
		return 1;
	}
	const char *race = getenv("UEPOLL_RACE_SECONDS");
	alarm(120 + (race ? (unsigned)atoi(race) : 0));
	int pass = 0, fail = 0;
	const char *only = argc > 3 ? argv[3] : NULL;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (only && strcmp(only, tests[i].name) != 0)
			continue;
		failed_here = 0;
		tests[i].fn();
		printf("%s %s/%s\n", failed_here ? "FAIL" : "ok  ", label,
		       tests[i].name);
		if (failed_here)
			fail++;
		else
			pass++;
	}
	printf("%s: %d passed, %d failed, 0 skipped\n", label, pass, fail);
	return fail ? 1 : 0;
}
