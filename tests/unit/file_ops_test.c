/* The public file-operations contract, exercised with a small object. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "../runner.h"
#include "uepoll.h"

struct obj {
	struct uepoll_wait_queue *wq;
	_Atomic int items;
	_Atomic int released;
};

static uint32_t obj_poll(struct uepoll_file *f, struct uepoll_poll_table *pt)
{
	struct obj *o = uepoll_file_private(f);
	uepoll_poll_wait(f, o->wq, pt);
	return (atomic_load(&o->items) ? EPOLLIN : 0) | EPOLLOUT;
}

static ssize_t obj_read(struct uepoll_file *f, void *buf, size_t n)
{
	struct obj *o = uepoll_file_private(f);
	int v = atomic_load(&o->items);
	(void)buf;
	(void)n;
	if (!v)
		return -EAGAIN;
	atomic_store(&o->items, v - 1);
	return 1;
}

static void obj_release(struct uepoll_file *f)
{
	struct obj *o = uepoll_file_private(f);
	atomic_fetch_add(&o->released, 1);
}

static const struct uepoll_file_operations obj_fops = {
        .poll = obj_poll,
        .read = obj_read, /* no write: EINVAL */
        .release = obj_release,
};

static struct obj o;

static int obj_new(int flags)
{
	o.wq = uepoll_wait_queue_create();
	atomic_store(&o.items, 0);
	atomic_store(&o.released, 0);
	return uepoll_file_create(&obj_fops, &o, flags);
}

static void obj_push(void)
{
	atomic_fetch_add(&o.items, 1);
	uepoll_wake_up(o.wq, EPOLLIN);
}

TEST(fops_release_once_after_last_reference)
{
	int fd = obj_new(O_NONBLOCK), ep = uepoll_create1(0);
	ASSERT_GE(fd, UEPOLL_FD_BASE);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	int dup = uepoll_dup(fd);
	ASSERT_OK(uepoll_close(fd));
	ASSERT_EQ(atomic_load(&o.released), 0);
	obj_push(); /* the registration outlives the closed number */
	struct epoll_event out;
	ASSERT_EQ(uepoll_wait(ep, &out, 1, 0), 1);
	ASSERT_EQ(out.data.u64, 1);
	ASSERT_OK(uepoll_close(dup));
	ASSERT_EQ(atomic_load(&o.released), 1);
	ASSERT_EQ(uepoll_wait(ep, &out, 1, 0), 0); /* gone with the file */
	uepoll_wait_queue_destroy(o.wq);
}

TEST(fops_missing_op_and_bad_flags)
{
	int fd = obj_new(O_NONBLOCK);
	ASSERT_ERRNO(uepoll_write(fd, "x", 1), EINVAL);
	ASSERT_ERRNO(uepoll_file_create(NULL, NULL, 0), EINVAL);
	ASSERT_ERRNO(uepoll_file_create(&obj_fops, NULL, O_APPEND), EINVAL);
	ASSERT_OK(uepoll_close(fd));
	uepoll_wait_queue_destroy(o.wq);
}

TEST(fops_edge_per_wake_up_and_key_filter)
{
	int fd = obj_new(O_NONBLOCK), ep = uepoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
	ASSERT_OK(uepoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	struct epoll_event out;
	obj_push();
	ASSERT_EQ(uepoll_wait(ep, &out, 1, 0), 1);
	ASSERT_EQ(uepoll_wait(ep, &out, 1, 0), 0);
	uepoll_wake_up(o.wq, EPOLLOUT); /* not what the item watches */
	ASSERT_EQ(uepoll_wait(ep, &out, 1, 0), 0);
	obj_push(); /* a new wake-up while still readable: a new edge */
	ASSERT_EQ(uepoll_wait(ep, &out, 1, 0), 1);
	ASSERT_EQ_HEX(out.events, EPOLLIN);
	uepoll_close(fd);
	uepoll_close(ep);
	uepoll_wait_queue_destroy(o.wq);
}

static void *late_push(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
	obj_push();
	return NULL;
}

TEST(fops_blocking_read_sleeps_until_wake_up)
{
	int fd = obj_new(0); /* blocking */
	pthread_t t;
	pthread_create(&t, NULL, late_push, NULL);
	char c;
	ASSERT_EQ(uepoll_read(fd, &c, 1), 1); /* -EAGAIN, sleep, retry */
	pthread_join(t, NULL);
	ASSERT_EQ(atomic_load(&o.items), 0);
	uepoll_close(fd);
	uepoll_wait_queue_destroy(o.wq);
}
