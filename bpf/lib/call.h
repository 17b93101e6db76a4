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

/* The current task's user registers, saved at syscall entry (plain loads
 * through the BTF pointer, no probe reads). */
static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* Reads the arguments of a call of a wanted process; false to ignore it. */
static __always_inline bool call_begin(struct call *c)
{
	struct pt_regs *regs;

	if (!wanted(bpf_get_current_pid_tgid() >> 32))
		return false;
	regs = user_regs();
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

#define HANDLER(name)                                                                 \
	static __always_inline int body_##name(void *ctx, const struct call *c, long ret); \
	SEC("raw_tp")                                                                  \
	int sys_##name(struct bpf_raw_tracepoint_args *ctx)                            \
	{                                                                              \
		struct call c;                                                         \
		if (!call_begin(&c))                                                   \
			return 0;                                                      \
		return body_##name(ctx, &c, (long)ctx->args[1]);                       \
	}                                                                              \
	static __always_inline int body_##name(void *ctx, const struct call *c, long ret)

#endif /* FDW_CALL_H */
