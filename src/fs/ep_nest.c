/*
 * Nested instances: the checks that keep them a bounded DAG (the kernel's
 * ep_loop_check and reverse_path_check).  An ADD whose target is an epoll
 * must not close a loop or make a chain of more than EP_MAX_NESTS + 1
 * instances (ELOOP); an ADD under an instance that is itself watched must
 * not give a file more wake-up paths than path_limits allows (EINVAL).
 * Everything here runs under epnested_mutex, which serialises such ADDs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/eventpoll_int.h"

static pthread_mutex_t epnested_mutex = PTHREAD_MUTEX_INITIALIZER;
static unsigned loop_check_gen; /* under epnested_mutex */
/* Non-epoll files below an insertion: their wake-up paths get counted. */
static struct {
	struct uepoll_file **files;
	size_t n, cap;
	int error;
} tfile_check; /* under epnested_mutex */
static struct uep_eventpoll *inserting_into;

/* ---- loop and depth checks (the kernel's ep_loop_check) ---- */

/*
 * Remember f for the path check, once per check, with a reference: the
 * check runs after the instance lock that kept f alive was dropped.  A
 * file in its final release is left out (its registrations are going).
 * epnested_mutex held.
 */
static void tfile_check_add(struct uepoll_file *f)
{
	if (f->f_check_gen == loop_check_gen)
		return;
	if (tfile_check.n == tfile_check.cap) {
		size_t cap = tfile_check.cap ? 2 * tfile_check.cap : 16;
		struct uepoll_file **v =
		        realloc(tfile_check.files, cap * sizeof(*v));
		if (!v) {
			tfile_check.error = -ENOMEM;
			return;
		}
		tfile_check.files = v;
		tfile_check.cap = cap;
	}
	if (!uep_file_tryget(f))
		return;
	f->f_check_gen = loop_check_gen;
	tfile_check.files[tfile_check.n++] = f;
}

/*
 * Drop epnested_mutex, then the list's references: a put may be a final
 * release, which takes instance locks, so it must come after every lock.
 */
static void full_check_unlock(void)
{
	struct uepoll_file **files = tfile_check.files;
	size_t n = tfile_check.n;
	tfile_check.files = NULL;
	tfile_check.n = tfile_check.cap = 0;
	pthread_mutex_unlock(&epnested_mutex);
	for (size_t i = 0; i < n; i++)
		uep_file_put(files[i]);
	free(files);
}

/*
 * Wake-up paths (the kernel's reverse_path_check): a file woken wakes
 * every instance above it, recursively.  Paths that end at depth d are
 * limited to path_limits[d] (depth 0: any number), so that one wake-up
 * cannot fan out without bound through nested instances.
 */
static const int path_limits[EP_MAX_NESTS + 1] = {1000, 500, 100, 50, 10};
static int path_count[EP_MAX_NESTS + 1];

static int reverse_path_check_proc(struct uepoll_file *f, int depth)
{
	int error = 0;
	if (depth > EP_MAX_NESTS)
		return -1;
	uep_mutex_lock(&f->f_lock);
	for (struct uep_epitem *epi = f->f_ep; epi && !error;
	     epi = epi->fnext) {
		struct uepoll_file *parent = epi->ep->file;
		uep_mutex_lock(&parent->f_lock);
		bool top = parent->f_ep == NULL;
		uep_mutex_unlock(&parent->f_lock);
		if (!top)
			error = reverse_path_check_proc(parent, depth + 1);
		else if (depth > 0 && ++path_count[depth] > path_limits[depth])
			error = -1;
	}
	uep_mutex_unlock(&f->f_lock);
	return error;
}

/* -EINVAL when a listed file has too many wake-up paths.  epnested held. */
static int reverse_path_check(void)
{
	if (tfile_check.error)
		return tfile_check.error;
	for (size_t i = 0; i < tfile_check.n; i++) {
		memset(path_count, 0, sizeof(path_count));
		if (reverse_path_check_proc(tfile_check.files[i], 0))
			return -EINVAL;
	}
	return 0;
}

/* Deepest chain of instances below ep.  epnested_mutex held. */
static int ep_loop_check_proc(struct uep_eventpoll *ep, int depth)
{
	int result = 0;
	if (ep->gen == loop_check_gen)
		return ep->loop_check_depth;
	uep_mutex_lock(&ep->mtx);
	ep->gen = loop_check_gen;
	for (struct uep_rb_node *n = uep_rb_first(&ep->rbr); n;
	     n = uep_rb_next(n)) {
		struct uep_epitem *epi =
		        uep_container_of(n, struct uep_epitem, rbn);
		if (!uep_is_file_epoll(epi->file)) {
			tfile_check_add(epi->file);
			continue;
		}
		struct uep_eventpoll *child = epi->file->private_data;
		int r;
		if (child == inserting_into || depth > EP_MAX_NESTS)
			r = EP_MAX_NESTS + 1;
		else
			r = ep_loop_check_proc(child, depth + 1) + 1;
		if (r > result)
			result = r;
		if (result > EP_MAX_NESTS)
			break;
	}
	ep->loop_check_depth = result;
	uep_mutex_unlock(&ep->mtx);
	return result;
}

/* Longest chain of instances above ep.  epnested_mutex held. */
static int ep_upwards_depth(struct uep_eventpoll *ep, int depth)
{
	int result = 0;
	if (ep->gen == loop_check_gen)
		return ep->loop_check_depth;
	struct uepoll_file *f = ep->file;
	uep_mutex_lock(&f->f_lock);
	for (struct uep_epitem *epi = f->f_ep; epi; epi = epi->fnext) {
		int r = ep_upwards_depth(epi->ep, depth + 1) + 1;
		if (r > result)
			result = r;
	}
	uep_mutex_unlock(&f->f_lock);
	ep->gen = loop_check_gen;
	ep->loop_check_depth = result;
	return result;
}

/* 0 if `to` may go into `ep`; -ELOOP for a cycle or a chain too deep. */
static int ep_loop_check(struct uep_eventpoll *ep, struct uep_eventpoll *to)
{
	inserting_into = ep;
	int depth = ep_loop_check_proc(to, 0);
	if (depth > EP_MAX_NESTS)
		return -ELOOP;
	int up = ep_upwards_depth(ep, 0);
	return depth + 1 + up > EP_MAX_NESTS ? -ELOOP : 0;
}

int uep_ep_full_check_nested(struct uep_eventpoll *ep, struct uepoll_file *tf,
                             bool *nested)
{
	pthread_mutex_lock(&epnested_mutex);
	loop_check_gen++;
	tfile_check.n = 0;
	tfile_check.error = 0;
	if (!uep_is_file_epoll(tf)) {
		tfile_check_add(tf);
		return 0;
	}
	int error = ep_loop_check(ep, tf->private_data);
	if (error) {
		full_check_unlock();
		*nested = false;
	}
	return error;
}

int uep_ep_reverse_path_check(void)
{
	return reverse_path_check();
}

void uep_ep_full_check_end(void)
{
	full_check_unlock();
}

/* fork (fs/fork.c): hold epnested_mutex across it. */
void uep_ep_nest_fork_lock(bool lock)
{
	if (lock)
		pthread_mutex_lock(&epnested_mutex);
	else
		pthread_mutex_unlock(&epnested_mutex);
}
