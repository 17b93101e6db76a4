// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The PATH stage: names the file of the pending record the way
 * /proc/PID/fd does (a path, "net:[4026531840]" for namespaces, a unix
 * socket's address) and emits the record.  Queued SCM_RIGHTS fds are
 * described and emitted one per pass, the stage tail-calling itself.
 */
#include "lib/path.h"
#include "lib/pending.h"

/* The path of file f (ff: what fill_file_f() found) into rec
 * (FDW_F_PATH_RESOLVED), when it has one. */
static __always_inline void name_file(struct fdw_event_path *e, struct file *f, const struct file_facts *ff)
{
	const struct dentry_operations *d_op;
	struct path_walk *w;

	if (e->h.sock.family == AF_UNIX_) {
		fill_unix_path(e, f);
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

		if (name && bpf_snprintf(e->path, sizeof(e->path), "%s:[%lu]", args, sizeof(args)) > 0)
			e->h.flags |= FDW_F_PATH_RESOLVED;
		return;
	}
	/* a name /proc makes up: anon inodes and the like */
	d_op = (const struct dentry_operations *)ff->d_op;
	if (d_op && BPF_CORE_READ(d_op, d_dname))
		return;
	w = walk_path((struct dentry *)ff->dentry, (struct vfsmount *)ff->mnt, ff->unhashed);
	if (w && bpf_probe_read_kernel_str(e->path, sizeof(e->path), &w->buf[w->off & WALK_MASK_]) > 0)
		e->h.flags |= FDW_F_PATH_RESOLVED;
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
		name_file(&p->rec, (struct file *)p->file, &p->ff);
	pending_output(p);
	if (p->scm_n && p->scm_i < p->scm_n)
		bpf_tail_call(ctx, &stages, FDW_STAGE_PATH);
	return 0;
}
