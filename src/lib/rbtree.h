/*
 * Red-black tree, intrusive, in the style of <linux/rbtree.h>: the caller
 * walks down to the insertion point with its own comparison, links the new
 * node there with uep_rb_link_node(), then calls uep_rb_insert_color() to
 * rebalance.  The parent pointer and the colour share one word.
 */
#ifndef UEP_RBTREE_H
#define UEP_RBTREE_H

#include <stddef.h>
#include <stdint.h>

struct uep_rb_node {
	uintptr_t
	        parent_color; /* parent pointer | colour in bit 0 (1 = black) */
	struct uep_rb_node *left, *right;
};

struct uep_rb_root {
	struct uep_rb_node *node;
};

#define UEP_RB_RED 0u
#define UEP_RB_BLACK 1u

static inline struct uep_rb_node *uep_rb_parent(const struct uep_rb_node *n)
{
	return (struct uep_rb_node *)(n->parent_color & ~(uintptr_t)3);
}

static inline unsigned uep_rb_color(const struct uep_rb_node *n)
{
	return (unsigned)(n->parent_color & 1);
}

static inline void uep_rb_link_node(struct uep_rb_node *node,
                                    struct uep_rb_node *parent,
                                    struct uep_rb_node **link)
{
	node->parent_color = (uintptr_t)parent; /* red */
	node->left = node->right = NULL;
	*link = node;
}

void uep_rb_insert_color(struct uep_rb_node *node, struct uep_rb_root *root);
void uep_rb_erase(struct uep_rb_node *node, struct uep_rb_root *root);
struct uep_rb_node *uep_rb_first(const struct uep_rb_root *root);
struct uep_rb_node *uep_rb_next(const struct uep_rb_node *node);

#endif
