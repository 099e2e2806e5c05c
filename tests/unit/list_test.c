/* Tests for the intrusive list in list.h: every function and macro. */
#include "../runner.h"

#include "lib/list.h"

struct elem {
	int v;
	struct uep_list link;
};

/*
 * Checks that head holds exactly the values want[0..n) in that order,
 * walking forward and backward and checking both links of every node.
 */
static void list_expect(const struct uep_list *head, const int *want, int n)
{
	const struct uep_list *p = head;
	int i;

	for (i = 0; i < n; i++) {
		const struct uep_list *q = p->next;

		ASSERT_PTR_NE(q, head);
		ASSERT_PTR_EQ(q->prev, p);
		ASSERT_EQ(uep_list_entry(q, struct elem, link)->v, want[i]);
		ASSERT_TRUE(uep_list_linked(q));
		p = q;
	}
	ASSERT_PTR_EQ(p->next, head);
	ASSERT_PTR_EQ(head->prev, p);
	/* Backward, by the prev links alone. */
	p = head->prev;
	for (i = n - 1; i >= 0; i--) {
		ASSERT_EQ(uep_list_entry(p, struct elem, link)->v, want[i]);
		p = p->prev;
	}
	ASSERT_PTR_EQ(p, head);
	ASSERT_EQ(uep_list_empty(head), n == 0);
}

static void elems_init(struct elem *e, int n, int first)
{
	for (int i = 0; i < n; i++) {
		e[i].v = first + i;
		uep_list_init(&e[i].link);
	}
}

TEST(list_init_empty)
{
	struct uep_list a = UEP_LIST_INIT(a), b;

	ASSERT_TRUE(uep_list_empty(&a));
	ASSERT_PTR_EQ(a.next, &a);
	ASSERT_PTR_EQ(a.prev, &a);
	uep_list_init(&b);
	ASSERT_TRUE(uep_list_empty(&b));
	ASSERT_PTR_EQ(b.prev, &b);
	/* A freshly initialised node counts as "not linked". */
	ASSERT_FALSE(uep_list_linked(&b));
	list_expect(&a, NULL, 0);
}

TEST(list_container_of)
{
	struct elem e = {.v = 42};

	ASSERT_PTR_EQ(uep_container_of(&e.link, struct elem, link), &e);
	ASSERT_PTR_EQ(uep_list_entry(&e.link, struct elem, link), &e);
}

TEST(list_add)
{
	struct uep_list h = UEP_LIST_INIT(h);
	struct elem e[3], x = {.v = 9};

	elems_init(e, 3, 1);
	/* add pushes at the front: a stack. */
	uep_list_add(&e[0].link, &h);
	list_expect(&h, (int[]){1}, 1);
	uep_list_add(&e[1].link, &h);
	uep_list_add(&e[2].link, &h);
	list_expect(&h, (int[]){3, 2, 1}, 3);
	/* Adding after a node inserts right behind it. */
	uep_list_add(&x.link, &e[2].link);
	list_expect(&h, (int[]){3, 9, 2, 1}, 4);
	uep_list_del_init(&x.link);
	list_expect(&h, (int[]){3, 2, 1}, 3);
}

TEST(list_add_tail)
{
	struct uep_list h = UEP_LIST_INIT(h);
	struct elem e[3], x = {.v = 0};

	elems_init(e, 3, 1);
	/* add_tail appends: a FIFO. */
	uep_list_add_tail(&e[0].link, &h);
	list_expect(&h, (int[]){1}, 1);
	uep_list_add_tail(&e[1].link, &h);
	uep_list_add_tail(&e[2].link, &h);
	list_expect(&h, (int[]){1, 2, 3}, 3);
	/* Mixed with add. */
	uep_list_add(&x.link, &h);
	list_expect(&h, (int[]){0, 1, 2, 3}, 4);
}

TEST(list_insert)
{
	struct uep_list h = UEP_LIST_INIT(h);
	struct elem e[3];

	elems_init(e, 3, 1);
	uep_list_add_tail(&e[0].link, &h);
	uep_list_add_tail(&e[2].link, &h);
	uep_list_insert(&e[1].link, &e[0].link, &e[2].link);
	list_expect(&h, (int[]){1, 2, 3}, 3);
}

TEST(list_del_init_linked)
{
	struct uep_list h = UEP_LIST_INIT(h);
	struct elem e[4];

	elems_init(e, 4, 1);
	for (int i = 0; i < 4; i++) {
		ASSERT_FALSE(uep_list_linked(&e[i].link));
		uep_list_add_tail(&e[i].link, &h);
		ASSERT_TRUE(uep_list_linked(&e[i].link));
	}
	/* Middle, then first, then last, then the only one. */
	uep_list_del_init(&e[1].link);
	ASSERT_FALSE(uep_list_linked(&e[1].link));
	ASSERT_PTR_EQ(e[1].link.next, &e[1].link);
	ASSERT_PTR_EQ(e[1].link.prev, &e[1].link);
	list_expect(&h, (int[]){1, 3, 4}, 3);
	uep_list_del_init(&e[0].link);
	list_expect(&h, (int[]){3, 4}, 2);
	uep_list_del_init(&e[3].link);
	list_expect(&h, (int[]){3}, 1);
	uep_list_del_init(&e[2].link);
	list_expect(&h, NULL, 0);
	for (int i = 0; i < 4; i++)
		ASSERT_FALSE(uep_list_linked(&e[i].link));

	/* Deleting an unlinked (self-pointing) node again is harmless. */
	uep_list_del_init(&e[0].link);
	ASSERT_FALSE(uep_list_linked(&e[0].link));

	/* A deleted node can be added again. */
	uep_list_add(&e[1].link, &h);
	list_expect(&h, (int[]){2}, 1);
}

/* Fills a (head a) with values first.. and b (head b) with others. */
static void two_lists(struct uep_list *a, struct elem *ea, int na,
                      struct uep_list *b, struct elem *eb, int nb)
{
	uep_list_init(a);
	uep_list_init(b);
	elems_init(ea, na, 1);
	elems_init(eb, nb, 10);
	for (int i = 0; i < na; i++)
		uep_list_add_tail(&ea[i].link, a);
	for (int i = 0; i < nb; i++)
		uep_list_add_tail(&eb[i].link, b);
}

TEST(list_splice_init)
{
	struct uep_list a, b;
	struct elem ea[3], eb[2];

	/* Non-empty into non-empty: b's nodes go in front of a's. */
	two_lists(&a, ea, 3, &b, eb, 2);
	uep_list_splice_init(&b, &a);
	list_expect(&a, (int[]){10, 11, 1, 2, 3}, 5);
	list_expect(&b, NULL, 0);

	/* Non-empty into empty. */
	two_lists(&a, ea, 0, &b, eb, 2);
	uep_list_splice_init(&b, &a);
	list_expect(&a, (int[]){10, 11}, 2);
	list_expect(&b, NULL, 0);

	/* Empty into non-empty: nothing moves. */
	two_lists(&a, ea, 3, &b, eb, 0);
	uep_list_splice_init(&b, &a);
	list_expect(&a, (int[]){1, 2, 3}, 3);
	list_expect(&b, NULL, 0);

	/* Empty into empty. */
	two_lists(&a, ea, 0, &b, eb, 0);
	uep_list_splice_init(&b, &a);
	list_expect(&a, NULL, 0);
	list_expect(&b, NULL, 0);

	/* A single node. */
	two_lists(&a, ea, 2, &b, eb, 1);
	uep_list_splice_init(&b, &a);
	list_expect(&a, (int[]){10, 1, 2}, 3);
	list_expect(&b, NULL, 0);

	/* The emptied list is usable again. */
	uep_list_del_init(&ea[0].link);
	uep_list_add(&ea[0].link, &b);
	list_expect(&b, (int[]){1}, 1);
	list_expect(&a, (int[]){10, 2}, 2);
}

TEST(list_splice_tail_init)
{
	struct uep_list a, b;
	struct elem ea[3], eb[2];

	/* Non-empty into non-empty: b's nodes go behind a's. */
	two_lists(&a, ea, 3, &b, eb, 2);
	uep_list_splice_tail_init(&b, &a);
	list_expect(&a, (int[]){1, 2, 3, 10, 11}, 5);
	list_expect(&b, NULL, 0);

	/* Non-empty into empty. */
	two_lists(&a, ea, 0, &b, eb, 2);
	uep_list_splice_tail_init(&b, &a);
	list_expect(&a, (int[]){10, 11}, 2);
	list_expect(&b, NULL, 0);

	/* Empty into non-empty: nothing moves. */
	two_lists(&a, ea, 3, &b, eb, 0);
	uep_list_splice_tail_init(&b, &a);
	list_expect(&a, (int[]){1, 2, 3}, 3);
	list_expect(&b, NULL, 0);

	/* Empty into empty. */
	two_lists(&a, ea, 0, &b, eb, 0);
	uep_list_splice_tail_init(&b, &a);
	list_expect(&a, NULL, 0);
	list_expect(&b, NULL, 0);

	/* A single node. */
	two_lists(&a, ea, 2, &b, eb, 1);
	uep_list_splice_tail_init(&b, &a);
	list_expect(&a, (int[]){1, 2, 10}, 3);
	list_expect(&b, NULL, 0);
}

TEST(list_for_each)
{
	struct uep_list h = UEP_LIST_INIT(h), *pos;
	struct elem e[5];
	int n = 0;

	uep_list_for_each(pos, &h) n++;
	ASSERT_EQ(n, 0);

	elems_init(e, 5, 0);
	for (int i = 0; i < 5; i++)
		uep_list_add_tail(&e[i].link, &h);
	uep_list_for_each(pos, &h)
	{
		ASSERT_EQ(uep_list_entry(pos, struct elem, link)->v, n);
		n++;
	}
	ASSERT_EQ(n, 5);
}

TEST(list_for_each_safe)
{
	struct uep_list h = UEP_LIST_INIT(h), other = UEP_LIST_INIT(other);
	struct uep_list *pos, *tmp;
	struct elem e[6];
	int n = 0;

	uep_list_for_each_safe(pos, tmp, &h) n++;
	ASSERT_EQ(n, 0);

	elems_init(e, 6, 0);
	for (int i = 0; i < 6; i++)
		uep_list_add_tail(&e[i].link, &h);

	/* Delete the odd ones while walking; every node is still visited. */
	uep_list_for_each_safe(pos, tmp, &h)
	{
		struct elem *x = uep_list_entry(pos, struct elem, link);

		ASSERT_EQ(x->v, n);
		n++;
		if (x->v % 2)
			uep_list_del_init(pos);
	}
	ASSERT_EQ(n, 6);
	list_expect(&h, (int[]){0, 2, 4}, 3);

	/* Move every node to another list while walking (del + add). */
	n = 0;
	uep_list_for_each_safe(pos, tmp, &h)
	{
		uep_list_del_init(pos);
		uep_list_add(pos, &other);
		n++;
	}
	ASSERT_EQ(n, 3);
	list_expect(&h, NULL, 0);
	list_expect(&other, (int[]){4, 2, 0}, 3);

	/* Delete everything. */
	uep_list_for_each_safe(pos, tmp, &other) uep_list_del_init(pos);
	list_expect(&other, NULL, 0);
	for (int i = 0; i < 6; i++)
		ASSERT_FALSE(uep_list_linked(&e[i].link));
}
