/*
 * Red-black tree rebalancing (see rbtree.h for the calling convention).
 *
 * The invariants kept here, with NULL links counting as black leaves:
 *   1. every node is red or black, and the root is black;
 *   2. a red node has no red child;
 *   3. every path from a node down to a NULL link meets the same number of
 *      black nodes (the node's "black height").
 * Together they bound the height by 2*log2(n+1).
 *
 * Insertion links a red node (rule 3 still holds) and then repairs any
 * red-red edge by walking up.  Erasure unlinks a node with at most one child
 * (the successor stands in for a node with two) and, when that removed a
 * black node, repairs the one path that is now a black short.
 */
#include "lib/rbtree.h"

#include <assert.h>
#include <stdbool.h>

static inline bool rb_is_red(const struct uep_rb_node *n)
{
	return n && uep_rb_color(n) == UEP_RB_RED;
}

static inline void rb_set_parent(struct uep_rb_node *n, struct uep_rb_node *p)
{
	n->parent_color = (uintptr_t)p | (n->parent_color & 1);
}

static inline void rb_set_color(struct uep_rb_node *n, unsigned color)
{
	n->parent_color = (n->parent_color & ~(uintptr_t)1) | color;
}

/* Make whatever pointed at old (parent's link or the root) point at new. */
static inline void rb_change_child(struct uep_rb_node *old,
                                   struct uep_rb_node *new,
                                   struct uep_rb_node *parent,
                                   struct uep_rb_root *root)
{
	if (!parent)
		root->node = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

/*
 * Rotations keep the in-order sequence and every colour; they only move
 * black height from one side to the other.
 *
 *       x                 y
 *      / \    left       / \
 *     a   y   ----->    x   c
 *        / \           / \
 *       b   c         a   b
 */
static void rb_rotate_left(struct uep_rb_node *x, struct uep_rb_root *root)
{
	struct uep_rb_node *y = x->right;
	struct uep_rb_node *parent = uep_rb_parent(x);

	x->right = y->left;
	if (y->left)
		rb_set_parent(y->left, x);
	y->left = x;
	rb_set_parent(y, parent);
	rb_set_parent(x, y);
	rb_change_child(x, y, parent, root);
}

/* The mirror image of rb_rotate_left(): x's left child y takes its place. */
static void rb_rotate_right(struct uep_rb_node *x, struct uep_rb_root *root)
{
	struct uep_rb_node *y = x->left;
	struct uep_rb_node *parent = uep_rb_parent(x);

	x->left = y->right;
	if (y->right)
		rb_set_parent(y->right, x);
	y->right = x;
	rb_set_parent(y, parent);
	rb_set_parent(x, y);
	rb_change_child(x, y, parent, root);
}

void uep_rb_insert_color(struct uep_rb_node *node, struct uep_rb_root *root)
{
	/* node is red; the only rule that can be broken is red parent. */
	for (;;) {
		struct uep_rb_node *parent = uep_rb_parent(node);
		struct uep_rb_node *gparent, *uncle;

		if (!parent) {
			/* node is the root: blacken it (adds 1 to every path).
			 */
			rb_set_color(node, UEP_RB_BLACK);
			return;
		}
		if (!rb_is_red(parent))
			return;

		/* A red parent is never the root, so gparent exists (black). */
		gparent = uep_rb_parent(parent);
		assert(gparent);
		uncle = parent == gparent->left ? gparent->right
		                                : gparent->left;

		if (rb_is_red(uncle)) {
			/*
			 * Case 1, red uncle: push gparent's blackness down to
			 * parent and uncle.  Black heights are unchanged, but
			 * gparent is now red and may have a red parent itself,
			 * so continue from there.
			 */
			rb_set_color(parent, UEP_RB_BLACK);
			rb_set_color(uncle, UEP_RB_BLACK);
			rb_set_color(gparent, UEP_RB_RED);
			node = gparent;
			continue;
		}

		if (parent == gparent->left) {
			if (node == parent->right) {
				/*
				 * Case 2, black uncle, node is an inner
				 * grandchild: rotate it to the outside, so the
				 * red pair lines up for case 3.
				 */
				rb_rotate_left(parent, root);
				parent = node;
			}
			/*
			 * Case 3, black uncle, outer grandchild: rotate
			 * parent above gparent and swap their colours.  The
			 * subtree top stays black, so we are done.
			 */
			rb_rotate_right(gparent, root);
		} else {
			/* Cases 2 and 3 mirrored: parent is a right child. */
			if (node == parent->left) {
				rb_rotate_right(parent, root);
				parent = node;
			}
			rb_rotate_left(gparent, root);
		}
		rb_set_color(parent, UEP_RB_BLACK);
		rb_set_color(gparent, UEP_RB_RED);
		return;
	}
}

/*
 * The path through node (which may be NULL: a removed leaf's place) under
 * parent has one black fewer than its sibling's paths.  Add one back, or
 * move the deficit up the tree until it can be absorbed.
 */
static void rb_erase_fixup(struct uep_rb_node *node, struct uep_rb_node *parent,
                           struct uep_rb_root *root)
{
	struct uep_rb_node *sib;

	/* A red node absorbs the deficit by turning black (after the loop). */
	while (node != root->node && !rb_is_red(node)) {
		/*
		 * The sibling's side has black height >= 1, so sib exists.
		 * That also makes this test right when node is NULL: a NULL
		 * node cannot be the right child if parent->left is NULL.
		 */
		if (node == parent->left) {
			sib = parent->right;
			assert(sib);
			if (rb_is_red(sib)) {
				/*
				 * Case 1, red sibling: rotate it above parent
				 * and swap their colours.  Nothing is fixed
				 * yet, but node now has a black sibling (sib's
				 * old child) and a red parent: cases 2-4.
				 */
				rb_set_color(sib, UEP_RB_BLACK);
				rb_set_color(parent, UEP_RB_RED);
				rb_rotate_left(parent, root);
				sib = parent->right;
			}
			if (!rb_is_red(sib->left) && !rb_is_red(sib->right)) {
				/*
				 * Case 2, black sibling with black children:
				 * redden it, so both sides of parent are a
				 * black short and the deficit moves up to
				 * parent (ends at once if parent is red).
				 */
				rb_set_color(sib, UEP_RB_RED);
				node = parent;
				parent = uep_rb_parent(node);
				continue;
			}
			if (!rb_is_red(sib->right)) {
				/*
				 * Case 3, only the inner child is red: rotate
				 * it above sib.  The textbook colour swap is
				 * left out, as case 4 sets both colours anyway.
				 */
				rb_rotate_right(sib, root);
				sib = parent->right;
			}
			/*
			 * Case 4, sibling's outer child is red: rotate sib
			 * above parent, give it parent's colour, and blacken
			 * parent and the outer child.  node's side gains a
			 * black, sib's side keeps its count: done.
			 */
			rb_set_color(sib, uep_rb_color(parent));
			rb_set_color(parent, UEP_RB_BLACK);
			rb_set_color(sib->right, UEP_RB_BLACK);
			rb_rotate_left(parent, root);
			node = root->node;
		} else {
			/* The same four cases, mirrored. */
			sib = parent->left;
			assert(sib);
			if (rb_is_red(sib)) {
				rb_set_color(sib, UEP_RB_BLACK);
				rb_set_color(parent, UEP_RB_RED);
				rb_rotate_right(parent, root);
				sib = parent->left;
			}
			if (!rb_is_red(sib->left) && !rb_is_red(sib->right)) {
				rb_set_color(sib, UEP_RB_RED);
				node = parent;
				parent = uep_rb_parent(node);
				continue;
			}
			if (!rb_is_red(sib->left)) {
				rb_rotate_left(sib, root);
				sib = parent->left;
			}
			rb_set_color(sib, uep_rb_color(parent));
			rb_set_color(parent, UEP_RB_BLACK);
			rb_set_color(sib->left, UEP_RB_BLACK);
			rb_rotate_right(parent, root);
			node = root->node;
		}
	}
	if (node)
		rb_set_color(node, UEP_RB_BLACK);
}

void uep_rb_erase(struct uep_rb_node *node, struct uep_rb_root *root)
{
	struct uep_rb_node *child, *parent;
	unsigned color; /* colour of the node that really leaves its place */

	if (!node->left || !node->right) {
		/* At most one child: it simply takes node's place. */
		child = node->left ? node->left : node->right;
		parent = uep_rb_parent(node);
		color = uep_rb_color(node);
		rb_change_child(node, child, parent, root);
		if (child)
			rb_set_parent(child, parent);
	} else {
		/*
		 * Two children: the in-order successor s (leftmost of the
		 * right subtree, so it has no left child) leaves its own
		 * place, to its right child, and takes node's place and
		 * colour.  The black count changes only at s's old place.
		 */
		struct uep_rb_node *s = node->right;

		while (s->left)
			s = s->left;
		child = s->right;
		color = uep_rb_color(s);

		if (s == node->right) {
			/* s keeps its right subtree; the gap is under s. */
			parent = s;
		} else {
			parent = uep_rb_parent(s);
			parent->left = child;
			if (child)
				rb_set_parent(child, parent);
			s->right = node->right;
			rb_set_parent(node->right, s);
		}
		s->left = node->left;
		rb_set_parent(node->left, s);
		rb_change_child(node, s, uep_rb_parent(node), root);
		s->parent_color = node->parent_color;
	}

	/* Removing a red node changes no black count. */
	if (color == UEP_RB_BLACK)
		rb_erase_fixup(child, parent, root);
}

struct uep_rb_node *uep_rb_first(const struct uep_rb_root *root)
{
	struct uep_rb_node *n = root->node;

	if (!n)
		return NULL;
	while (n->left)
		n = n->left;
	return n;
}

struct uep_rb_node *uep_rb_next(const struct uep_rb_node *node)
{
	struct uep_rb_node *parent;

	/* A right subtree holds the next keys: its leftmost node is next. */
	if (node->right) {
		node = node->right;
		while (node->left)
			node = node->left;
		return (struct uep_rb_node *)node;
	}
	/*
	 * Otherwise climb while we are a right child (those ancestors come
	 * before us); the first ancestor we reach from its left is next.
	 */
	while ((parent = uep_rb_parent(node)) && node == parent->right)
		node = parent;
	return parent;
}
