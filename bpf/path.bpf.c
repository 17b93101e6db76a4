// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The PATH stage: names the file of the pending record the way
 * /proc/PID/fd does (a path, "net:[4026531840]" for namespaces, a unix
 * socket's address) and emits the record.  Queued SCM_RIGHTS fds are
 * described and emitted one per pass, the stage tail-calling itself.
 */
#include "lib/path.h"
#include "lib/pending.h"

/* Copies the kept name of p's file at key into its record; false when
 * there is none, or it may be stale (maps.h, path_names). */
static __always_inline bool name_kept(struct pending *p, const struct path_key *key)
{
	struct path_name *n = bpf_map_lookup_elem(&path_names, key);

	if (!n || n->gen != names_gen() || n->parent != p->ff.parent || n->hash_len != p->ff.hash_len ||
	    n->inode != p->ff.inode)
		return false;
	__builtin_memcpy(p->rec.path, n->path, sizeof(p->rec.path));
	p->path_len = n->len;
	return true;
}

/* Keeps the name just walked (p's record), valid while path_gen is gen. */
static __always_inline void name_keep(struct path_walk *w, const struct pending *p,
				      const struct path_key *key, __u64 gen)
{
	w->name.gen = gen;
	w->name.parent = p->ff.parent;
	w->name.hash_len = p->ff.hash_len;
	w->name.inode = p->ff.inode;
	w->name.len = p->path_len;
	w->name._pad = 0;
	__builtin_memcpy(w->name.path, p->rec.path, sizeof(w->name.path));
	bpf_map_update_elem(&path_names, key, &w->name, BPF_ANY);
}

/* "NAME:[INO]" into path (of FDW_PATH_MAX bytes), as bpf_snprintf would
 * write it (5.13+); false when name cannot be read. */
static __always_inline bool ns_format(char *path, const char *name, __u64 ino)
{
	long n = bpf_probe_read_kernel_str(path, 32, name);
	__u32 pos, len = 1;
	__u64 v = ino;

	if (n <= 1)
		return false;
	pos = (n - 1) & 31;
	path[pos++] = ':';
	path[pos++] = '[';
#pragma unroll
	for (int i = 0; i < 19; i++)
		if (v >= 10) {
			v /= 10;
			len++;
		}
	v = ino;
#pragma unroll
	for (int i = 0; i < 20; i++)
		if (i < len) {
			path[(pos + len - 1 - i) & 63] = '0' + v % 10;
			v /= 10;
		}
	pos += len;
	path[pos & 63] = ']';
	path[(pos + 1) & 63] = 0;
	return true;
}

/* The path of p's file into its record (FDW_F_PATH_RESOLVED), when it has
 * one, and how much of it to send. */
static __always_inline void name_file(struct pending *p)
{
	struct fdw_event_path *e = &p->rec;
	const struct file_facts *ff = &p->ff;
	const struct dentry_operations *d_op;
	struct path_key key;
	struct path_walk *w;
	__u64 gen;
	long n;

	if (e->h.sock.family == AF_UNIX_) {
		fill_unix_path(e, (struct file *)p->file);
		return;
	}
	if (!has_path(&e->h))
		return;
	if (ff->magic == NSFS_MAGIC_) {
		/* namespace files: /proc shows "net:[4026531840]" (ns_dname) */
		struct inode *inode = (struct inode *)ff->inode;
		struct ns_common *ns = BPF_CORE_READ(inode, i_private);
		const char *name = BPF_CORE_READ(ns, ops, name);
		__u64 args[2] = {(__u64)name, e->h.ino};

		if (!name)
			return;
		if (has_snprintf ? bpf_snprintf(e->path, sizeof(e->path), "%s:[%lu]", args, sizeof(args)) > 0
				 : ns_format(e->path, name, e->h.ino))
			e->h.flags |= FDW_F_PATH_RESOLVED;
		return;
	}
	/* a name /proc makes up: anon inodes and the like */
	d_op = (const struct dentry_operations *)ff->d_op;
	if (d_op && BPF_CORE_READ(d_op, d_dname))
		return;
	key.dentry = ff->dentry;
	key.mnt = ff->mnt;
	if (!ff->unhashed && name_kept(p, &key)) {
		e->h.flags |= FDW_F_PATH_RESOLVED;
		return;
	}
	gen = names_gen(); /* before the walk: a rename during it makes the name stale */
	w = walk_path((struct dentry *)ff->dentry, (struct vfsmount *)ff->mnt, ff->unhashed);
	if (!w)
		return;
	n = bpf_probe_read_kernel_str(e->path, sizeof(e->path), &w->buf[w->off & WALK_MASK_]);
	if (n <= 0)
		return;
	e->h.flags |= FDW_F_PATH_RESOLVED;
	p->path_len = n;
	if (!ff->unhashed)
		name_keep(w, p, &key, gen);
}

/* Turns the record into the one of the next queued SCM_RIGHTS fd (same
 * call, same stack); false when the queue is done. */
static __always_inline bool scm_next(struct pending *p)
{
	__u32 i = p->scm_i;
	__s32 sid = p->rec.h.stack_id;
	__u16 sys = p->rec.h.sys, keep = p->rec.h.flags & (FDW_F_CLOEXEC | FDW_F_STACK_MEMO);
	int fd;

	if (i >= p->scm_n || i >= FDW_SCM_QUEUE)
		return false;
	fd = p->scm_fds[i & 31];
	p->scm_i = i + 1;
	event_init(&p->rec.h, FDW_EV_OPEN, sys, sizeof(p->rec));
	p->rec.h.flags = FDW_F_HAS_PATH | keep;
	p->rec.h.stack_id = sid;
	p->rec.h.ret = fd;
	p->rec.path[0] = 0;
	p->path_len = sizeof(p->rec.path);
	p->file = (__u64)fill_file(&p->rec.h, fd, &p->ff);
	return true;
}

SEC("raw_tp")
int stage_path(struct bpf_raw_tracepoint_args *ctx)
{
	struct pending *p = pending_get();

	if (!p)
		return 0;
	if (p->scm_n && !scm_next(p))
		return 0;
	if (p->file)
		name_file(p);
	pending_output(p);
	if (p->scm_n && p->scm_i < p->scm_n)
		bpf_tail_call(ctx, &stages, FDW_STAGE_PATH);
	return 0;
}

/* Renames and mount-table changes, of every process (all_*: the dispatcher
 * does not filter them): any of them may change the path of files whose
 * names are kept. */
#define NAMES_CHANGE(name)                                                \
	SEC("raw_tp")                                                     \
	int all_##name(struct bpf_raw_tracepoint_args *ctx)               \
	{                                                                 \
		names_changed();                                          \
		return 0;                                                 \
	}

NAMES_CHANGE(rename)
NAMES_CHANGE(renameat)
NAMES_CHANGE(renameat2)
NAMES_CHANGE(mount)
NAMES_CHANGE(umount2)
NAMES_CHANGE(move_mount)
NAMES_CHANGE(pivot_root)
