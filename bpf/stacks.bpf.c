// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Call stacks (FDW_EV_USTACK, FDW_EV_UMAP), the USTACK and UMAP stages.
 *
 * Distro code has no frame pointers (a bpf_get_stack() walk stops inside
 * libc), so like `perf --call-graph=dwarf` the registers and the top of the
 * user stack are copied and userspace unwinds them with DWARF CFI.  To map
 * return addresses to files also after the process has exited, the file
 * mappings are sent along (UMAP), each once per process image; that needs
 * the bpf_iter_task_vma kfuncs (6.7+).  Without them the UMAP stage is not
 * loaded and userspace reads /proc/PID/maps instead.
 */
#include "lib/path.h"
#include "lib/pending.h"

#include <bpf/bpf_tracing.h>

const volatile bool umap_kernel __weak = false; /* the UMAP stage is loaded */

/* Mappings already sent (value unused). */
struct umap_key {
	__u32 tgid;
	__u32 _pad;
	__u64 gen;
	__u64 start;
	__u64 ino;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct umap_key);
	__type(value, __u8);
} umap_sent SEC(".maps");

/* The UMAP record being built and the mapping run being scanned. */
struct umap_scratch {
	struct fdw_umap rec;
	__u64 run_file; /* struct file * of the current run, 0 = none */
	__u64 run_start, run_end, run_pgoff;
	__u32 run_exec;
	__u32 tgid;
	__u64 gen;
	__u32 seen, err;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct umap_scratch);
} umap_scratch SEC(".maps");

#define VM_EXEC_ 0x4

/* ---- USTACK ------------------------------------------------------------ */

/* Whether the process's executable mappings changed since they were sent. */
static __always_inline bool umap_stale(struct task_struct *task, __u32 tgid)
{
	struct umap_state *st = bpf_map_lookup_elem(&umap_state, &tgid);

	return !st || st->mm != (__u64)TASK_READ(task, mm) || st->exec_vm != TASK_READ(task, mm, exec_vm);
}

/* Copies as much of the stack above sp as can be read, up to n <= cap
 * bytes: one read normally.  Near the top of the stack that read crosses the
 * end of the mapping, which is page-aligned: then the longest read that ends
 * at a page boundary and works is taken.  Returns the bytes copied. */
static __always_inline __u32 copy_stack(__u8 *dst, __u64 sp, __u64 n, __u64 cap)
{
	/* 64-bit throughout and the length opaque to the compiler: the verifier
	 * must see the bounds checks on the very register passed on */
	const __u64 first = 4096 - (sp & 4095); /* to the first page boundary */
	__u64 len;

	if (n > cap)
		n = cap;
	if (!bpf_probe_read_user(dst, n, (void *)sp))
		return n;
#pragma clang loop unroll(disable)
	for (int k = FDW_USTACK_MAX / 4096 - 1; k >= 0; k--) {
		len = first + (__u64)k * 4096;
		/* opaque from here: never recomputed past the checks below */
		asm volatile("" : "+r"(len));
		if (len >= n || len > cap)
			continue;
		if (!bpf_probe_read_user(dst, len, (void *)sp))
			return len;
	}
	return 0;
}

/* Stacks userspace has unwound (fdwatch_abi.h "Stack memo"). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FDW_MEMO_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fdw_memo_key);
	__type(value, struct fdw_memo);
} stack_memo SEC(".maps");

/* The part of the user stack the memo check compares, per CPU. */
struct memo_copy {
	__u64 w[FDW_USTACK_MAX / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct memo_copy);
} memo_copies SEC(".maps");

/* The memo id of the stack at regs (n bytes would be copied), or -1.  The
 * stack up to the last slot (offsets ascend) is copied at once and its
 * slots compared there. */
static __always_inline __s32 memo_find(__u32 tgid, const struct pt_regs *regs, __u64 n)
{
	struct fdw_memo_key k = {};
	struct memo_copy *c;
	struct fdw_memo *m;
	__u64 sp = regs->sp, bp = regs->bp, head;
	__u32 zero = 0;

	k.tgid = tgid;
	k.ip = regs->ip;
	k.sp = sp;
	k.fp_off = bp >= sp && bp - sp < n ? bp - sp : ~0ULL;
	/* (never a CPython process: userspace knows those from their mappings,
	 * sent before their first stack, and registers none of their calls) */
	m = bpf_map_lookup_elem(&stack_memo, &k);
	c = bpf_map_lookup_elem(&memo_copies, &zero);
	if (!m || !c || m->n == 0 || m->n > FDW_MEMO_SLOTS)
		return -1;
	head = (__u64)m->off[(m->n - 1) & (FDW_MEMO_SLOTS - 1)] + 8;
	barrier_var(head); /* the bound below must be on the register passed */
	if (head > n || head > sizeof(c->w))
		return -1;
	if (bpf_probe_read_user(c->w, head, (void *)sp))
		return -1;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < FDW_MEMO_SLOTS; i++) {
		if (i >= m->n)
			return m->id;
		if (c->w[(m->off[i] / 8) & (FDW_USTACK_MAX / 8 - 1)] != m->ret[i])
			return -1;
	}
	return m->id;
}

/* The stack bytes to copy above sp: the main thread's stack ends a little
 * above the environment strings; stop there instead of faulting past the end
 * of the mapping. */
static __always_inline __u64 stack_len(struct task_struct *task, __u64 sp, __u64 cap)
{
	__u64 env_end = TASK_READ(task, mm, env_end);

	if (sp < env_end && env_end - sp < cap)
		return (env_end - sp) & ~7ULL;
	return cap;
}

/* x86-64 kernels without KASAN: the user registers are saved at the top of
 * the task's kernel stack (task_pt_regs()). */
#define THREAD_SIZE_ (16 * 1024)

/* The current task's user registers: where they are saved (has_task_regs),
 * else a copy in *copy.  ctx is not always sys_exit's (io_uring), so they
 * are found from the task. */
static __always_inline struct pt_regs *task_regs(struct task_struct *task, struct pt_regs *copy)
{
	__u64 top;

	if (has_task_regs && has_task_btf)
		return (struct pt_regs *)bpf_task_pt_regs(task);
	top = (__u64)BPF_CORE_READ(task, stack) + THREAD_SIZE_;
	if (bpf_probe_read_kernel(copy, sizeof(*copy), (void *)(top - sizeof(*copy))))
		return NULL;
	return copy;
}

SEC("raw_tp")
int stage_ustack(struct bpf_raw_tracepoint_args *ctx)
{
	struct pending *p = pending_get();
	struct task_struct *task = cur_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fdw_ustack *r;
	struct pt_regs *regs, copy;
	/* a load-time constant: the reservation's size must be known */
	const __u32 cap = stack_bytes > FDW_USTACK_MAX ? FDW_USTACK_MAX : stack_bytes;
	__u64 n;
	__u32 got;
	__s32 memo;

	if (!p)
		return 0;
	if (!TASK_READ(task, mm)) /* a kernel thread (io_uring worker) */
		return pending_emit(ctx, p);
	regs = task_regs(task, &copy);
	if (!regs)
		goto lost;
	n = stack_len(task, regs->sp, cap);
	memo = memo_find(tgid, regs, n);
	if (memo > 0) {
		p->rec.h.stack_id = memo;
		p->rec.h.flags |= FDW_F_STACK_MEMO;
		stat_inc(FDW_STAT_MEMO_HITS);
		return pending_emit(ctx, p);
	}
	/* a stack userspace has to unwind: the mappings it needs go first (a
	 * memo hit needs none, it was unwound with the mappings of its time) */
	if (umap_kernel && !p->umap_tried && umap_stale(task, tgid)) {
		p->umap_tried = 1;
		bpf_tail_call(ctx, &stages, FDW_STAGE_UMAP);
	}
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > stack_fill_max)
		goto lost;
	r = bpf_ringbuf_reserve(&events, sizeof(*r) - FDW_USTACK_MAX + cap, 0);
	if (!r)
		goto lost;
	head_fill(r, FDW_EV_USTACK, p->rec.h.sys, 0);
	r->regs[0] = regs->ax;
	r->regs[1] = regs->dx;
	r->regs[2] = regs->cx;
	r->regs[3] = regs->bx;
	r->regs[4] = regs->si;
	r->regs[5] = regs->di;
	r->regs[6] = regs->bp;
	r->regs[7] = regs->sp;
	r->regs[8] = regs->r8;
	r->regs[9] = regs->r9;
	r->regs[10] = regs->r10;
	r->regs[11] = regs->r11;
	r->regs[12] = regs->r12;
	r->regs[13] = regs->r13;
	r->regs[14] = regs->r14;
	r->regs[15] = regs->r15;
	r->regs[16] = regs->ip;
	got = copy_stack(r->stack, regs->sp, n, cap);
	if (got < n)
		r->flags |= FDW_F_TRUNC;
	r->stack_len = got;
	r->size = sizeof(*r) - FDW_USTACK_MAX + got;
	r->_pad = 0;
	p->rec.h.stack_id = (__s32)(r->ts_ns & 0x7fffffff);
	stat_inc(FDW_STAT_USTACKS);
	/* the fd record that follows decides about waking the reader */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	bpf_tail_call(ctx, &stages, FDW_STAGE_PYSTACK); /* it knows whether this is CPython */
	return pending_emit(ctx, p);
lost:
	stat_inc(FDW_STAT_USTACK_LOST);
	return pending_emit(ctx, p);
}

/* ---- UMAP -------------------------------------------------------------- */

extern int bpf_iter_task_vma_new(struct bpf_iter_task_vma *it, struct task_struct *task,
				 __u64 addr) __weak __ksym;
extern struct vm_area_struct *bpf_iter_task_vma_next(struct bpf_iter_task_vma *it) __weak __ksym;
extern void bpf_iter_task_vma_destroy(struct bpf_iter_task_vma *it) __weak __ksym;

static __always_inline struct umap_scratch *scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&umap_scratch, &zero);
}

/* Sends the run in the scratch if it is executable and new.  0, or -1 when
 * a record was lost (the caller then retries the whole sync later). */
__noinline int umap_flush(void)
{
	struct umap_scratch *s = scratch_get();
	struct path_walk *w;
	struct umap_key k = {};
	struct inode *inode;
	struct file *f;
	__u32 dev, n;
	__u8 one = 1;

	if (!s || !s->run_file || !s->run_exec)
		return 0;
	f = (struct file *)s->run_file;
	inode = BPF_CORE_READ(f, f_inode);
	k.tgid = s->tgid;
	k.gen = s->gen;
	k.start = s->run_start;
	k.ino = BPF_CORE_READ(inode, i_ino);
	if (bpf_map_lookup_elem(&umap_sent, &k))
		return 0;
	w = walk_path(BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), false);
	s = scratch_get();
	if (!w || !s)
		return 0; /* unnameable (too deep): never sent */
	n = FDW_WALK_MAX - w->off; /* with the NUL */
	if (n < 2 || n > FDW_UMAP_PATH_MAX)
		return 0; /* nothing named, or it does not fit */
	bpf_probe_read_kernel_str(s->rec.path, sizeof(s->rec.path), &w->buf[w->off & WALK_MASK_]);
	head_fill(&s->rec, FDW_EV_UMAP, FDW_SYS_NONE, sizeof(s->rec));
	s->rec.start = s->run_start;
	s->rec.end = s->run_end;
	s->rec.pgoff = s->run_pgoff;
	s->rec.ino = k.ino;
	dev = BPF_CORE_READ(inode, i_sb, s_dev);
	s->rec.dev_major = dev >> 20;
	s->rec.dev_minor = dev & 0xfffff;
	if (bpf_ringbuf_output(&events, &s->rec, sizeof(s->rec), BPF_RB_NO_WAKEUP)) {
		stat_inc(FDW_STAT_USTACK_LOST);
		return -1;
	}
	bpf_map_update_elem(&umap_sent, &k, &one, BPF_ANY);
	return 0;
}

/* Scans the current process's mappings and sends the executable files not
 * sent yet.  Returns 0 when the scan completed. */
__noinline int umap_sync(__u32 tgid, __u64 gen)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct umap_scratch *s = scratch_get();
	struct bpf_iter_task_vma it;
	struct vm_area_struct *vma;

	if (!s)
		return -1;
	/* Loop-carried state lives in the scratch map, not in registers: the
	 * verifier then sees every iteration alike and the loop converges. */
	s->run_file = 0;
	s->tgid = tgid;
	s->gen = gen;
	s->seen = 0;
	s->err = 0;
	bpf_iter_task_vma_new(&it, task, 0);
	while ((vma = bpf_iter_task_vma_next(&it))) {
		__u64 f = (__u64)vma->vm_file;

		s = scratch_get();
		if (!s || ++s->seen > 65536)
			break;
		if (f && f == s->run_file && vma->vm_start == s->run_end) {
			s->run_end = vma->vm_end;
			s->run_exec |= !!(vma->vm_flags & VM_EXEC_);
			continue;
		}
		if (umap_flush())
			s->err = 1;
		s->run_file = f;
		s->run_start = vma->vm_start;
		s->run_end = vma->vm_end;
		s->run_pgoff = (__u64)vma->vm_pgoff << 12;
		s->run_exec = !!(vma->vm_flags & VM_EXEC_);
	}
	bpf_iter_task_vma_destroy(&it);
	s = scratch_get();
	if (!s)
		return -1;
	if (umap_flush())
		s->err = 1;
	/* nothing seen: the mmap lock was busy (the iterator only trylocks) */
	return s->seen && !s->err ? 0 : -1;
}

SEC("raw_tp")
int stage_umap(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct umap_state *st, fresh = {};
	__u64 mm = (__u64)task->mm;
	__u64 exec_vm = task->mm->exec_vm;

	st = bpf_map_lookup_elem(&umap_state, &tgid);
	if (!st) {
		fresh.mm = mm;
		fresh.gen = bpf_ktime_get_ns();
		fresh.exec_vm = ~0ULL;
		bpf_map_update_elem(&umap_state, &tgid, &fresh, BPF_ANY);
		st = bpf_map_lookup_elem(&umap_state, &tgid);
	}
	if (st) {
		if (st->mm != mm) {
			st->mm = mm;
			st->gen = bpf_ktime_get_ns();
		}
		/* set first: a thread mapping code meanwhile makes it differ again */
		st->exec_vm = exec_vm;
		if (umap_sync(tgid, st->gen))
			st->exec_vm = ~0ULL; /* retry at the next call */
	}
	bpf_tail_call(ctx, &stages, FDW_STAGE_USTACK);
	return 0;
}
