/*
 * The in-tree test runner (after libuv's test/runner): every test runs in a
 * forked process with a timeout; asserts print both values; a test may skip
 * with a reason; the run ends with the line "N passed, N failed, N skipped".
 *
 *   TEST(name) { ASSERT_EQ(f(), 3); }
 *
 * Tests register themselves (a constructor per TEST), so a test file needs
 * nothing but its TEST bodies.  A test binary is the runner plus its files:
 *   ./t                  run all tests
 *   ./t NAME...          run tests whose name contains one of NAME
 *   ./t -l               list tests
 * Environment: TEST_TIMEOUT (seconds per test, default 20), TEST_VERBOSE=1.
 */
#ifndef UEP_TEST_RUNNER_H
#define UEP_TEST_RUNNER_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);

/*
 * The conformance tests' descriptors, closed by the runner after the test
 * (tests/conf/sys.h tracks what its creators return); the runner then
 * fails a test that left any other kernel fd open.  Return fd / r.
 */
int test_track_fd(int fd);
int test_track_pair(int r, const int fds[2]);

void test_register(const char *name, const char *file, test_fn fn,
                   int timeout_s);
void test_fail(const char *file, int line, const char *fmt, ...)
        __attribute__((noreturn, format(printf, 3, 4)));
void test_skip(const char *file, int line, const char *fmt, ...)
        __attribute__((noreturn, format(printf, 3, 4)));
/* Name of the target this binary was built for ("kernel", "uepoll", "unit"). */
extern const char *test_target;

#define TEST_CAT2(a, b) a##b
#define TEST_CAT(a, b) TEST_CAT2(a, b)

/* TEST_T(name, seconds) gives a test a longer timeout than the default. */
#define TEST_T(name, secs)                                                     \
	static void test_##name(void);                                         \
	__attribute__((constructor)) static void test_reg_##name(void)         \
	{                                                                      \
		test_register(#name, __FILE__, test_##name, secs);             \
	}                                                                      \
	static void test_##name(void)
#define TEST(name) TEST_T(name, 0)

#define FAIL(...) test_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(...) test_skip(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT_OP_(a, op, b, T, fmt)                                           \
	do {                                                                   \
		T a_ = (T)(a);                                                 \
		T b_ = (T)(b);                                                 \
		if (!(a_ op b_))                                               \
			FAIL("`%s %s %s` (" fmt " %s " fmt ")", #a, #op, #b,   \
			     a_, #op, b_);                                     \
	} while (0)

#define ASSERT_EQ(a, b) ASSERT_OP_(a, ==, b, long long, "%lld")
#define ASSERT_NE(a, b) ASSERT_OP_(a, !=, b, long long, "%lld")
#define ASSERT_LT(a, b) ASSERT_OP_(a, <, b, long long, "%lld")
#define ASSERT_LE(a, b) ASSERT_OP_(a, <=, b, long long, "%lld")
#define ASSERT_GT(a, b) ASSERT_OP_(a, >, b, long long, "%lld")
#define ASSERT_GE(a, b) ASSERT_OP_(a, >=, b, long long, "%lld")
/* Masks and 64-bit values, printed in hex. */
#define ASSERT_EQ_HEX(a, b) ASSERT_OP_(a, ==, b, unsigned long long, "0x%llx")
#define ASSERT_PTR_EQ(a, b) ASSERT_OP_(a, ==, b, const void *, "%p")
#define ASSERT_PTR_NE(a, b) ASSERT_OP_(a, !=, b, const void *, "%p")
#define ASSERT_TRUE(x)                                                         \
	do {                                                                   \
		if (!(x))                                                      \
			FAIL("`%s` is false", #x);                             \
	} while (0)
#define ASSERT_FALSE(x)                                                        \
	do {                                                                   \
		if (x)                                                         \
			FAIL("`%s` is true", #x);                              \
	} while (0)
#define ASSERT_STR_EQ(a, b)                                                    \
	do {                                                                   \
		const char *a_ = (a), *b_ = (b);                               \
		if (strcmp(a_, b_) != 0)                                       \
			FAIL("`%s == %s` (\"%s\" == \"%s\")", #a, #b, a_, b_); \
	} while (0)
/* A call that must fail with errno e: ASSERT_ERRNO(close(-1), EBADF). */
#define ASSERT_ERRNO(call, e)                                                  \
	do {                                                                   \
		errno = 0;                                                     \
		long long r_ = (long long)(call);                              \
		int e_ = errno;                                                \
		if (r_ != -1 || e_ != (e))                                     \
			FAIL("`%s` gave %lld errno %d (%s), expected -1 "      \
			     "errno "                                          \
			     "%d (%s)",                                        \
			     #call, r_, e_, strerror(e_), (e), strerror(e));   \
	} while (0)
/* A call that must succeed (not -1); prints errno when it does not. */
#define ASSERT_OK(call)                                                        \
	do {                                                                   \
		errno = 0;                                                     \
		long long r_ = (long long)(call);                              \
		if (r_ == -1)                                                  \
			FAIL("`%s` failed: errno %d (%s)", #call, errno,       \
			     strerror(errno));                                 \
	} while (0)

#endif
