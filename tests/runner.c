/* The test runner: see runner.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "runner.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct test {
	const char *name, *file;
	test_fn fn;
	int timeout_s;
};

#ifndef TEST_TARGET
#define TEST_TARGET "unit"
#endif
const char *test_target = TEST_TARGET;

static struct test *tests;
static size_t ntests, captests;

/* Exit codes a child uses to report its verdict to the parent. */
enum { CHILD_PASS = 0, CHILD_FAIL = 1, CHILD_SKIP = 77 };

void test_register(const char *name, const char *file, test_fn fn,
                   int timeout_s)
{
	if (ntests == captests) {
		captests = captests ? 2 * captests : 256;
		tests = realloc(tests, captests * sizeof(*tests));
		if (!tests)
			abort();
	}
	tests[ntests++] = (struct test){name, file, fn, timeout_s};
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "    %s:%d: ", base_name(file), line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(CHILD_FAIL);
}

void test_skip(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	(void)file;
	(void)line;
	printf("    skip reason: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	_exit(CHILD_SKIP);
}

static int cmp_test(const void *a, const void *b)
{
	const struct test *x = a, *y = b;
	int c = strcmp(x->file, y->file);
	return c ? c : strcmp(x->name, y->name);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- kernel fds left open by a test ---- */

#ifdef CONF_UEPOLL
#include "uepoll.h"
#define target_close uepoll_close
#else
#define target_close close
#endif

/* Tests create descriptors from several threads: the list has a lock. */
static pthread_mutex_t tracked_lock = PTHREAD_MUTEX_INITIALIZER;
static int *tracked;
static size_t ntracked, captracked;

int test_track_fd(int fd)
{
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&tracked_lock);
	if (ntracked == captracked) {
		captracked = captracked ? 2 * captracked : 64;
		tracked = realloc(tracked, captracked * sizeof(*tracked));
		if (!tracked)
			abort();
	}
	tracked[ntracked++] = fd;
	pthread_mutex_unlock(&tracked_lock);
	return fd;
}

int test_track_pair(int r, const int fds[2])
{
	if (r == 0) {
		test_track_fd(fds[0]);
		test_track_fd(fds[1]);
	}
	return r;
}

/* Close what the test's creators returned (EBADF: closed already). */
static void tracked_close(void)
{
	for (size_t i = ntracked; i-- > 0;)
		target_close(tracked[i]);
	ntracked = 0;
}

#define FD_CHECK_MAX 4096
static unsigned char fds_before[FD_CHECK_MAX];

/*
 * The kernel fds open now, as a 0/1 array.  On the uepoll target the
 * numbers from 3/4 of min(RLIMIT_NOFILE, 4096) up are uepoll's own (a
 * thread's eventfd lives as long as the thread): not counted.
 */
static void fds_open(unsigned char *open_fds)
{
	int top = FD_CHECK_MAX;
	if (strcmp(test_target, "uepoll") == 0) {
		struct rlimit rl;
		rlim_t t = FD_CHECK_MAX;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < t)
			t = rl.rlim_cur;
		top = (int)(t / 4 * 3);
	}
	memset(open_fds, 0, FD_CHECK_MAX);
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != dirfd(d) && fd < top)
			open_fds[fd] = 1;
	}
	closedir(d);
}

/* After a test: fail it if it left a kernel fd open. */
static void fds_check(void)
{
	static unsigned char after[FD_CHECK_MAX];
	fds_open(after);
	int leaked = 0;
	for (int fd = 0; fd < FD_CHECK_MAX; fd++) {
		if (!after[fd] || fds_before[fd])
			continue;
		char path[64], what[256];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, what, sizeof(what) - 1);
		what[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "    kernel fd %d left open: %s\n", fd, what);
		leaked = 1;
	}
	if (leaked) {
		fflush(stderr);
		_exit(CHILD_FAIL);
	}
}

/* Run one test in a child; returns CHILD_PASS, CHILD_FAIL or CHILD_SKIP. */
static int run_one(const struct test *t, int default_timeout)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return CHILD_FAIL;
	}
	if (pid == 0) {
		setpgid(0, 0);
		bool check = strcmp(test_target, "unit") != 0;
		if (check)
			fds_open(fds_before);
		t->fn();
		if (check) {
			tracked_close();
			fds_check();
		}
		/* exit, not _exit: sanitizers report leaks and races at exit.
		 */
		exit(CHILD_PASS);
	}
	int timeout = t->timeout_s ? t->timeout_s : default_timeout;
	double deadline = now_s() + timeout;
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (now_s() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "    timed out after %d s\n", timeout);
			return CHILD_FAIL;
		}
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "    killed by signal %d (%s)\n",
		        WTERMSIG(status), strsignal(WTERMSIG(status)));
		return CHILD_FAIL;
	}
	int code = WEXITSTATUS(status);
	if (code == CHILD_PASS || code == CHILD_SKIP)
		return code;
	if (code != CHILD_FAIL)
		fprintf(stderr, "    exited with status %d\n", code);
	return CHILD_FAIL;
}

static int selected(const struct test *t, int argc, char **argv)
{
	if (argc <= 1)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strstr(t->name, argv[i]))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	qsort(tests, ntests, sizeof(*tests), cmp_test);
	if (argc > 1 && strcmp(argv[1], "-l") == 0) {
		for (size_t i = 0; i < ntests; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	const char *to = getenv("TEST_TIMEOUT");
	int default_timeout = to ? atoi(to) : 20;
	if (default_timeout <= 0)
		default_timeout = 20;
	int verbose = getenv("TEST_VERBOSE") != NULL;
	/* A test that writes to a closed pipe must see EPIPE, not die. */
	signal(SIGPIPE, SIG_IGN);

	int passed = 0, failed = 0, skipped = 0;
	for (size_t i = 0; i < ntests; i++) {
		const struct test *t = &tests[i];
		if (!selected(t, argc, argv))
			continue;
		double t0 = now_s();
		int r = run_one(t, default_timeout);
		double ms = (now_s() - t0) * 1e3;
		const char *verdict = r == CHILD_PASS   ? "ok  "
		                      : r == CHILD_SKIP ? "skip"
		                                        : "FAIL";
		if (r != CHILD_PASS || verbose)
			printf("%s %s/%s (%.0f ms)\n", verdict, test_target,
			       t->name, ms);
		fflush(stdout);
		if (r == CHILD_PASS)
			passed++;
		else if (r == CHILD_SKIP)
			skipped++;
		else
			failed++;
	}
	printf("%s: %d passed, %d failed, %d skipped\n", test_target, passed,
	       failed, skipped);
	return failed ? 1 : 0;
}
