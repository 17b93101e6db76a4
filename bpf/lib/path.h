/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one path walker: the absolute path of a (dentry, vfsmount) the way
 * d_path() spells it for /proc, which tracepoint programs may not call.  It
 * walks dentries up to the mount root, crosses to the parent mount, and
 * stops at the root of the mount namespace.
 *
 * The walk's state lives in a per-CPU map, not in registers: every step then
 * looks alike to the verifier, which prunes the loop after one pass instead
 * of exploring each branch of each of its steps.
 */
#ifndef FDW_PATH_H
#define FDW_PATH_H

#include "lib/file.h"

#include <bpf/bpf_core_read.h>

#define FDW_WALK_DEPTH 48 /* path components resolved at most */
#define WALK_MASK_ (FDW_WALK_MAX - 1)

/* path_gen (maps.h) as it is now, and its bump. */
static __always_inline __u64 names_gen(void)
{
	return *(volatile __u64 *)&path_gen;
}

static __always_inline void names_changed(void)
{
	__sync_fetch_and_add(&path_gen, 1);
}

static __always_inline struct path_walk *walk_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&path_walks, &zero);
}

/* Makes m the walk's mount: its root, parent and mountpoint, in one read.
 * False when it cannot be read. */
static __always_inline bool walk_enter_mount(struct path_walk *w, struct mount *m)
{
	bool ok = BLK_READ(w->mblk, m);

	w->mnt = (__u64)m;
	w->mnt_root = (__u64)BLK_FIELD(w->mblk, ok, m, struct mount, mnt.mnt_root);
	w->mnt_parent = (__u64)BLK_FIELD(w->mblk, ok, m, struct mount, mnt_parent);
	w->mnt_mountpoint = (__u64)BLK_FIELD(w->mblk, ok, m, struct mount, mnt_mountpoint);
	return w->mnt_root != 0;
}

/* One step: a mount crossing or one name prepended.  1 = stop. */
static __always_inline int walk_step(void)
{
	struct path_walk *w = walk_get();
	struct dentry *d, *parent;
	struct qstr q;
	__u32 off, len;
	bool ok;

	if (!w)
		return 1;
	d = (struct dentry *)w->dentry;
	if (w->dentry == w->mnt_root) {
		struct mount *m = (struct mount *)w->mnt, *pm = (struct mount *)w->mnt_parent;

		if (m == pm || !pm) { /* the namespace's root (or detached) */
			w->done = 1;
			return 1;
		}
		w->dentry = w->mnt_mountpoint;
		return walk_enter_mount(w, pm) ? 0 : 1;
	}
	ok = BLK_READ(w->dblk, d);
	parent = BLK_FIELD(w->dblk, ok, d, struct dentry, d_parent);
	if (d == parent) { /* a filesystem's root that is not its mount's: not reachable */
		w->done = 1;
		return 1;
	}
	q = BLK_FIELD(w->dblk, ok, d, struct dentry, d_name);
	len = q.len;
	off = w->off;
	if (len == 0 || len > 255 || len + 1 > off || off >= FDW_WALK_MAX) {
		w->off = FDW_WALK_MAX; /* does not fit */
		return 1;
	}
	off -= len;
	bpf_probe_read_kernel(&w->buf[off & WALK_MASK_], len & 0xff, q.name);
	off -= 1;
	w->buf[off & WALK_MASK_] = '/';
	w->off = off;
	w->dentry = (__u64)parent;
	return 0;
}

/* Walks the path of (d, vm); with `deleted` (d is unlinked) it ends in
 * " (deleted)" as in /proc.  Returns the walk, whose buf[off..] holds the
 * NUL-terminated path, or NULL (too deep, too long). */
static __always_inline struct path_walk *walk_path(struct dentry *d, struct vfsmount *vm, bool deleted)
{
	struct path_walk *w = walk_get();

	if (!w || !d || !vm)
		return NULL;
	w->dentry = (__u64)d;
	w->off = FDW_WALK_MAX - 1;
	w->buf[FDW_WALK_MAX - 1] = 0;
	w->done = 0;
	if (!walk_enter_mount(w, (struct mount *)((__u64)vm - bpf_core_field_offset(struct mount, mnt))))
		return NULL;
	if (deleted) {
		__builtin_memcpy(&w->buf[FDW_WALK_MAX - 11], " (deleted)", 10);
		w->off = FDW_WALK_MAX - 11;
	}
#pragma clang loop unroll(disable)
	for (int i = 0; i < FDW_WALK_DEPTH; i++)
		if (walk_step())
			break;
	w = walk_get();
	if (!w || !w->done || w->off >= FDW_WALK_MAX)
		return NULL;
	if (w->off == FDW_WALK_MAX - 1 || (deleted && w->off == FDW_WALK_MAX - 11)) {
		/* the root itself */
		w->off -= 1;
		w->buf[w->off & WALK_MASK_] = '/';
	}
	return w;
}

#endif /* FDW_PATH_H */
