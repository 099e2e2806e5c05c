/*
 * Red-black tree tests.  Every mutation is followed by a full re-check of the
 * invariants (rb_check()), so a rebalancing bug is caught at the operation
 * that introduced it, not thousands of operations later.
 */
#include "../runner.h"

#include <stdbool.h>

#include "lib/list.h"
#include "lib/rbtree.h"

struct item {
	struct uep_rb_node node;
	long key;
};

#define ITEM(n) uep_container_of(n, struct item, node)

/* Equal keys go right, so duplicates are kept in insertion order. */
static void item_insert(struct uep_rb_root *root, struct item *it)
{
	struct uep_rb_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (it->key < ITEM(parent)->key)
			link = &parent->left;
		else
			link = &parent->right;
	}
	uep_rb_link_node(&it->node, parent, link);
	uep_rb_insert_color(&it->node, root);
}

static struct item *item_find(const struct uep_rb_root *root, long key)
{
	struct uep_rb_node *n = root->node;

	while (n) {
		if (key < ITEM(n)->key)
			n = n->left;
		else if (key > ITEM(n)->key)
			n = n->right;
		else
			return ITEM(n);
	}
	return NULL;
}

/*
 * Checks the subtree under n (whose parent must be parent) and returns its
 * black height, counting NULL links as the black leaves.
 */
static int rb_check_sub(const struct uep_rb_node *n,
                        const struct uep_rb_node *parent, long *count)
{
	int lh, rh;

	if (!n)
		return 1;
	ASSERT_PTR_EQ(uep_rb_parent(n), parent);
	/* Bit 1 is not a colour: nothing may ever set it. */
	ASSERT_EQ(n->parent_color & 2, 0);
	if (uep_rb_color(n) == UEP_RB_RED) {
		if (n->left)
			ASSERT_EQ(uep_rb_color(n->left), UEP_RB_BLACK);
		if (n->right)
			ASSERT_EQ(uep_rb_color(n->right), UEP_RB_BLACK);
	}
	/* The BST order, locally; the full order is checked by the walk. */
	if (n->left)
		ASSERT_LE(ITEM(n->left)->key, ITEM(n)->key);
	if (n->right)
		ASSERT_GE(ITEM(n->right)->key, ITEM(n)->key);
	(*count)++;
	lh = rb_check_sub(n->left, n, count);
	rh = rb_check_sub(n->right, n, count);
	ASSERT_EQ(lh, rh);
	return lh + (uep_rb_color(n) == UEP_RB_BLACK);
}

/*
 * Checks every invariant of the tree, which must hold exactly the items of
 * items[0..nitems) whose in_tree[] flag is set (in_tree may be NULL when all
 * nitems are in).  Returns the black height.
 */
static int rb_check(const struct uep_rb_root *root, struct item *items,
                    const bool *in_tree, long nitems)
{
	long expect = 0, count = 0, walked = 0;
	const struct uep_rb_node *n, *prev = NULL;
	int bh;

	for (long i = 0; i < nitems; i++)
		expect += in_tree ? in_tree[i] : 1;

	if (root->node) {
		ASSERT_EQ(uep_rb_color(root->node), UEP_RB_BLACK);
		ASSERT_PTR_EQ(uep_rb_parent(root->node), NULL);
	}
	bh = rb_check_sub(root->node, NULL, &count);
	ASSERT_EQ(count, expect);

	/*
	 * In-order walk with first/next: sorted, each node one of ours and in
	 * the tree, and as many as expected (so none missing or repeated).
	 */
	for (n = uep_rb_first(root); n; n = uep_rb_next(n)) {
		struct item *it = ITEM(n);
		long idx = it - items;

		ASSERT_TRUE(idx >= 0 && idx < nitems);
		if (in_tree)
			ASSERT_TRUE(in_tree[idx]);
		if (prev)
			ASSERT_LE(ITEM(prev)->key, it->key);
		prev = n;
		ASSERT_LE(++walked, expect);
	}
	ASSERT_EQ(walked, expect);
	return bh;
}

/* xorshift64: fixed seed, the same sequence on every machine. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void shuffle(long *a, long n)
{
	for (long i = n - 1; i > 0; i--) {
		long j = (long)(rng() % (uint64_t)(i + 1));
		long t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

/*
 * Inserts items with the given keys one by one, then erases them in the
 * order given by del_order, checking the whole tree after every step.
 */
static void insert_then_erase(const long *keys, const long *del_order, long n)
{
	struct uep_rb_root root = {NULL};
	struct item *items = calloc((size_t)n, sizeof(*items));
	bool *in_tree = calloc((size_t)n, sizeof(*in_tree));
	int bh;

	ASSERT_TRUE(items && in_tree);
	for (long i = 0; i < n; i++) {
		items[i].key = keys[i];
		item_insert(&root, &items[i]);
		in_tree[i] = true;
		bh = rb_check(&root, items, in_tree, n);
		/* A tree of black height b (NULLs included) has at least
		 * 2^(b-1) - 1 nodes: the black height grows as log n. */
		ASSERT_LE(1L << (bh - 1), i + 2);
	}
	for (long i = 0; i < n; i++) {
		long idx = del_order[i];

		uep_rb_erase(&items[idx].node, &root);
		in_tree[idx] = false;
		rb_check(&root, items, in_tree, n);
	}
	ASSERT_PTR_EQ(root.node, NULL);
	free(items);
	free(in_tree);
}

#define NKEYS 5000

TEST(rb_empty)
{
	struct uep_rb_root root = {NULL};

	ASSERT_PTR_EQ(uep_rb_first(&root), NULL);
	ASSERT_EQ(rb_check(&root, NULL, NULL, 0), 1);
}

TEST(rb_single)
{
	struct uep_rb_root root = {NULL};
	struct item it = {.key = 7};

	item_insert(&root, &it);
	ASSERT_PTR_EQ(root.node, &it.node);
	ASSERT_EQ(uep_rb_color(&it.node), UEP_RB_BLACK);
	ASSERT_PTR_EQ(uep_rb_first(&root), &it.node);
	ASSERT_PTR_EQ(uep_rb_next(&it.node), NULL);
	rb_check(&root, &it, NULL, 1);
	uep_rb_erase(&it.node, &root);
	ASSERT_PTR_EQ(root.node, NULL);
	ASSERT_PTR_EQ(uep_rb_first(&root), NULL);
}

TEST(rb_increasing)
{
	static long keys[NKEYS], order[NKEYS];

	/* Erase in the same order (always the minimum), then reversed. */
	for (long i = 0; i < NKEYS; i++)
		keys[i] = order[i] = i;
	insert_then_erase(keys, order, NKEYS);
	for (long i = 0; i < NKEYS; i++)
		order[i] = NKEYS - 1 - i;
	insert_then_erase(keys, order, NKEYS);
}

TEST(rb_decreasing)
{
	static long keys[NKEYS], order[NKEYS];

	for (long i = 0; i < NKEYS; i++) {
		keys[i] = NKEYS - i;
		order[i] = i;
	}
	insert_then_erase(keys, order, NKEYS);
	for (long i = 0; i < NKEYS; i++)
		order[i] = NKEYS - 1 - i;
	insert_then_erase(keys, order, NKEYS);
}

TEST(rb_random)
{
	static long keys[NKEYS], order[NKEYS];

	rng_state = 0x9e3779b97f4a7c15ull;
	for (long i = 0; i < NKEYS; i++) {
		keys[i] = (long)(rng() % 1000000);
		order[i] = i;
	}
	shuffle(order, NKEYS);
	insert_then_erase(keys, order, NKEYS);
}

TEST(rb_random_duplicates)
{
	static long keys[NKEYS], order[NKEYS];

	/* Only 50 distinct keys: long runs of equal keys. */
	rng_state = 12345;
	for (long i = 0; i < NKEYS; i++) {
		keys[i] = (long)(rng() % 50);
		order[i] = i;
	}
	shuffle(order, NKEYS);
	insert_then_erase(keys, order, NKEYS);
}

/* Inserts and erases interleaved, so erase meets trees of every shape. */
TEST(rb_random_mixed)
{
	enum { N = 600, OPS = 20000 };
	static struct item items[N];
	static bool in_tree[N];
	struct uep_rb_root root = {NULL};

	rng_state = 0xdeadbeefcafef00dull;
	for (long op = 0; op < OPS; op++) {
		long i = (long)(rng() % N);

		if (in_tree[i]) {
			uep_rb_erase(&items[i].node, &root);
			in_tree[i] = false;
		} else {
			items[i].key = (long)(rng() % 1000);
			item_insert(&root, &items[i]);
			in_tree[i] = true;
		}
		rb_check(&root, items, in_tree, N);
	}
}

/* A perfect tree of 1..15 has a root, leaves, and inner nodes to erase. */
TEST(rb_erase_root_leaf_inner)
{
	enum { N = 15 };
	struct item items[N];
	bool in_tree[N];
	struct uep_rb_root root = {NULL};
	struct uep_rb_node *n;
	long k;

	for (long i = 0; i < N; i++) {
		items[i].key = i + 1;
		item_insert(&root, &items[i]);
		in_tree[i] = true;
	}
	rb_check(&root, items, in_tree, N);

	/* The root (two children: its successor moves up). */
	n = root.node;
	k = ITEM(n)->key;
	uep_rb_erase(n, &root);
	in_tree[k - 1] = false;
	ASSERT_PTR_NE(root.node, n);
	rb_check(&root, items, in_tree, N);
	ASSERT_PTR_EQ(item_find(&root, k), NULL);

	/* A leaf: the leftmost node has no children after the inserts. */
	n = uep_rb_first(&root);
	ASSERT_PTR_EQ(n->left, NULL);
	ASSERT_PTR_EQ(n->right, NULL);
	k = ITEM(n)->key;
	uep_rb_erase(n, &root);
	in_tree[k - 1] = false;
	rb_check(&root, items, in_tree, N);
	ASSERT_PTR_EQ(item_find(&root, k), NULL);

	/* An inner node with two children that is not the root. */
	n = root.node->right;
	ASSERT_TRUE(n->left && n->right);
	k = ITEM(n)->key;
	uep_rb_erase(n, &root);
	in_tree[k - 1] = false;
	rb_check(&root, items, in_tree, N);
	ASSERT_PTR_EQ(item_find(&root, k), NULL);

	/* A node with exactly one child, if the tree has one now. */
	for (n = uep_rb_first(&root); n; n = uep_rb_next(n))
		if (!n->left != !n->right)
			break;
	if (n) {
		k = ITEM(n)->key;
		uep_rb_erase(n, &root);
		in_tree[k - 1] = false;
		rb_check(&root, items, in_tree, N);
	}

	/* The rest, always through the root. */
	while (root.node) {
		k = ITEM(root.node)->key;
		uep_rb_erase(root.node, &root);
		in_tree[k - 1] = false;
		rb_check(&root, items, in_tree, N);
	}
	for (long i = 0; i < N; i++)
		ASSERT_FALSE(in_tree[i]);
}

/* An erased node can be inserted again (epoll re-adds the same item). */
TEST(rb_erase_reinsert)
{
	enum { N = 64 };
	struct item items[N];
	struct uep_rb_root root = {NULL};

	for (long i = 0; i < N; i++) {
		items[i].key = i;
		item_insert(&root, &items[i]);
	}
	for (long i = 0; i < N; i += 3) {
		uep_rb_erase(&items[i].node, &root);
		items[i].key = N + i;
		item_insert(&root, &items[i]);
		rb_check(&root, items, NULL, N);
	}
}

TEST(rb_first_next)
{
	enum { N = 100 };
	struct item items[N];
	struct uep_rb_root root = {NULL};
	struct uep_rb_node *n;
	long expect = 0;

	/* Keys 0, 2, ..., 198 inserted in a scrambled order (37 is coprime). */
	for (long i = 0; i < N; i++) {
		items[i].key = 2 * ((i * 37) % N);
		item_insert(&root, &items[i]);
	}
	ASSERT_EQ(ITEM(uep_rb_first(&root))->key, 0);
	for (n = uep_rb_first(&root); n; n = uep_rb_next(n)) {
		ASSERT_EQ(ITEM(n)->key, expect);
		expect += 2;
	}
	ASSERT_EQ(expect, 2 * N);

	/* Iteration that erases the node it just left, as epoll does. */
	for (n = uep_rb_first(&root); n;) {
		struct uep_rb_node *next = uep_rb_next(n);

		if (ITEM(n)->key % 4 == 0)
			uep_rb_erase(n, &root);
		n = next;
	}
	expect = 2;
	for (n = uep_rb_first(&root); n; n = uep_rb_next(n)) {
		ASSERT_EQ(ITEM(n)->key, expect);
		expect += 4;
	}
	ASSERT_EQ(expect, 2 * N + 2);
}
