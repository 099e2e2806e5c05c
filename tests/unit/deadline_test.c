/*
 * Lazy deadlines (lib/sync.h), epoll_wait's: no clock is read until the
 * deadline is started, an unstarted one has all its time left, starting
 * it counts from then, and starting anything else changes nothing.
 */
#include "../runner.h"

#include <time.h>

#include "lib/sync.h"

static long long mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long ts_ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

TEST(deadline_lazy_ms_kinds)
{
	struct uep_deadline dl;
	uep_deadline_ms_lazy(&dl, 0);
	ASSERT_EQ(dl.kind, UEP_DL_NOWAIT);
	uep_deadline_ms_lazy(&dl, -1);
	ASSERT_EQ(dl.kind, UEP_DL_FOREVER);
	uep_deadline_ms_lazy(&dl, -12345);
	ASSERT_EQ(dl.kind, UEP_DL_FOREVER);
	uep_deadline_ms_lazy(&dl, 1500);
	ASSERT_EQ(dl.kind, UEP_DL_IN);
	ASSERT_EQ(dl.abs.tv_sec, 1);
	ASSERT_EQ(dl.abs.tv_nsec, 500000000L);
}

TEST(deadline_lazy_ts_kinds)
{
	struct uep_deadline dl;
	struct timespec zero = {0, 0}, one_ns = {0, 1},
	                ages = {(time_t)1 << 50, 0};
	uep_deadline_ts_lazy(&dl, NULL);
	ASSERT_EQ(dl.kind, UEP_DL_FOREVER);
	uep_deadline_ts_lazy(&dl, &zero);
	ASSERT_EQ(dl.kind, UEP_DL_NOWAIT);
	uep_deadline_ts_lazy(&dl, &ages); /* saturates, as the eager form */
	ASSERT_EQ(dl.kind, UEP_DL_FOREVER);
	uep_deadline_ts_lazy(&dl, &one_ns);
	ASSERT_EQ(dl.kind, UEP_DL_IN);
	ASSERT_EQ(ts_ns(&dl.abs), 1);
}

TEST(deadline_lazy_unstarted_has_all_time_left)
{
	struct uep_deadline dl;
	struct timespec rel;
	uep_deadline_ms_lazy(&dl, 2500);
	ASSERT_PTR_EQ(uep_deadline_remaining(&dl, &rel), &rel);
	ASSERT_EQ(ts_ns(&rel), 2500000000LL);
}

TEST(deadline_lazy_counts_from_start)
{
	struct uep_deadline dl;
	struct timespec rel;
	uep_deadline_ms_lazy(&dl, 1200);
	long long before = mono_ns();
	uep_deadline_start(&dl);
	long long after = mono_ns();
	ASSERT_EQ(dl.kind, UEP_DL_AT);
	ASSERT_GE(ts_ns(&dl.abs), before + 1200000000LL);
	ASSERT_LE(ts_ns(&dl.abs), after + 1200000000LL);
	ASSERT_LT(dl.abs.tv_nsec, 1000000000L);
	uep_deadline_remaining(&dl, &rel);
	ASSERT_LE(ts_ns(&rel), 1200000000LL);
	/* Started once: a second start keeps the deadline where it is. */
	struct timespec at = dl.abs;
	uep_deadline_start(&dl);
	ASSERT_EQ(ts_ns(&dl.abs), ts_ns(&at));
}

TEST(deadline_start_leaves_other_kinds)
{
	struct uep_deadline dl;
	uep_deadline_ms_lazy(&dl, 0);
	uep_deadline_start(&dl);
	ASSERT_EQ(dl.kind, UEP_DL_NOWAIT);
	uep_deadline_ms_lazy(&dl, -1);
	uep_deadline_start(&dl);
	ASSERT_EQ(dl.kind, UEP_DL_FOREVER);
}
