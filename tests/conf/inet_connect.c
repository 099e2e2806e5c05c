/*
 * What connect() answers on a TCP socket, the kernel's as judge: Linux's
 * inet_stream_connect keeps the socket's own state (unconnected,
 * connecting, connected) beside TCP's, so a second connect says
 * EALREADY while the first is under way, how it ended once (0 or its
 * error), then EISCONN, or starts anew after a failure.
 */
#include "inet_util.h"

/*
 * A listener whose SYNs go unanswered until inet_unhold(), so that a
 * connect to it stays in progress.  Kernel: a backlog of 0 filled by one
 * connection makes Linux drop the SYNs (the client sends it again after
 * a second).  lwIP: the wire's thread waits in the trace hook, so no
 * packet arrives at all.
 */
struct inet_hold {
	int l, c0;
};

#if defined(CONF_UEPOLL) && defined(UEP_HAVE_LWIP)
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static bool held;

static void hold_hook(enum uepoll_lwip_step step, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	if (step != UEPOLL_LWIP_FRAME_IN) /* the wire's thread, no lock */
		return;
	pthread_mutex_lock(&hold_lock);
	while (held)
		pthread_cond_wait(&hold_cv, &hold_lock);
	pthread_mutex_unlock(&hold_lock);
}
#endif

static void inet_hold(struct inet_hold *h, struct sockaddr_in *a)
{
	h->l = inet_listener(a, 0);
	h->c0 = -1;
#if defined(CONF_UEPOLL) && defined(UEP_HAVE_LWIP)
	held = true;
	uepoll_lwip_set_trace(hold_hook, NULL);
#else
	h->c0 = inet_connect_nb(a);
	inet_poll_for(h->l, POLLIN); /* the queue is full from now on */
#endif
}

static void inet_unhold(struct inet_hold *h)
{
#if defined(CONF_UEPOLL) && defined(UEP_HAVE_LWIP)
	(void)h;
	pthread_mutex_lock(&hold_lock);
	held = false;
	pthread_cond_broadcast(&hold_cv);
	pthread_mutex_unlock(&hold_lock);
	/* The hook stays (a removed one is leaked on purpose): it lets go. */
#else
	int s = sys_accept(h->l, NULL, NULL); /* room for one more */
	ASSERT_GE(s, 0);
	ASSERT_OK(sys_close(s));
#endif
}

static void inet_hold_end(struct inet_hold *h)
{
	if (h->c0 >= 0)
		ASSERT_OK(sys_close(h->c0));
	ASSERT_OK(sys_close(h->l));
}

static int so_error(int fd)
{
	int err = -1;
	socklen_t n = sizeof(err);
	ASSERT_OK(sys_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n));
	return err;
}

#define CONNECT(fd, a)                                                         \
	sys_connect(fd, (const struct sockaddr *)(a), sizeof(*(a)))

TEST(inet_connect_after_blocking_connect_is_eisconn)
{
	inet_begin();
	struct sockaddr_in a;
	int l = inet_listener(&a, 4);
	int c = sys_socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(c, 0);
	ASSERT_OK(CONNECT(c, &a));
	ASSERT_ERRNO(CONNECT(c, &a), EISCONN);
	ASSERT_ERRNO(CONNECT(c, &a), EISCONN);
	int s = sys_accept(l, NULL, NULL);
	ASSERT_GE(s, 0);
	ASSERT_ERRNO(CONNECT(s, &a), EISCONN); /* accepted: connected too */
	ASSERT_ERRNO(CONNECT(l, &a), EISCONN); /* a listener is no TCP_CLOSE */
	ASSERT_OK(sys_close(s));
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(l));
}

TEST(inet_connect_in_progress_is_ealready_then_0_then_eisconn)
{
	inet_begin();
	struct inet_hold h;
	struct sockaddr_in a;
	inet_hold(&h, &a);
	int c = sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_GE(c, 0);
	ASSERT_ERRNO(CONNECT(c, &a), EINPROGRESS);
	ASSERT_ERRNO(CONNECT(c, &a), EALREADY);
	ASSERT_EQ_HEX(poll_mask(c), 0); /* SYN sent: no OUT, no HUP */
	ASSERT_ERRNO(CONNECT(c, &a), EALREADY);
	inet_unhold(&h);
	inet_poll_for(c, POLLOUT);
	ASSERT_OK(CONNECT(c, &a)); /* the first call after it completed */
	ASSERT_ERRNO(CONNECT(c, &a), EISCONN);
	ASSERT_OK(sys_close(c));
	inet_hold_end(&h);
}

TEST(inet_refused_connect_reported_once_then_connects_anew)
{
	inet_begin();
	struct sockaddr_in a;
	int l = inet_listener(&a, 4);
	ASSERT_OK(sys_close(l)); /* nobody listens on a's port now */
	int c = sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_GE(c, 0);
	ASSERT_ERRNO(CONNECT(c, &a), EINPROGRESS);
	inet_poll_for(c, POLLERR);
	ASSERT_ERRNO(CONNECT(c, &a), ECONNREFUSED); /* the error, taken */
	ASSERT_EQ(so_error(c), 0);
	ASSERT_ERRNO(CONNECT(c, &a), EINPROGRESS); /* a new attempt */
	inet_poll_for(c, POLLERR);
	ASSERT_EQ(so_error(c), ECONNREFUSED);       /* taken by SO_ERROR... */
	ASSERT_ERRNO(CONNECT(c, &a), ECONNABORTED); /* ...so: aborted */
	ASSERT_ERRNO(CONNECT(c, &a), EINPROGRESS);
	ASSERT_OK(sys_close(c));
}

TEST(inet_refused_blocking_connect_is_refused_each_time)
{
	inet_begin();
	struct sockaddr_in a;
	int l = inet_listener(&a, 4);
	ASSERT_OK(sys_close(l));
	int c = sys_socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(c, 0);
	ASSERT_ERRNO(CONNECT(c, &a), ECONNREFUSED);
	ASSERT_EQ(so_error(c), 0);
	ASSERT_ERRNO(CONNECT(c, &a), ECONNREFUSED);
	ASSERT_OK(sys_close(c));
}

TEST(inet_shutdown_while_connecting_gives_up_the_connect)
{
	inet_begin();
	struct inet_hold h;
	struct sockaddr_in a;
	inet_hold(&h, &a);
	int c = sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_GE(c, 0);
	ASSERT_ERRNO(CONNECT(c, &a), EINPROGRESS);
	ASSERT_OK(sys_shutdown(c, SHUT_RDWR));
	ASSERT_EQ_HEX(poll_mask(c), POLLOUT | POLLWRNORM | POLLHUP | POLLERR);
	ASSERT_EQ(so_error(c), ECONNRESET);
	inet_unhold(&h);
	ASSERT_ERRNO(CONNECT(c, &a), EINPROGRESS); /* unconnected again */
	inet_poll_for(c, POLLOUT);
	ASSERT_OK(CONNECT(c, &a));
	ASSERT_OK(sys_close(c));
	inet_hold_end(&h);
}

struct blocked_connect {
	int fd, r, err;
	struct sockaddr_in a;
};

static void *blocked_connect_fn(void *arg)
{
	struct blocked_connect *b = arg;
	b->r = CONNECT(b->fd, &b->a);
	b->err = errno;
	return NULL;
}

/*
 * A shutdown while another thread sleeps in a blocking connect ends that
 * connect with ECONNRESET (inet_wait_for_connect finds TCP_CLOSE): the
 * sleeper must not start a new connection.  The next connect does.
 */
TEST(inet_shutdown_wakes_blocked_connect_with_econnreset)
{
	inet_begin();
	struct inet_hold h;
	struct blocked_connect b = {.r = 1};
	inet_hold(&h, &b.a);
	b.fd = sys_socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(b.fd, 0);
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, blocked_connect_fn, &b), 0);
	sleep_ms(100); /* long enough to be asleep; a late start fails too */
	ASSERT_OK(sys_shutdown(b.fd, SHUT_RDWR));
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(b.r, -1);
	ASSERT_EQ(b.err, ECONNRESET);
	ASSERT_EQ(so_error(b.fd), 0); /* taken by the connect */
	inet_unhold(&h);
	ASSERT_OK(CONNECT(b.fd, &b.a));
	ASSERT_OK(sys_close(b.fd));
	inet_hold_end(&h);
}

/* An iovec length past SSIZE_MAX: EINVAL on a TCP socket too. */
TEST(inet_iov_len_past_ssize_max_is_einval)
{
	inet_begin();
	int c, s;
	inet_pair(&c, &s, NULL);
	sk_iov_len_past_ssize_max_is_einval(c);
	ASSERT_OK(sys_close(c));
	ASSERT_OK(sys_close(s));
}
