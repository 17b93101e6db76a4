/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Building a record and sending it through the stages.  A handler starts the
 * record of its call in this CPU's `pending` slot and ends with
 * pending_finish(), which tail-calls, as needed:
 *
 *   USTACK (stacks on, a new fd) -> [UMAP, when the mappings changed] ->
 *   USTACK -> [PYSTACK, a CPython process] -> PATH (a file to name, or
 *   queued SCM_RIGHTS fds) -> emitted
 *
 * A stage that is missing (not loaded on this kernel) is skipped: the tail
 * call falls through and the record goes out with what it has.
 */
#ifndef FDW_PENDING_H
#define FDW_PENDING_H

#include <linux/errno.h> /* macros only: safe beside vmlinux.h */

#include "lib/file.h"

static __always_inline struct pending *pending_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pendings, &zero);
}

/* A fresh record of the current call; with_path: a struct fdw_event_path. */
static __always_inline struct pending *pending_begin(__u16 type, __u16 sys, bool with_path)
{
	struct pending *p = pending_get();

	if (!p)
		return NULL;
	event_init(&p->rec.h, type, sys, with_path ? sizeof(p->rec) : sizeof(p->rec.h));
	if (with_path)
		p->rec.h.flags = FDW_F_HAS_PATH;
	p->rec.path[0] = 0;
	p->path_len = sizeof(p->rec.path);
	p->file = 0;
	p->upath = 0;
	p->want_path = with_path;
	p->want_stack = 0;
	p->umap_tried = 0;
	p->scm_n = 0;
	p->scm_i = 0;
	return p;
}

static __always_inline bool stacks_on(__u32 tgid)
{
	__u8 *v;

	if (!*(volatile __u8 *)&stack_pids_used)
		return stacks_default;
	v = bpf_map_lookup_elem(&stack_pids, &tgid);
	return v ? *v != 0 : stacks_default;
}

/* Sends the finished record; the caller's path goes in when the kernel's
 * could not be had. */
static __always_inline void pending_output(struct pending *p)
{
	if (p->upath && !(p->rec.h.flags & FDW_F_PATH_RESOLVED)) {
		long n = bpf_probe_read_user_str(p->rec.path, sizeof(p->rec.path), (const char *)p->upath);

		p->path_len = n > 0 ? n : sizeof(p->rec.path);
	}
	output(&p->rec, p->want_path ? p->path_len : 0);
}

/* The last stage: PATH when there is something to name, else out it goes. */
static __always_inline int pending_emit(void *ctx, struct pending *p)
{
	if (p->file || p->scm_n)
		bpf_tail_call(ctx, &stages, FDW_STAGE_PATH);
	if (p->scm_n) /* the queue cannot be emitted without its stage */
		mark_resync(bpf_get_current_pid_tgid() >> 32, FDW_STAT_UNTRACKED);
	else
		pending_output(p);
	return 0;
}

static __always_inline int pending_finish(void *ctx, struct pending *p)
{
	if (p->want_stack && stacks_on(bpf_get_current_pid_tgid() >> 32))
		bpf_tail_call(ctx, &stages, FDW_STAGE_USTACK);
	return pending_emit(ctx, p);
}

/* ---- the shapes of records handlers emit ------------------------------- */

/* Fills the description of the file now at fd; keeps it for the PATH stage
 * when it has a name there (a path, or a unix socket's address). */
static __always_inline void describe_fd(struct pending *p, int fd)
{
	struct file *f = fill_file(&p->rec.h, fd, &p->ff);

	if (f && p->want_path && (has_path(&p->rec.h) || p->rec.h.sock.family == AF_UNIX_))
		p->file = (__u64)f;
}

/* The end every new-fd record shares: its result, close-on-exec, and for a
 * new fd its description and stack. */
static __always_inline int finish_new_fd(void *ctx, struct pending *p, long ret, bool cloexec)
{
	p->rec.h.ret = ret;
	if (cloexec)
		p->rec.h.flags |= FDW_F_CLOEXEC;
	if (ret >= 0) {
		describe_fd(p, ret);
		p->want_stack = 1;
	}
	return pending_finish(ctx, p);
}

/* A call that returns one new fd (or -errno); with_path: one that may be a
 * file with a path, or a unix socket with one. */
static __always_inline int emit_new_fd(void *ctx, __u16 sys, long ret, bool cloexec, bool with_path)
{
	struct pending *p = pending_begin(FDW_EV_OPEN, sys, with_path);

	return p ? finish_new_fd(ctx, p, ret, cloexec) : 0;
}

/* An open-family call: a new fd plus the path the caller gave (kept when
 * the kernel's cannot be resolved). */
static __always_inline int emit_open_path(void *ctx, __u16 sys, long ret, bool cloexec,
					  const char *upath, __s64 flags)
{
	struct pending *p = pending_begin(FDW_EV_OPEN, sys, true);

	if (!p)
		return 0;
	p->rec.h.arg = flags;
	p->upath = (__u64)upath;
	return finish_new_fd(ctx, p, ret, cloexec);
}

/* A call that fills an int[2] with two new fds (pipe, pipe2, socketpair). */
static __always_inline int emit_fd_pair(void *ctx, __u16 sys, long ret, bool cloexec, const int *ufds)
{
	struct pending *p = pending_begin(FDW_EV_OPEN, sys, false);
	int fds[2] = {-1, -1};

	if (!p)
		return 0;
	if (cloexec)
		p->rec.h.flags |= FDW_F_CLOEXEC;
	p->rec.h.ret = ret;
	if (ret >= 0) {
		bpf_probe_read_user(fds, sizeof(fds), ufds);
		p->rec.h.ret = fds[0];
		p->rec.h.fd2 = fds[1];
		/* mode/ino/name describe fds[0]; both ends share the kind */
		fill_file(&p->rec.h, fds[0], NULL);
		p->rec.h.arg = fds[1] >= 0 ? (__s64)BPF_CORE_READ(fd_file(fds[1]), f_inode, i_ino) : 0;
		p->want_stack = 1;
	}
	return pending_finish(ctx, p);
}

/* dup/dup2/dup3/F_DUPFD*: ret = the new fd of oldfd's file. */
static __always_inline int emit_dup(void *ctx, __u16 sys, long ret, int oldfd, bool cloexec)
{
	struct pending *p = pending_begin(FDW_EV_DUP, sys, true);

	if (!p)
		return 0;
	p->rec.h.fd2 = oldfd;
	return finish_new_fd(ctx, p, ret, cloexec);
}

/* A record with no file to describe. */
static __always_inline int emit_simple(__u16 type, __u16 sys, long ret, int fd2, __s64 arg, __s64 arg2)
{
	struct pending *p = pending_begin(type, sys, false);

	if (!p)
		return 0;
	p->rec.h.ret = ret;
	p->rec.h.fd2 = fd2;
	p->rec.h.arg = arg;
	p->rec.h.arg2 = arg2;
	output(&p->rec, 0);
	return 0;
}

/* bind/connect/listen on fd returned: the socket's addresses after the call
 * (a failed call is counted, with nothing to describe). */
static __always_inline int emit_sockaddr(void *ctx, __u16 sys, long ret, int fd)
{
	struct pending *p;

	/* -EINPROGRESS: a connect under way, its addresses set */
	if (ret < 0 && ret != -EINPROGRESS)
		return emit_simple(FDW_EV_SOCKADDR, sys, ret, fd, 0, 0);
	p = pending_begin(FDW_EV_SOCKADDR, sys, true);
	if (!p)
		return 0;
	p->rec.h.ret = ret;
	p->rec.h.fd2 = fd;
	describe_fd(p, fd);
	return pending_emit(ctx, p);
}

#endif /* FDW_PENDING_H */
