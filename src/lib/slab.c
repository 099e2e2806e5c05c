/* Fixed-size object caches: see slab.h. */
#include "lib/slab.h"

#include <stdlib.h>
#include <string.h>

#define SLAB_BLOCK (64 * 1024)

void *uep_slab_zalloc(struct uep_slab *s)
{
	void *obj;
	pthread_mutex_lock(&s->lock);
	if (s->free_list) {
		obj = s->free_list;
		memcpy(&s->free_list, obj, sizeof(void *));
	} else {
		if ((size_t)(s->end - s->cur) < s->size) {
			char *block = malloc(SLAB_BLOCK);
			if (!block) {
				pthread_mutex_unlock(&s->lock);
				return NULL;
			}
			s->cur = block;
			s->end = block + SLAB_BLOCK;
		}
		obj = s->cur;
		s->cur += s->size;
	}
	pthread_mutex_unlock(&s->lock);
	memset(obj, 0, s->size);
	return obj;
}

void uep_slab_free(struct uep_slab *s, void *obj)
{
	if (!obj)
		return;
	pthread_mutex_lock(&s->lock);
	memcpy(obj, &s->free_list, sizeof(void *));
	s->free_list = obj;
	pthread_mutex_unlock(&s->lock);
}
