// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Processes: fork, exec and exit (raw tracepoints of the scheduler), renames,
 * pidfds from clone, and RLIMIT_NOFILE changes. */
#include "lib/call.h"
#include "lib/pending.h"

/* sched_process_fork(parent, child): the child's tgid, and whether it
 * shares the parent's fd table. */
SEC("raw_tp/sched_process_fork")
int on_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct pending *p;
	__u8 one = 1;

	if (ptgid == ctgid) /* a new thread: same process, same table */
		return 0;
	if (!wanted(ptgid))
		return 0;
	if (!targ_all) {
		if (!follow_children)
			return 0;
		targets_more = 1;
		bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
		stat_inc(FDW_STAT_FORKS);
	}
	p = pending_begin(FDW_EV_FORK, FDW_SYS_FORK_EVENT, false);
	if (!p)
		return 0;
	p->rec.h.tgid = ptgid;
	p->rec.h.ret = ctgid;
	if (BPF_CORE_READ(parent, files) == BPF_CORE_READ(child, files))
		p->rec.h.flags |= FDW_F_SHARED_FILES;
	BPF_CORE_READ_STR_INTO(&p->rec.h.name, child, comm);
	output(&p->rec, 0);
	return 0;
}

/* sched_process_exec(task, old_pid, bprm) */
SEC("raw_tp/sched_process_exec")
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pending *p;

	if (!wanted(tgid))
		return 0;
	p = pending_begin(FDW_EV_EXEC, FDW_SYS_EXECVE, true);
	if (!p)
		return 0;
	p->rec.h.ret = tgid;
	p->rec.h.arg = (__s32)ctx->args[1];
	bpf_get_current_comm(p->rec.h.name, sizeof(p->rec.h.name));
	bpf_probe_read_kernel_str(p->rec.path, sizeof(p->rec.path), BPF_CORE_READ(bprm, filename));
	output(&p->rec, sizeof(p->rec.path));
	return 0;
}

/* sched_process_exit(task[, group_dead]): only the last thread of a group. */
SEC("raw_tp/sched_process_exit")
int on_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pending *p;

	if (!wanted(tgid))
		return 0;
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	p = pending_begin(FDW_EV_EXIT, FDW_SYS_EXIT_EVENT, false);
	if (p) {
		p->rec.h.ret = tgid;
		p->rec.h.arg = BPF_CORE_READ(task, exit_code);
		bpf_get_current_comm(p->rec.h.name, sizeof(p->rec.h.name));
		output(&p->rec, 0);
	}
	if (tgid == first_target)
		first_target = 0;
	bpf_map_delete_elem(&targets, &tgid);
	return 0;
}

/* task_rename(task, comm): prctl(PR_SET_NAME), a write to /proc/PID/comm, or
 * exec.  A process is named by its main thread (what ps and /proc/PID/comm
 * show), so the renames of other threads are left out. */
SEC("raw_tp/task_rename")
int on_rename(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct pending *p;

	if (BPF_CORE_READ(task, pid) != tgid || !wanted(tgid))
		return 0;
	p = pending_begin(FDW_EV_RENAME, FDW_SYS_NONE, false);
	if (!p)
		return 0;
	p->rec.h.tgid = tgid;
	p->rec.h.ret = tgid;
	bpf_probe_read_kernel_str(p->rec.h.name, sizeof(p->rec.h.name), (const char *)ctx->args[1]);
	output(&p->rec, 0);
	return 0;
}

#define CLONE_PIDFD_ 0x1000

/* clone(flags, newsp, parent_tid, ...): with CLONE_PIDFD the parent gets a
 * pidfd, stored at parent_tid.  The child's own return (0) reports nothing. */
HANDLER(clone)
{
	int pidfd = -1;

	if (!(c->a[0] & CLONE_PIDFD_) || ret == 0)
		return 0;
	if (ret < 0)
		return emit_new_fd(ctx, FDW_SYS_CLONE, ret, false, false);
	if (bpf_probe_read_user(&pidfd, sizeof(pidfd), (void *)c->a[2]))
		return 0;
	return emit_new_fd(ctx, FDW_SYS_CLONE, pidfd, fd_cloexec(pidfd), false);
}

/* clone3(struct clone_args *, size): flags at 0, pidfd pointer at 8 */
HANDLER(clone3)
{
	__u64 args[2] = {};
	int pidfd = -1;

	if (ret == 0 || bpf_probe_read_user(args, sizeof(args), (void *)c->a[0]))
		return 0;
	if (!(args[0] & CLONE_PIDFD_))
		return 0;
	if (ret < 0)
		return emit_new_fd(ctx, FDW_SYS_CLONE3, ret, false, false);
	if (bpf_probe_read_user(&pidfd, sizeof(pidfd), (void *)args[1]))
		return 0;
	return emit_new_fd(ctx, FDW_SYS_CLONE3, pidfd, fd_cloexec(pidfd), false);
}

#define RLIMIT_NOFILE_ 7

HANDLER(prlimit64)
{
	__u64 lim[2];
	__u32 pid = c->a[0];

	if (ret < 0 || c->a[1] != RLIMIT_NOFILE_ || !c->a[2])
		return 0;
	if (bpf_probe_read_user(lim, sizeof(lim), (void *)c->a[2]))
		return 0;
	if (!pid)
		pid = bpf_get_current_pid_tgid() >> 32;
	return emit_simple(FDW_EV_LIMIT, FDW_SYS_PRLIMIT64, pid, -1, lim[0], lim[1]);
}

HANDLER(setrlimit)
{
	__u64 lim[2];

	if (ret < 0 || c->a[0] != RLIMIT_NOFILE_)
		return 0;
	if (bpf_probe_read_user(lim, sizeof(lim), (void *)c->a[1]))
		return 0;
	return emit_simple(FDW_EV_LIMIT, FDW_SYS_SETRLIMIT, bpf_get_current_pid_tgid() >> 32, -1, lim[0],
			   lim[1]);
}
