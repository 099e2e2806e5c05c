/*
 * uepoll: Linux epoll rebuilt as a userspace library.
 *
 * This is the only public header.  Every call has the signature of its libc
 * counterpart and the same semantics; each returns -1 and sets errno on
 * failure.  The types and flag values are the ones of <sys/epoll.h>,
 * <poll.h> and <sys/eventfd.h>.
 *
 * Descriptors of in-process objects (epoll instances, pipes, eventfds, your
 * own objects) are uepoll's own numbers, all >= UEPOLL_FD_BASE, so they can
 * never collide with a kernel fd.  Calls that take a descriptor pass numbers
 * below UEPOLL_FD_BASE to the kernel (read, write, close, dup, fcntl).
 */
#ifndef UEPOLL_H
#define UEPOLL_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Threads and signal handlers.
 *
 * Thread-safe: every call, on any descriptor, from any thread, as the
 * system calls they mirror are (the tracing hook and the limits are
 * process-wide settings).  Closing a descriptor another thread is using
 * is safe: the call in progress keeps the object alive, as in the kernel.
 *
 * Async-signal-safe (may be called from a signal handler, even one that
 * interrupted a uepoll call in the same thread): uepoll_write() of 8 bytes
 * on a uepoll eventfd (another thread may close it meanwhile: the close,
 * not the handler, then frees it), and uepoll_read()/uepoll_write()/
 * uepoll_close() on kernel fds (they are libc's read, write, close).
 * From a handler that interrupted uepoll, an eventfd write never sleeps
 * (a blocking eventfd whose counter is full gives EAGAIN) and its wake-up
 * of epoll, poll and blocked readers is issued when the interrupted call
 * leaves its critical section, microseconds later.  Every other call may
 * deadlock in a handler that interrupted uepoll in the same thread; with
 * signals blocked around uepoll calls, or from other threads, they are
 * safe.
 *
 * fork: the child gets a copy of every in-process object (not shared with
 * the parent: a pipe does not connect them).  It may create, use and close
 * objects, and use and close its copies, with these limits:
 *   - an object another thread was inside a call on at the moment of the
 *     fork (not asleep: between its locks) may stay locked in the child;
 *     threads asleep in uepoll_wait, uepoll_poll or a blocking read are
 *     fine (their waits are dropped in the child);
 *   - armed timerfds keep firing in the child (the timer service restarts);
 *   - kernel fds are shared with the parent, as after any fork: the
 *     kernel epoll that holds an instance's kernel fds is the parent's
 *     too, so the child should not wait on such an instance; and a
 *     uepoll_notify eventfd is the parent's too (set a new one);
 *   - fork from a signal handler that interrupted uepoll is not supported.
 * The library's global locks are held across fork() (pthread_atfork, set
 * before any other handler), so the child never finds them taken.
 */

#if defined(__GNUC__)
#define UEPOLL_API __attribute__((visibility("default")))
#else
#define UEPOLL_API
#endif

/* First descriptor number of an in-process object (2^30). */
#define UEPOLL_FD_BASE 0x40000000

/* ---- epoll ------------------------------------------------------------ */
UEPOLL_API int uepoll_create(int size);
UEPOLL_API int uepoll_create1(int flags);
UEPOLL_API int uepoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
UEPOLL_API int uepoll_wait(int epfd, struct epoll_event *events, int maxevents,
                           int timeout);
UEPOLL_API int uepoll_pwait(int epfd, struct epoll_event *events, int maxevents,
                            int timeout, const sigset_t *sigmask);
UEPOLL_API int uepoll_pwait2(int epfd, struct epoll_event *events,
                             int maxevents, const struct timespec *timeout,
                             const sigset_t *sigmask);

/*
 * Busy polling (Linux 6.9's EPIOCSPARAMS / EPIOCGPARAMS, defined here when
 * <sys/epoll.h> predates them).  On a uepoll instance busy_poll_usecs is the
 * time a waiter spins on its wake-up word before it sleeps: a waker that
 * finds it spinning makes no system call.  At most one waiter per instance
 * spins, none when the thread may run on one CPU only, and none while the
 * instance watches kernel fds.  busy_poll_budget and prefer_busy_poll are
 * checked and stored as the kernel does, and otherwise unused.
 */
#ifndef EPIOCSPARAMS
struct epoll_params {
	uint32_t busy_poll_usecs;
	uint16_t busy_poll_budget;
	uint8_t prefer_busy_poll;
	uint8_t __pad; /* must be zero */
};
#define EPOLL_IOC_TYPE 0x8A
#define EPIOCSPARAMS _IOW(EPOLL_IOC_TYPE, 0x01, struct epoll_params)
#define EPIOCGPARAMS _IOR(EPOLL_IOC_TYPE, 0x02, struct epoll_params)
#endif

/*
 * ioctl(2): EPIOCSPARAMS, EPIOCGPARAMS on an instance; FIONBIO, FIOCLEX,
 * FIONCLEX on any uepoll descriptor; FIONREAD on pipes and sockets (ENOTTY
 * on eventfds and timerfds, EINVAL on instances, as Linux).  Kernel fds go
 * to ioctl(2).
 */
UEPOLL_API int uepoll_ioctl(int fd, unsigned long request, ...);

/* ---- objects ---------------------------------------------------------- */
UEPOLL_API int uepoll_eventfd(unsigned int initval, int flags);
UEPOLL_API int uepoll_pipe(int pipefd[2]);
UEPOLL_API int uepoll_pipe2(int pipefd[2], int flags);

/* ---- sockets --------------------------------------------------------------
 *
 * In-process sockets with AF_UNIX semantics (SOCK_STREAM, SOCK_DGRAM,
 * SOCK_SEQPACKET): the masks, wake-ups, buffer limits and errors of Linux's
 * net/unix.  Names live in an in-process namespace (paths and abstract
 * names); a path name disappears with its socket, no unlink is needed.
 * Other families, and descriptors below UEPOLL_FD_BASE, go to the kernel.
 */
UEPOLL_API int uepoll_socket(int domain, int type, int protocol);
UEPOLL_API int uepoll_socketpair(int domain, int type, int protocol, int sv[2]);
UEPOLL_API int uepoll_bind(int sockfd, const struct sockaddr *addr,
                           socklen_t addrlen);
UEPOLL_API int uepoll_listen(int sockfd, int backlog);
UEPOLL_API int uepoll_accept(int sockfd, struct sockaddr *addr,
                             socklen_t *addrlen);
UEPOLL_API int uepoll_accept4(int sockfd, struct sockaddr *addr,
                              socklen_t *addrlen, int flags);
UEPOLL_API int uepoll_connect(int sockfd, const struct sockaddr *addr,
                              socklen_t addrlen);
UEPOLL_API int uepoll_getsockname(int sockfd, struct sockaddr *addr,
                                  socklen_t *addrlen);
UEPOLL_API int uepoll_getpeername(int sockfd, struct sockaddr *addr,
                                  socklen_t *addrlen);
UEPOLL_API ssize_t uepoll_send(int sockfd, const void *buf, size_t len,
                               int flags);
UEPOLL_API ssize_t uepoll_recv(int sockfd, void *buf, size_t len, int flags);
UEPOLL_API ssize_t uepoll_sendto(int sockfd, const void *buf, size_t len,
                                 int flags, const struct sockaddr *dest_addr,
                                 socklen_t addrlen);
UEPOLL_API ssize_t uepoll_recvfrom(int sockfd, void *buf, size_t len, int flags,
                                   struct sockaddr *src_addr,
                                   socklen_t *addrlen);
UEPOLL_API ssize_t uepoll_sendmsg(int sockfd, const struct msghdr *msg,
                                  int flags);
UEPOLL_API ssize_t uepoll_recvmsg(int sockfd, struct msghdr *msg, int flags);
UEPOLL_API int uepoll_shutdown(int sockfd, int how);
/* SOL_SOCKET: SO_TYPE, SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_ACCEPTCONN,
 * SO_DOMAIN, SO_PROTOCOL (get); SO_SNDBUF, SO_RCVBUF (set). */
UEPOLL_API int uepoll_getsockopt(int sockfd, int level, int optname,
                                 void *optval, socklen_t *optlen);
UEPOLL_API int uepoll_setsockopt(int sockfd, int level, int optname,
                                 const void *optval, socklen_t optlen);

/* ---- timers ------------------------------------------------------------
 * timerfd as in <sys/timerfd.h>: CLOCK_MONOTONIC, CLOCK_REALTIME,
 * CLOCK_BOOTTIME; TFD_NONBLOCK, TFD_CLOEXEC; TFD_TIMER_ABSTIME.  Read the
 * u64 expiration count with uepoll_read().  Expirations are driven by one
 * service thread, started by the first armed timer, asleep with no timeout
 * while none is armed.  As on Linux, an absolute CLOCK_REALTIME timer and
 * any CLOCK_BOOTTIME timer follow changes of their clock (clock_settime, a
 * resume), and TFD_TIMER_CANCEL_ON_SET with TFD_TIMER_ABSTIME cancels on
 * a change of CLOCK_REALTIME: the timerfd becomes readable (a blocked read
 * wakes) and the read fails with ECANCELED.  uepoll learns of clock
 * changes from one kernel timerfd (close-on-exec, at a high descriptor
 * number) read by a second thread, both created by the first such timer.
 */
UEPOLL_API int uepoll_timerfd_create(int clockid, int flags);
UEPOLL_API int uepoll_timerfd_settime(int fd, int flags,
                                      const struct itimerspec *new_value,
                                      struct itimerspec *old_value);
UEPOLL_API int uepoll_timerfd_gettime(int fd, struct itimerspec *curr_value);

/* ---- descriptors -------------------------------------------------------- */
UEPOLL_API ssize_t uepoll_read(int fd, void *buf, size_t count);
UEPOLL_API ssize_t uepoll_write(int fd, const void *buf, size_t count);
UEPOLL_API int uepoll_close(int fd);
UEPOLL_API int uepoll_dup(int oldfd);
UEPOLL_API int uepoll_dup2(int oldfd, int newfd);
UEPOLL_API int uepoll_dup3(int oldfd, int newfd, int flags);
/*
 * F_GETFL, F_SETFL (O_NONBLOCK, O_APPEND, O_NOATIME; O_DIRECT on a pipe:
 * packet mode; O_ASYNC does not stick: no SIGIO), F_GETFD, F_SETFD,
 * F_DUPFD, F_DUPFD_CLOEXEC, F_GETPIPE_SZ (F_SETPIPE_SZ only to the fixed
 * 64 KiB).  The descriptor is checked first, the argument is an unsigned
 * int, as in the kernel.
 */
UEPOLL_API int uepoll_fcntl(int fd, int cmd, ...);
/* poll(2) over uepoll descriptors: O(n) per call, by design (see README). */
UEPOLL_API int uepoll_poll(struct pollfd *fds, nfds_t nfds, int timeout);
/* ppoll: the timeout is not written back (as glibc's). */
UEPOLL_API int uepoll_ppoll(struct pollfd *fds, nfds_t nfds,
                            const struct timespec *timeout,
                            const sigset_t *sigmask);
/*
 * select and pselect over uepoll and kernel descriptors, with the kernel's
 * rules (nfds may exceed FD_SETSIZE; select writes back the time left).
 * The sets are bitmaps indexed by descriptor number, so naming a uepoll
 * descriptor (>= UEPOLL_FD_BASE) needs sets of at least fd / 8 + 1 bytes
 * (calloc them: only the bits of kernel descriptors below RLIMIT_NOFILE
 * and of uepoll descriptors within uepoll's table, which grows by 4096
 * numbers, are read or written; the rest is ignored as the kernel ignores
 * bits beyond its table).  glibc's FD_SET aborts for fd >= FD_SETSIZE under
 * _FORTIFY_SOURCE: use your own bit macros, or better uepoll_poll.
 */
UEPOLL_API int uepoll_select(int nfds, fd_set *readfds, fd_set *writefds,
                             fd_set *exceptfds, struct timeval *timeout);
UEPOLL_API int uepoll_pselect(int nfds, fd_set *readfds, fd_set *writefds,
                              fd_set *exceptfds, const struct timespec *timeout,
                              const sigset_t *sigmask);
/*
 * fstat: what a program checks -- S_ISFIFO for a pipe, S_ISSOCK for a
 * socket, an anonymous inode (no file type bits, mode 0600, uid 0, one
 * inode number for all) for eventfd, epoll, timerfd and your own objects;
 * st_nlink 1, st_size 0, st_blksize 4096 as Linux gives.  st_dev, st_rdev
 * and the times are 0; both ends of a pipe share st_ino.
 */
UEPOLL_API int uepoll_fstat(int fd, struct stat *statbuf);
/* readv/writev: one read or write of the whole vector (atomic for a pipe
 * write of at most PIPE_BUF bytes, one datagram), IOV_MAX segments. */
UEPOLL_API ssize_t uepoll_readv(int fd, const struct iovec *iov, int iovcnt);
UEPOLL_API ssize_t uepoll_writev(int fd, const struct iovec *iov, int iovcnt);
/* glibc's helpers: one 8-byte read or write; 0, or -1 (errno as set). */
UEPOLL_API int uepoll_eventfd_read(int fd, eventfd_t *value);
UEPOLL_API int uepoll_eventfd_write(int fd, eventfd_t value);

/* ---- your own pollable objects -------------------------------------------
 *
 * The file-operations contract (the kernel's struct file_operations, cut to
 * what readiness needs).  All callbacks return a byte count or a negative
 * errno value; they never block:
 *
 *   poll(file, pt)   Return the object's current mask (EPOLLIN, EPOLLOUT,
 *                    EPOLLHUP, ...).  Before computing it, call
 *                    uepoll_poll_wait(file, wq, pt) for every wait queue
 *                    whose wake-ups can change that mask.  pt may be NULL
 *                    (a re-check that hooks nothing); pass it on as is.
 *   read, write      Transfer data without blocking: return -EAGAIN when the
 *                    call would block.  For a blocking descriptor uepoll
 *                    sleeps until poll() reports EPOLLIN (read) or EPOLLOUT
 *                    (write) and calls again.  NULL means EINVAL.
 *   release          The last reference is gone: free the object.  Every
 *                    epoll registration of the file was removed before.
 *
 * Whenever the state behind the mask changes, call uepoll_wake_up(wq, key)
 * with the events that became true (key 0 wakes everybody).  That call runs
 * the epoll callbacks synchronously; do not hold a lock that poll() takes.
 */
struct uepoll_file;
struct uepoll_wait_queue;
struct uepoll_poll_table;

struct uepoll_file_operations {
	uint32_t (*poll)(struct uepoll_file *file,
	                 struct uepoll_poll_table *pt);
	ssize_t (*read)(struct uepoll_file *file, void *buf, size_t count);
	ssize_t (*write)(struct uepoll_file *file, const void *buf,
	                 size_t count);
	void (*release)(struct uepoll_file *file);
};

/* Install a new object; flags: O_NONBLOCK, O_CLOEXEC.  Returns its fd. */
UEPOLL_API int uepoll_file_create(const struct uepoll_file_operations *fops,
                                  void *private_data, int flags);
UEPOLL_API void *uepoll_file_private(const struct uepoll_file *file);
UEPOLL_API struct uepoll_wait_queue *uepoll_wait_queue_create(void);
UEPOLL_API void uepoll_wait_queue_destroy(struct uepoll_wait_queue *wq);
UEPOLL_API void uepoll_poll_wait(struct uepoll_file *file,
                                 struct uepoll_wait_queue *wq,
                                 struct uepoll_poll_table *pt);
UEPOLL_API void uepoll_wake_up(struct uepoll_wait_queue *wq, uint32_t key);

/* ---- your own sockets ------------------------------------------------------
 *
 * A socket of your own (a userspace TCP/IP stack's, say) is a file as
 * above plus socket operations (the kernel's proto_ops): the uepoll_*
 * socket calls on its descriptor go to them, after uepoll has checked and
 * copied their arguments (addresses arrive in a struct sockaddr_storage).
 * A NULL operation gives EOPNOTSUPP.  They return 0, a count, a new
 * descriptor (accept) or a negative errno, and never block: accept and
 * recvmsg return -EAGAIN when nothing waits, sendmsg when there is no room,
 * connect -EINPROGRESS when it starts a connection and -EALREADY while it
 * is under way; the next call after it ended answers how (0, then -EISCONN
 * from then on; or its error, and the call after that starts anew), as
 * Linux's inet_stream_connect.  On a blocking descriptor (no O_NONBLOCK,
 * no MSG_DONTWAIT) uepoll sleeps until poll() reports EPOLLIN (accept,
 * recvmsg), EPOLLOUT (sendmsg; a stream send goes on until all is sent),
 * or EPOLLOUT, EPOLLERR or EPOLLHUP (connect, while it answers
 * -EINPROGRESS or -EALREADY), and calls again; in that call of connect,
 * uepoll_connect_resumed(file) is true, so that an attempt given up
 * meanwhile (a shutdown while connecting, which leaves the socket
 * unconnected) answers the sleeper with its error, as Linux's sleeping
 * connect does, where a fresh call starts anew.  accept creates the new
 * socket's descriptor itself, honouring SOCK_NONBLOCK and SOCK_CLOEXEC in
 * flags.  getname's peer is 0 (getsockname) or 1 (getpeername); it sets
 * *len to the full length, uepoll truncates the copy as the kernel does.
 */
struct uepoll_socket_operations {
	int (*bind)(struct uepoll_file *file, const struct sockaddr *addr,
	            socklen_t len);
	int (*connect)(struct uepoll_file *file, const struct sockaddr *addr,
	               socklen_t len);
	int (*listen)(struct uepoll_file *file, int backlog);
	int (*accept)(struct uepoll_file *file, struct sockaddr *addr,
	              socklen_t *len, int flags);
	int (*getname)(struct uepoll_file *file, struct sockaddr *addr,
	               socklen_t *len, int peer);
	int (*shutdown)(struct uepoll_file *file, int how);
	int (*getsockopt)(struct uepoll_file *file, int level, int name,
	                  void *val, socklen_t *len);
	int (*setsockopt)(struct uepoll_file *file, int level, int name,
	                  const void *val, socklen_t len);
	ssize_t (*sendmsg)(struct uepoll_file *file, const struct msghdr *msg,
	                   int flags);
	ssize_t (*recvmsg)(struct uepoll_file *file, struct msghdr *msg,
	                   int flags);
};

/* Install a new socket; flags: O_NONBLOCK, O_CLOEXEC.  Returns its fd. */
UEPOLL_API int uepoll_socket_create(const struct uepoll_file_operations *fops,
                                    const struct uepoll_socket_operations *sops,
                                    void *private_data, int flags);

/* Non-zero in a connect operation that a blocking connect on file calls again
 * after its sleep (see above); 0 in any other call. */
UEPOLL_API int uepoll_connect_resumed(const struct uepoll_file *file);

/*
 * The kernel's sock_register(): from now on uepoll_socket(domain, ...)
 * returns fn(domain, type, protocol, arg) (a descriptor, or -1 with errno)
 * instead of a kernel socket.  fn NULL gives domain back to the kernel.
 * AF_UNIX stays uepoll's own.  EINVAL for a bad domain, ENOSPC past 8.
 */
typedef int (*uepoll_socket_fn)(int domain, int type, int protocol, void *arg);
UEPOLL_API int uepoll_register_family(int domain, uepoll_socket_fn fn,
                                      void *arg);

/* ---- observability and limits ---------------------------------------------
 */
struct uepoll_stats {
	uint64_t watches;    /* registrations in the interest set */
	uint64_t ready;      /* items on the ready list now */
	uint64_t waiters;    /* threads sleeping in uepoll_wait now */
	uint64_t callbacks;  /* ep_poll_callback runs that queued or woke */
	uint64_t wakeups;    /* waiters woken */
	uint64_t harvests;   /* ep_send_events runs */
	uint64_t events;     /* events delivered */
	uint64_t waits;      /* uepoll_wait calls */
	uint64_t sleeps;     /* ...that queued themselves to sleep or spin */
	uint64_t spin_wakes; /* ...woken while busy polling (no system call) */
	uint64_t spurious;   /* wake-ups that found the ready list empty */
	uint64_t empty_harvests; /* harvests that delivered nothing */
	uint64_t herd_max; /* most waiters one wake-up of a file woke (diag) */
};
UEPOLL_API int uepoll_stats(int epfd, struct uepoll_stats *stats);
/*
 * Write a text view of an instance into buf (NUL-terminated, truncated to
 * len): one line per registration in the kernel's fdinfo format, then the
 * ready list in order, then the counters.  Returns the length it needed.
 */
UEPOLL_API int uepoll_fdinfo(int epfd, char *buf, size_t len);

/*
 * Tracing: a hook called at each step of an event's way through the
 * engine, in the thread and under the locks where the step happens (so it
 * must be quick and must not call uepoll).  NULL turns tracing off.
 */
enum uepoll_trace_kind {
	UEPOLL_TRACE_WAKE_UP = 1, /* a file's wait queue is woken (key) */
	UEPOLL_TRACE_CALLBACK,    /* ep_poll_callback queued item fd */
	UEPOLL_TRACE_WAKE_WAITER, /* ...and woke a thread in uepoll_wait */
	UEPOLL_TRACE_SLEEP,       /* a thread sleeps in uepoll_wait */
	UEPOLL_TRACE_WAKE,        /* ...and is awake again */
	UEPOLL_TRACE_HARVEST,     /* ep_send_events returned count events */
};
struct uepoll_trace_event {
	enum uepoll_trace_kind kind;
	int fd;          /* the item's fd, or -1 */
	uint32_t events; /* wake-up key, or the item's events */
	int count;       /* HARVEST: events delivered */
};
typedef void (*uepoll_trace_fn)(const struct uepoll_trace_event *ev, void *arg);
UEPOLL_API void uepoll_set_trace(uepoll_trace_fn fn, void *arg);

/*
 * Trace export: record the trace hook's events (with a timestamp and the
 * thread) in memory from now on, and write them to path as Chrome
 * trace-event JSON (chrome://tracing, ui.perfetto.dev) at
 * uepoll_trace_export_stop().  Takes the trace hook over while it runs.
 * Up to 65536 events are kept; later ones are dropped (and counted in
 * the file).  Returns -1 with EBUSY while an export runs.
 */
UEPOLL_API int uepoll_trace_export_start(const char *path);
UEPOLL_API int uepoll_trace_export_stop(void);

/*
 * The diagnostic mode: off by default, and then one predictable branch.
 * On (UEPOLL_DIAG=1 in the environment, read when the library loads, or
 * this call), uepoll watches for the classic epoll mistakes and reports
 * each with the instance, the descriptor and what to do, at most once per
 * (instance, fd, kind) unless UEPOLL_DIAG_REPEAT (UEPOLL_DIAG=all).  A
 * report goes to fn, or to stderr when fn is NULL; fn runs where the
 * mistake is seen, possibly under uepoll's locks: it must not call uepoll.
 * Per-item counters (uepoll_item_info, uepoll_fdinfo) are kept while on.
 */
enum uepoll_diag_kind {
	UEPOLL_DIAG_ET_UNREAD = 1,  /* edge-triggered data left unread */
	UEPOLL_DIAG_EAGAIN_STORM,   /* events whose first read gives EAGAIN */
	UEPOLL_DIAG_HERD,           /* one wake-up woke several waiters */
	UEPOLL_DIAG_CLOSED_WATCHED, /* close() left a registration (a dup) */
	UEPOLL_DIAG_STARVED,        /* items ready through many full harvests */
};
struct uepoll_diag_report {
	enum uepoll_diag_kind kind;
	const char *name; /* "et-unread", "eagain-storm", ... */
	int epfd;         /* the instance (the descriptor last used), or -1 */
	int fd;           /* the registered descriptor */
	uint64_t count;   /* occurrences behind the report */
	const char *message; /* one line: what was seen and what to do */
};
typedef void (*uepoll_diag_fn)(const struct uepoll_diag_report *r, void *arg);
#define UEPOLL_DIAG_ON 0x1
#define UEPOLL_DIAG_REPEAT 0x2
UEPOLL_API int uepoll_set_diag(int flags, uepoll_diag_fn fn, void *arg);

/* One registration's state and counters (counters: in diagnostic mode). */
struct uepoll_item_info {
	uint32_t events;        /* what it watches, with EPOLLET etc. */
	uint64_t data;          /* its epoll_data */
	int ready;              /* on the ready list now */
	int counted;            /* the counters below are kept */
	uint64_t wakeups;       /* callbacks of its file that concerned it */
	uint64_t harvests;      /* harvests that polled it */
	uint64_t delivered;     /* harvests that reported it */
	uint64_t last_ready_ns; /* CLOCK_MONOTONIC of its last callback */
};
/* ENOENT when fd is not registered in epfd. */
UEPOLL_API int uepoll_item_info(int epfd, int fd,
                                struct uepoll_item_info *info);

/*
 * Ask an instance to signal a kernel eventfd when it gets ready items: the
 * way to make a uepoll instance visible to the kernel's poll, select and
 * epoll.  uepoll writes 1 when an item is queued while the instance is not
 * signalled, and counts it unsignalled again when a harvest or a poll of it
 * (uepoll_wait, uepoll_poll) leaves its ready list empty; it never reads
 * the eventfd.  So after a harvest: read the eventfd to clear it, then if
 * uepoll_poll() says the instance is still readable, write 1 back.  One per
 * instance; kernel_eventfd -1 removes it.  EBADF if it is not open, EINVAL
 * if it is not an eventfd.  The instance keeps its own duplicate (close-
 * on-exec, at a high number), closed when replaced, removed or when the
 * instance goes, so you may close yours at any time.  It makes the eventfd
 * non-blocking (O_NONBLOCK is shared by every descriptor of the eventfd):
 * a full counter never stalls a wake-up.
 */
UEPOLL_API int uepoll_notify(int epfd, int kernel_eventfd);

/*
 * How kernel fds are watched: always "epoll" (each instance that holds
 * kernel fds owns a kernel epoll, its kernel half; see README).
 */
UEPOLL_API const char *uepoll_host_backend(void);

enum uepoll_limit {
	UEPOLL_LIMIT_WATCHES = 1, /* registrations in the process: ENOSPC */
	UEPOLL_LIMIT_FILES = 2,   /* open uepoll descriptors: EMFILE */
};
UEPOLL_API long uepoll_getlimit(int which);
UEPOLL_API int uepoll_setlimit(int which, long value);

#ifdef __cplusplus
}
#endif
#endif /* UEPOLL_H */
