/* Intrusive circular doubly linked list, in the style of <linux/list.h>. */
#ifndef UEP_LIST_H
#define UEP_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct uep_list {
	struct uep_list *next, *prev;
};

#define uep_container_of(ptr, type, member)                                    \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define UEP_LIST_INIT(name)                                                    \
	{                                                                      \
		&(name), &(name)                                               \
	}

static inline void uep_list_init(struct uep_list *h)
{
	h->next = h;
	h->prev = h;
}

static inline bool uep_list_empty(const struct uep_list *h)
{
	return h->next == h;
}

/* A node removed with uep_list_del_init() points at itself: "not linked". */
static inline bool uep_list_linked(const struct uep_list *n)
{
	return n->next != n;
}

static inline void uep_list_insert(struct uep_list *n, struct uep_list *prev,
                                   struct uep_list *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}

static inline void uep_list_add(struct uep_list *n, struct uep_list *h)
{
	uep_list_insert(n, h, h->next);
}

static inline void uep_list_add_tail(struct uep_list *n, struct uep_list *h)
{
	uep_list_insert(n, h->prev, h);
}

static inline void uep_list_del_init(struct uep_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	uep_list_init(n);
}

/* Move every node of list to the front of head; list becomes empty. */
static inline void uep_list_splice_init(struct uep_list *list,
                                        struct uep_list *head)
{
	if (uep_list_empty(list))
		return;
	struct uep_list *first = list->next, *last = list->prev;
	struct uep_list *at = head->next;
	first->prev = head;
	head->next = first;
	last->next = at;
	at->prev = last;
	uep_list_init(list);
}

/* Move every node of list to the back of head; list becomes empty. */
static inline void uep_list_splice_tail_init(struct uep_list *list,
                                             struct uep_list *head)
{
	if (uep_list_empty(list))
		return;
	struct uep_list *first = list->next, *last = list->prev;
	struct uep_list *at = head->prev;
	first->prev = at;
	at->next = first;
	last->next = head;
	head->prev = last;
	uep_list_init(list);
}

#define uep_list_entry(ptr, type, member) uep_container_of(ptr, type, member)

#define uep_list_for_each(pos, head)                                           \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

#define uep_list_for_each_safe(pos, tmp, head)                                 \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);       \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
