/*
 * The seed-driven differential runner (see tests/fuzz/fuzz_diff.h): random
 * operation sequences applied to the kernel and to uepoll, every result
 * compared.  Bounded so that `make test` stays fast; FUZZ_SEEDS=N runs N
 * seeds per test, FUZZ_BASE=B starts them B seeds later, FUZZ_SEED=S runs
 * seed S only.  Open divergences (listed
 * in fuzz_diff.h, tested in tests/conf/fuzz_found.c) are steered around
 * unless FUZZ_STRICT is set.
 */
#include <signal.h>
#include <stdlib.h>

#include "../fuzz/fuzz_diff.h"
#include "api/api.h"
#include "../runner.h"

static struct fz_state fz_st;
static uint8_t fz_in[4096];

static void fz_seeds(uint64_t base, long count, size_t len)
{
	const char *one = getenv("FUZZ_SEED");
	const char *n = getenv("FUZZ_SEEDS");
	const char *from = getenv("FUZZ_BASE");
	unsigned long tot[7] = {0};
	if (n)
		count = atol(n);
	if (from) /* longer runs: seeds beyond those of make test */
		base += strtoull(from, NULL, 0);
	signal(SIGPIPE, SIG_IGN);
	fz_st.avoid_known = !getenv("FUZZ_STRICT");
	for (long k = 0; k < count; k++) {
		uint64_t seed =
		        one ? strtoull(one, NULL, 0) : base + (uint64_t)k;
		fz_fill(seed, fz_in, len);
		if (fz_run(&fz_st, fz_in, len)) {
			fz_report(&fz_st, stderr);
			FAIL("seed %llu diverged (FUZZ_SEED=%llu to replay)",
			     (unsigned long long)seed,
			     (unsigned long long)seed);
		}
		tot[0] += fz_st.nops;
		tot[1] += fz_st.n_ctl_ok;
		tot[2] += fz_st.n_wait_ev;
		tot[3] += fz_st.n_events;
		tot[4] += fz_st.n_io_ok;
		tot[5] += fz_st.n_unordered;
		tot[6] += fz_st.n_known;
		if (one)
			break;
	}
	if (getenv("TEST_VERBOSE"))
		printf("    %ld seeds: %lu ops, %lu ctl ok, %lu waits with "
		       "events (%lu events, %lu compared as multisets), %lu "
		       "reads/writes moved data, %lu ops steered\n",
		       count, tot[0], tot[1], tot[2], tot[3], tot[5], tot[4],
		       tot[6]);
}

/*
 * TSan runs about ten times slower: it takes a third of the seeds (the
 * release run takes them all), and both tests get a minute before the
 * runner calls them hung.
 */
#ifdef __SANITIZE_THREAD__
#define FZ_SEED_DIV 3
#else
#define FZ_SEED_DIV 1
#endif

/* Short sequences: many fresh starts, the creation and error paths. */
TEST_T(fuzz_diff_short, 60)
{
	fz_seeds(1, 3000 / FZ_SEED_DIV, 200);
}

/* Long sequences: deep states, nesting, full pipes. */
TEST_T(fuzz_diff_long, 60)
{
	fz_seeds(1000000, 300 / FZ_SEED_DIV, 4000);
}

/*
 * Found by the fuzzer: a preload instance (uep_preload_instance, a
 * kernel-only instance on the caller's kernel epoll) that is given an
 * in-process item must report it, through its own number and a copy.
 * The kernel's answer: an epoll watching a readable eventfd and a
 * readable pipe reports both.
 */
static int fz_preload_ep(int *kep)
{
	*kep = epoll_create1(EPOLL_CLOEXEC);
	if (*kep < 0)
		return -1;
	return uep_preload_instance(*kep);
}

TEST(fuzz_found_preload_instance_reports_in_process_item)
{
	int kep, ep = fz_preload_ep(&kep);
	ASSERT_GE(ep, UEPOLL_FD_BASE);
	int efd = uepoll_eventfd(1, EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	int copy = uepoll_dup(ep);
	ASSERT_GE(copy, UEPOLL_FD_BASE);
	struct epoll_event out[4];
	ASSERT_EQ(uepoll_wait(ep, out, 4, 0), 1);
	ASSERT_EQ(out[0].data.u64, 7);
	ASSERT_EQ(uepoll_wait(copy, out, 4, 0), 1);
	ASSERT_EQ(out[0].data.u64, 7);
	uepoll_close(copy);
	uepoll_close(efd);
	uepoll_close(ep);
	close(kep);
}

TEST(fuzz_found_preload_instance_mixed_reports_both_halves)
{
	int kep, ep = fz_preload_ep(&kep), p[2];
	ASSERT_GE(ep, UEPOLL_FD_BASE);
	ASSERT_OK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(write(p[1], "x", 1), 1);
	int efd = uepoll_eventfd(1, EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	ev.data.u64 = 2;
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
	struct epoll_event out[4];
	ASSERT_EQ(uepoll_wait(ep, out, 4, 0), 2);
	ASSERT_EQ(out[0].data.u64 + out[1].data.u64, 3);
	/* Drained: nothing more, and the kernel's order is kept after. */
	uint64_t v;
	ASSERT_EQ(uepoll_read(efd, &v, 8), 8);
	char c;
	ASSERT_EQ(read(p[0], &c, 1), 1);
	ASSERT_EQ(uepoll_wait(ep, out, 4, 0), 0);
	close(p[0]);
	close(p[1]);
	uepoll_close(efd);
	uepoll_close(ep);
	close(kep);
}
