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
#include "../runner.h"

static struct fz_state fz_st;
static uint8_t fz_in[4096];

static void fz_seeds(uint64_t base, long count, size_t len)
{
	const char *one = getenv("FUZZ_SEED");
	const char *n = getenv("FUZZ_SEEDS");
	const char *from = getenv("FUZZ_BASE");
	unsigned long tot[5] = {0};
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
		if (one)
			break;
	}
	if (getenv("TEST_VERBOSE"))
		printf("    %ld seeds: %lu ops, %lu ctl ok, %lu waits with "
		       "events (%lu events), %lu reads/writes moved data\n",
		       count, tot[0], tot[1], tot[2], tot[3], tot[4]);
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
