/* The kernel half's system calls: see kfd.h. */
#include "kfd/kfd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int uep_kfd_create(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		return -errno;
	return uep_fd_high(fd);
}

UEP_HOT int uep_kfd_ctl(int kfd, int op, int fd, struct epoll_event *ev)
{
	return epoll_ctl(kfd, op, fd, ev) < 0 ? -errno : 0;
}

int uep_kfd_harvest(int kfd, struct epoll_event *events, int maxevents)
{
	int n = epoll_wait(kfd, events, maxevents, 0);
	return n < 0 ? -errno : n;
}

int uep_kfd_wait(int kfd, struct epoll_event *events, int maxevents,
                 const struct uep_deadline *dl, const sigset_t *sigmask)
{
	struct timespec rel;
	int n = epoll_pwait2(kfd, events, maxevents,
	                     uep_deadline_remaining(dl, &rel), sigmask);
	return n < 0 ? -errno : n;
}

bool uep_kfd_readable(int kfd)
{
	struct pollfd p = {.fd = kfd, .events = POLLIN};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

int uep_kfd_wake_create(int kfd, uint64_t token)
{
	int wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wfd < 0)
		return -errno;
	wfd = uep_fd_high(wfd);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = token};
	int r = uep_kfd_ctl(kfd, EPOLL_CTL_ADD, wfd, &ev);
	if (r) {
		close(wfd);
		return r;
	}
	return wfd;
}

void uep_kfd_wake_drain(int wfd)
{
	uint64_t v;
	ssize_t r = read(wfd, &v, sizeof(v));
	(void)r; /* EAGAIN: another harvester drained it */
}

static _Atomic int my_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_atfork_child(void)
{
	atomic_store(&my_pid, (int)getpid());
}

static void pid_init(void)
{
	atomic_store(&my_pid, (int)getpid());
	pthread_atfork(NULL, NULL, pid_atfork_child);
}

int uep_kfd_pid(void)
{
	pthread_once(&pid_once, pid_init);
	return atomic_load_explicit(&my_pid, memory_order_relaxed);
}

int uep_kfd_check_fd(int fd)
{
	return fcntl(fd, F_GETFD) < 0 ? -EBADF : 0;
}

int uep_kfd_probe(int fd)
{
	int e = epoll_create1(EPOLL_CLOEXEC);
	if (e < 0)
		return uep_kfd_check_fd(fd);
	struct epoll_event ev = {0};
	int r = uep_kfd_ctl(e, EPOLL_CTL_ADD, fd, &ev);
	close(e);
	return r == -EBADF || r == -EPERM ? r : 0;
}

int uep_kfd_foreign_target(int epfd)
{
	/* An epoll answers the DEL of a fd it does not hold with ENOENT,
	 * anything else with EINVAL: ask with a fresh eventfd. */
	int probe = eventfd(0, EFD_CLOEXEC);
	if (probe < 0)
		return -EBADF;
	int r = uep_kfd_ctl(epfd, EPOLL_CTL_DEL, probe, NULL);
	close(probe);
	return r == -EINVAL ? -EINVAL : -EBADF;
}

static uint64_t secret;
static pthread_once_t secret_once = PTHREAD_ONCE_INIT;

static void secret_init(void)
{
	if (getrandom(&secret, sizeof(secret), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(secret)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		secret = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^
		         (uint64_t)getpid();
	}
}

uint64_t uep_kfd_token(const void *obj)
{
	pthread_once(&secret_once, secret_init);
	return (uint64_t)(uintptr_t)obj ^ secret;
}
