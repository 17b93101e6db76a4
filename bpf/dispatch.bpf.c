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
#include "lib/maps.h"

#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* sys_exit(regs, ret): the syscall number is the saved orig_ax. */
SEC("raw_tp/sys_exit")
int dispatch_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	__u64 nr = BPF_CORE_READ(regs, orig_ax);

	if (nr < FDW_NR_MAX)
		bpf_tail_call(ctx, &sys_progs, nr);
	return 0;
}
