/*
 * A cache of fixed-size objects (the kernel's kmem_cache, much reduced):
 * objects are carved from 64 KiB blocks with no per-object header, so a
 * 128-byte epitem costs 128 bytes, and freed objects go on a free list for
 * the next allocation.  Blocks are kept until the process ends.
 */
#ifndef UEP_SLAB_H
#define UEP_SLAB_H

#include <pthread.h>
#include <stddef.h>

struct uep_slab {
	pthread_mutex_t lock;
	size_t size;     /* object size, a multiple of 16 */
	void *free_list; /* freed objects, linked through their first word */
	char *cur, *end; /* the unused rest of the newest block */
};

#define UEP_SLAB_INIT(sz)                                                      \
	{                                                                      \
		PTHREAD_MUTEX_INITIALIZER, ((sz) + 15) & ~(size_t)15, NULL,    \
		        NULL, NULL                                             \
	}

/* A zeroed object, or NULL when out of memory. */
void *uep_slab_zalloc(struct uep_slab *s);
void uep_slab_free(struct uep_slab *s, void *obj);

#endif
