/*
 * Wake-ups that depend on memory ordering: a poller re-checks an eventfd's
 * count without the eventfd's lock after each wake-up, so the reset of its
 * waiter and the writer's wake must be ordered by full barriers
 * (docs/DESIGN.md, "Barriers").  A lost wake-up shows as a poll or a
 * blocking read that waits out its bound with the count posted.  Honestly:
 * the window is a few instructions wide and these ping-pongs rarely hit
 * it on a 2-core machine; make stress hammers the same paths for longer.
 */
#include <pthread.h>
#include <stdbool.h>

#include "sys.h"

#define ROUNDS 5000

struct pingpong {
	int in, out;
	int lost; /* rounds where the wait ran out with nothing seen */
	bool blocking;
};

static void *pong(void *p)
{
	struct pingpong *pp = p;
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t v;
		if (!pp->blocking) {
			struct pollfd pf = {.fd = pp->in, .events = POLLIN};
			if (sys_poll(&pf, 1, 5000) != 1) {
				pp->lost++;
				return NULL;
			}
		}
		if (sys_read(pp->in, &v, sizeof(v)) != sizeof(v)) {
			pp->lost++;
			return NULL;
		}
		v = 1;
		if (sys_write(pp->out, &v, sizeof(v)) != sizeof(v))
			return NULL;
	}
	return NULL;
}

static void pingpong_run(bool blocking)
{
	int flags = blocking ? 0 : EFD_NONBLOCK;
	int a = new_efd(0, flags), b = new_efd(0, flags);
	struct pingpong x = {.in = a, .out = b, .blocking = blocking};
	struct pingpong y = {.in = b, .out = a, .blocking = blocking};
	pthread_t t1, t2;
	ASSERT_EQ(pthread_create(&t1, NULL, pong, &x), 0);
	ASSERT_EQ(pthread_create(&t2, NULL, pong, &y), 0);
	write_u64(a, 1); /* the ball */
	ASSERT_EQ(pthread_join(t1, NULL), 0);
	ASSERT_EQ(pthread_join(t2, NULL), 0);
	ASSERT_EQ(x.lost, 0);
	ASSERT_EQ(y.lost, 0);
	ASSERT_OK(sys_close(a));
	ASSERT_OK(sys_close(b));
}

TEST_T(poll_eventfd_pingpong_loses_no_wakeup, 60)
{
	pingpong_run(false);
}

TEST_T(blocking_read_eventfd_pingpong_loses_no_wakeup, 60)
{
	pingpong_run(true);
}
