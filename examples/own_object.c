/*
 * Your own pollable object: a message queue that a userspace network stack
 * could use as its socket, made pollable through uepoll's file-operations
 * contract (include/uepoll.h).  Build: make examples; run:
 * build/release/own_object.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uepoll.h"

#define QCAP 4

struct msgq {
	pthread_mutex_t lock; /* the state; never held while waking */
	struct uepoll_wait_queue *wq;
	char msgs[QCAP][32];
	int head, count;
};

/* The mask, after hooking the caller on the queue that can change it. */
static uint32_t msgq_poll(struct uepoll_file *f, struct uepoll_poll_table *pt)
{
	struct msgq *q = uepoll_file_private(f);
	uepoll_poll_wait(f, q->wq, pt);
	pthread_mutex_lock(&q->lock);
	uint32_t mask = (q->count ? EPOLLIN | EPOLLRDNORM : 0) |
	                (q->count < QCAP ? EPOLLOUT | EPOLLWRNORM : 0);
	pthread_mutex_unlock(&q->lock);
	return mask;
}

/* Never blocks: -EAGAIN, and uepoll sleeps for a blocking descriptor. */
static ssize_t msgq_read(struct uepoll_file *f, void *buf, size_t n)
{
	struct msgq *q = uepoll_file_private(f);
	pthread_mutex_lock(&q->lock);
	if (!q->count) {
		pthread_mutex_unlock(&q->lock);
		return -EAGAIN;
	}
	size_t len = strnlen(q->msgs[q->head], sizeof(q->msgs[0]));
	if (len > n)
		len = n;
	memcpy(buf, q->msgs[q->head], len);
	q->head = (q->head + 1) % QCAP;
	q->count--;
	pthread_mutex_unlock(&q->lock);
	uepoll_wake_up(q->wq, EPOLLOUT | EPOLLWRNORM); /* room again */
	return (ssize_t)len;
}

static ssize_t msgq_write(struct uepoll_file *f, const void *buf, size_t n)
{
	struct msgq *q = uepoll_file_private(f);
	if (n >= sizeof(q->msgs[0]))
		return -EMSGSIZE;
	pthread_mutex_lock(&q->lock);
	if (q->count == QCAP) {
		pthread_mutex_unlock(&q->lock);
		return -EAGAIN;
	}
	char *slot = q->msgs[(q->head + q->count) % QCAP];
	memcpy(slot, buf, n);
	slot[n] = '\0';
	q->count++;
	pthread_mutex_unlock(&q->lock);
	/* Every message is a wake-up: edge-triggered watchers see each. */
	uepoll_wake_up(q->wq, EPOLLIN | EPOLLRDNORM);
	return (ssize_t)n;
}

/* The last reference is gone; every registration was removed before. */
static void msgq_release(struct uepoll_file *f)
{
	struct msgq *q = uepoll_file_private(f);
	uepoll_wait_queue_destroy(q->wq);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static const struct uepoll_file_operations msgq_fops = {
        .poll = msgq_poll,
        .read = msgq_read,
        .write = msgq_write,
        .release = msgq_release,
};

static int msgq_create(void)
{
	struct msgq *q = calloc(1, sizeof(*q));
	if (!q || !(q->wq = uepoll_wait_queue_create()))
		return -1;
	pthread_mutex_init(&q->lock, NULL);
	return uepoll_file_create(&msgq_fops, q, O_NONBLOCK);
}

int main(void)
{
	int ep = uepoll_create1(0);
	int mq = msgq_create();
	if (ep < 0 || mq < 0) {
		perror("create");
		return 1;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 7};
	uepoll_ctl(ep, EPOLL_CTL_ADD, mq, &ev);

	uepoll_write(mq, "hello", 5);
	uepoll_write(mq, "world", 5);
	struct epoll_event out[4];
	int n = uepoll_wait(ep, out, 4, 0);
	printf("after two writes: %d event (data %u, events 0x%x)\n", n,
	       out[0].data.u32, out[0].events);
	char buf[32];
	ssize_t r;
	while ((r = uepoll_read(mq, buf, sizeof(buf))) > 0)
		printf("read \"%.*s\"\n", (int)r, buf);
	printf("then empty: read gives %s\n", strerror(errno));
	uepoll_write(mq, "again", 5);
	printf("a new write is a new edge: %d event\n",
	       uepoll_wait(ep, out, 4, 0));
	uepoll_close(mq); /* the registration goes with the last reference */
	uepoll_close(ep);
	return 0;
}
