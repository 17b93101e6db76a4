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
 * Calls no handler wants, and calls of processes that are not traced, end
 * here before any tail call: every syscall of every process on the host
 * pays for this program, so it reads the syscall number, one byte of rodata
 * for it, and only for a handled call the target check (lib/record.h
 * wanted(): tgids in `targets`, or all with targ_all; within cgroup_filter
 * with targ_cgroup; never fdwatch's own).  Handlers for every process
 * (FDW_HANDLED_ALL: renames and mounts, which make kept paths stale) skip
 * the check.
 */
#include "lib/call.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* sys_exit(regs, ret) */
SEC("raw_tp/sys_exit")
int dispatch_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 nr = sys_exit_nr(ctx);
	__u8 h;

	if (nr >= FDW_NR_MAX)
		return 0;
	h = sys_handled[nr];
	if (h == FDW_HANDLED_NONE)
		return 0;
	if (h == FDW_HANDLED_ALL || wanted(bpf_get_current_pid_tgid() >> 32))
		bpf_tail_call(ctx, &sys_progs, nr);
	return 0;
}
