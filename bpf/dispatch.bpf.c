// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fdwatch kernel side: the entry point.  Every syscall that creates,
 * duplicates or destroys an fd has a handler program (open.bpf.c,
 * socket.bpf.c, dup.bpf.c, anon.bpf.c, close.bpf.c, process.bpf.c); one raw
 * tracepoint on sys_exit tail-calls the handler of the returning syscall by
 * number.  One attachment instead of one per syscall: fast to attach and to
 * detach, and no tracefs needed.  Processes are followed through the
 * scheduler's fork/exec/exit tracepoints, io_uring through its own.
 *
 * Filtering happens in the handlers: only tgids in `targets` (or all, with
 * targ_all; within cgroup_filter, with targ_cgroup) produce records, and
 * fdwatch's own tgid never does.
 */
#include "lib/call.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* sys_exit(regs, ret): regs are the task's user registers, and the syscall
 * number their saved orig_ax. */
SEC("raw_tp/sys_exit")
int dispatch_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 nr = user_regs()->orig_ax;

	if (nr < FDW_NR_MAX)
		bpf_tail_call(ctx, &sys_progs, nr);
	return 0;
}
