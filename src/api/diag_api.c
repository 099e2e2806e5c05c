/*
 * The explaining side of the API: the diagnostic mode's switch
 * (fs/ep_diag.c does the work), one registration's counters, and the
 * export of the trace hook's events as Chrome trace-event JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "api/uaccess.h"
#include "fs/ep_diag.h"
#include "fs/eventpoll.h"
#include "fs/fdtable.h"

UEPOLL_API int uepoll_set_diag(int flags, uepoll_diag_fn fn, void *arg)
{
	if (flags & ~(UEPOLL_DIAG_ON | UEPOLL_DIAG_REPEAT))
		return (int)uep_ret_errno(-EINVAL);
	uep_diag_set(flags & UEPOLL_DIAG_ON ? flags : 0, fn, arg);
	return 0;
}

UEPOLL_API int uepoll_item_info(int epfd, int fd, struct uepoll_item_info *info)
{
	if (uep_copy_faults(info, sizeof(*info)))
		return (int)uep_ret_errno(-EFAULT);
	struct uepoll_file *f = uep_fget(epfd);
	if (!f)
		return (int)uep_ret_errno(-EBADF);
	int r = uep_ep_item_info(f, fd, info);
	uep_file_put(f);
	return (int)uep_ret_errno(r);
}

/* ---- trace export ---- */

#define TRACE_CAP 65536

struct trace_rec {
	uint64_t ns;
	int tid, fd, count;
	uint32_t events;
	enum uepoll_trace_kind kind;
	_Atomic int ready; /* release-stored once the fields are written */
};

static struct trace_rec *trace_buf;
static _Atomic size_t trace_next;
static char *trace_path;
static _Atomic int trace_running;
static UEP_TLS int trace_tid;

static void trace_record(const struct uepoll_trace_event *ev, void *arg)
{
	(void)arg;
	size_t i =
	        atomic_fetch_add_explicit(&trace_next, 1, memory_order_relaxed);
	if (i >= TRACE_CAP)
		return;
	struct trace_rec *r = &trace_buf[i];
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (!trace_tid)
		trace_tid = (int)syscall(SYS_gettid);
	r->ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	r->tid = trace_tid;
	r->kind = ev->kind;
	r->fd = ev->fd;
	r->events = ev->events;
	r->count = ev->count;
	atomic_store_explicit(&r->ready, 1, memory_order_release);
}

UEPOLL_API int uepoll_trace_export_start(const char *path)
{
	if (!path)
		return (int)uep_ret_errno(-EFAULT);
	int idle = 0;
	if (!atomic_compare_exchange_strong(&trace_running, &idle, 1))
		return (int)uep_ret_errno(-EBUSY);
	if (!trace_buf)
		trace_buf = calloc(TRACE_CAP, sizeof(*trace_buf));
	else
		memset(trace_buf, 0, TRACE_CAP * sizeof(*trace_buf));
	trace_path = strdup(path);
	if (!trace_buf || !trace_path) {
		free(trace_path);
		atomic_store(&trace_running, 0);
		return (int)uep_ret_errno(-ENOMEM);
	}
	atomic_store(&trace_next, 0);
	uepoll_set_trace(trace_record, NULL);
	return 0;
}

static const char *const trace_names[] = {
        [UEPOLL_TRACE_WAKE_UP] = "wake_up",
        [UEPOLL_TRACE_CALLBACK] = "callback",
        [UEPOLL_TRACE_WAKE_WAITER] = "wake_waiter",
        [UEPOLL_TRACE_SLEEP] = "sleep",
        [UEPOLL_TRACE_WAKE] = "sleep",
        [UEPOLL_TRACE_HARVEST] = "harvest",
};

/* One event: the sleep is a duration (B/E), the rest are instants. */
static void trace_write_one(FILE *fp, const struct trace_rec *r, int pid,
                            uint64_t t0)
{
	const char *ph = r->kind == UEPOLL_TRACE_SLEEP  ? "B"
	                 : r->kind == UEPOLL_TRACE_WAKE ? "E"
	                                                : "i";
	uint64_t rel = r->ns - t0;
	fprintf(fp,
	        ",\n{\"name\":\"%s\",\"cat\":\"uepoll\",\"ph\":\"%s\","
	        "\"ts\":%llu.%03u,\"pid\":%d,\"tid\":%d",
	        trace_names[r->kind], ph, (unsigned long long)(rel / 1000),
	        (unsigned)(rel % 1000), pid, r->tid);
	if (*ph == 'i')
		fprintf(fp,
		        ",\"s\":\"t\",\"args\":{\"fd\":%d,\"events\":\"0x%x\","
		        "\"count\":%d}",
		        r->fd, r->events, r->count);
	fputc('}', fp);
}

UEPOLL_API int uepoll_trace_export_stop(void)
{
	if (!atomic_load(&trace_running))
		return (int)uep_ret_errno(-EINVAL);
	uepoll_set_trace(NULL, NULL);
	size_t n = atomic_load(&trace_next);
	size_t kept = n < TRACE_CAP ? n : TRACE_CAP;
	FILE *fp = fopen(trace_path, "w");
	int err = fp ? 0 : -errno;
	if (fp) {
		int pid = (int)getpid();
		/* Slots are claimed, not stamped, in order: the earliest. */
		uint64_t t0 = UINT64_MAX;
		for (size_t i = 0; i < kept; i++)
			if (atomic_load_explicit(&trace_buf[i].ready,
			                         memory_order_acquire) &&
			    trace_buf[i].ns < t0)
				t0 = trace_buf[i].ns;
		fprintf(fp,
		        "{\"displayTimeUnit\":\"ns\",\"otherData\":{"
		        "\"producer\":"
		        "\"uepoll\",\"dropped\":%zu},\"traceEvents\":["
		        "\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,"
		        "\"args\":{\"name\":\"uepoll\"}}",
		        n - kept, pid);
		for (size_t i = 0; i < kept; i++) {
			const struct trace_rec *r = &trace_buf[i];
			/* A straggler still writing its slot is left out. */
			if (!atomic_load_explicit(&r->ready,
			                          memory_order_acquire))
				continue;
			trace_write_one(fp, r, pid, t0);
		}
		fprintf(fp, "\n]}\n");
		if (fclose(fp) != 0)
			err = -errno;
	}
	free(trace_path);
	trace_path = NULL;
	atomic_store(&trace_running, 0);
	return (int)uep_ret_errno(err);
}
