/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Syscall handlers.  One raw tracepoint on sys_exit (dispatch.bpf.c) tail-
 * calls the handler of the returning syscall, found by number in sys_progs;
 * a handler reads the call's arguments from the user registers saved at
 * entry (the syscalls traced here do not modify them) and its result.
 *
 *   HANDLER(openat) { ... c->a[1] ..., ret ... }
 *
 * defines the program "sys_openat", which userspace puts at the slot of
 * openat's syscall number.
 */
#ifndef FDW_CALL_H
#define FDW_CALL_H

#include "lib/record.h"

#define USER_CS_ 0x33 /* 64-bit user code segment: ia32/x32 calls have other numbers */

struct call {
	__u64 a[6]; /* arguments */
};

/* pt_regs from r10 to cs (x86-64): a syscall's arguments, number and code
 * segment, in one read where the registers cannot be loaded directly. */
struct regs_tail {
	__u64 r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs;
};

/* The current task's user registers, saved at syscall entry (plain loads
 * through the BTF pointer, no probe reads; has_task_regs only). */
static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* The returning syscall's number; ctx is sys_exit's (regs, ret). */
static __always_inline __u64 sys_exit_nr(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	__u64 nr = ~0ULL;

	if (has_task_regs && has_task_btf)
		return user_regs()->orig_ax;
	bpf_probe_read_kernel(&nr, sizeof(nr), &regs->orig_ax);
	return nr;
}

/* Reads the arguments of the returning 64-bit call; false to ignore it (an
 * ia32/x32 call, whose numbers are other calls').  The dispatcher has
 * already checked that the process is wanted. */
static __always_inline bool call_begin(struct bpf_raw_tracepoint_args *ctx, struct call *c)
{
	struct regs_tail t;

	if (has_task_regs && has_task_btf) {
		struct pt_regs *regs = user_regs();

		if (regs->cs != USER_CS_)
			return false;
		c->a[0] = regs->di;
		c->a[1] = regs->si;
		c->a[2] = regs->dx;
		c->a[3] = regs->r10;
		c->a[4] = regs->r8;
		c->a[5] = regs->r9;
		return true;
	}
	if (bpf_probe_read_kernel(&t, sizeof(t), &((struct pt_regs *)ctx->args[0])->r10) || t.cs != USER_CS_)
		return false;
	c->a[0] = t.di;
	c->a[1] = t.si;
	c->a[2] = t.dx;
	c->a[3] = t.r10;
	c->a[4] = t.r8;
	c->a[5] = t.r9;
	return true;
}

#define HANDLER(name)                                                                 \
	static __always_inline int body_##name(void *ctx, const struct call *c, long ret); \
	SEC("raw_tp")                                                                  \
	int sys_##name(struct bpf_raw_tracepoint_args *ctx)                            \
	{                                                                              \
		struct call c;                                                         \
		if (!call_begin(ctx, &c))                                              \
			return 0;                                                      \
		return body_##name(ctx, &c, (long)ctx->args[1]);                       \
	}                                                                              \
	static __always_inline int body_##name(void *ctx, const struct call *c, long ret)

#endif /* FDW_CALL_H */
