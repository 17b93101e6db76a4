// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CPython frames (FDW_EV_PYSTACK), the PYSTACK stage: after every USTACK
 * record of a CPython process, the interpreter frames of the calling thread
 * (fdwatch_abi.h "CPython frames").  Every read is of user memory the
 * interpreter may be changing on another CPU: a failed read ends the walk
 * there, and a code object that could not be described reaches userspace as
 * an address only.  Walks are bpf_loop callbacks (5.17+), or the same steps
 * in bounded loops (stage_pystack_loop, loaded instead where the kernel has
 * no bpf_loop: verified once per iteration, so it takes longer to load).
 */
#include "lib/pending.h"

#define PY_THREADS_MAX 64 /* thread states looked at, over all interpreters */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fdw_pystack);
} py_scratch SEC(".maps");

/* Code objects already described (PYCODE) per process image. */
struct py_code_key {
	__u64 mm;
	__u64 code;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct py_code_key);
	__type(value, __u8);
} py_code_sent SEC(".maps");

static __always_inline __u64 read_ptr(__u64 addr)
{
	__u64 v = 0;

	if (!addr || bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

/* The caller's tid as its own pid namespace numbers it (native_thread_id). */
static __always_inline __u32 ns_tid(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pid *tp = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(tp, level);
	struct upid up = {};

	bpf_probe_read_kernel(&up, sizeof(up), &tp->numbers[level & 31]);
	return up.nr;
}

/* Where the walks are (bpf_loop callbacks: each is verified once, not once
 * per iteration). */
struct py_walk {
	const struct fdw_py_proc *py;
	struct fdw_pystack *r;
	__u64 interp, ts, frame, mm;
	__u32 tid, n;
};

/* One thread state: stops at the one whose native_thread_id is w->tid. */
static long find_tstate_step(__u64 i, struct py_walk *w)
{
	const struct fdw_py_proc *py = w->py;

	if (!w->ts) { /* this interpreter's threads are done: the next one's */
		w->interp = read_ptr(w->interp + py->interp_next);
		w->ts = read_ptr(w->interp + py->interp_threads_head);
		return w->interp ? 0 : 1;
	}
	if (read_ptr(w->ts + py->tstate_native_tid) == w->tid)
		return 1;
	w->ts = read_ptr(w->ts + py->tstate_next);
	return 0;
}

/* The CPython layout of the current process: its own entry, or made from
 * its executable's (py_bins) at its first call, or at its first call after
 * an exec (the entry's mm is then another). */
static __always_inline struct fdw_py_proc *py_proc(__u32 tgid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct fdw_py_proc *py = bpf_map_lookup_elem(&py_procs, &tgid), fresh;
	struct fdw_py_bin key = {};
	struct inode *exe;

	if (py && (!py->mm || py->mm == (__u64)mm))
		return py;
	exe = BPF_CORE_READ(mm, exe_file, f_inode);
	key.ino = BPF_CORE_READ(exe, i_ino);
	key.dev = BPF_CORE_READ(exe, i_sb, s_dev);
	py = bpf_map_lookup_elem(&py_bins, &key);
	if (!py) {
		bpf_map_delete_elem(&py_procs, &tgid); /* a stale one, after exec */
		return NULL;
	}
	__builtin_memcpy(&fresh, py, sizeof(fresh));
	fresh.runtime += BPF_CORE_READ(mm, start_code);
	fresh.mm = (__u64)mm;
	bpf_map_update_elem(&py_procs, &tgid, &fresh, BPF_ANY);
	return bpf_map_lookup_elem(&py_procs, &tgid);
}

/* Copies the characters of the str object at addr, at most max bytes;
 * returns the bytes copied, *kind the bytes per character. */
static __always_inline __u32 copy_str(char *dst, __u32 max, __u64 addr, const struct fdw_py_proc *py,
				      __u8 *kind)
{
	__u64 len = read_ptr(addr + py->str_length), n;
	__u32 state = 0;

	if (!addr || bpf_probe_read_user(&state, sizeof(state), (void *)(addr + py->str_state)))
		return 0;
	*kind = (state >> 2) & 7;
	n = len * *kind;
	if (n > max)
		n = max;
	asm volatile("" : "+r"(n));
	if (n > max || !n)
		return 0;
	addr += (state & 0x40) ? py->str_ascii_data : py->str_compact_data;
	return bpf_probe_read_user(dst, n, (void *)addr) ? 0 : n;
}

/* Sends the PYCODE record of a code object not described yet in this image. */
static __noinline int send_code(__u64 code, __u64 mm, const struct fdw_py_proc *py)
{
	struct py_code_key k = {.mm = mm, .code = code};
	struct fdw_pycode *r;
	__u64 table, n;
	__u8 one = 1;

	if (!py || bpf_map_lookup_elem(&py_code_sent, &k))
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		stat_inc(FDW_STAT_USTACK_LOST);
		return 0;
	}
	head_fill(r, FDW_EV_PYCODE, FDW_SYS_NONE, sizeof(*r));
	r->code = code;
	r->firstlineno = 0;
	bpf_probe_read_user(&r->firstlineno, sizeof(r->firstlineno), (void *)(code + py->code_firstlineno));
	r->name_kind = r->file_kind = 0;
	r->_pad = 0;
	r->name_len = copy_str(r->name, FDW_PY_NAME_MAX, read_ptr(code + py->code_qualname), py, &r->name_kind);
	r->file_len = copy_str(r->file, FDW_PY_FILE_MAX, read_ptr(code + py->code_filename), py, &r->file_kind);
	table = read_ptr(code + py->code_linetable);
	n = read_ptr(table + py->bytes_size);
	if (n > FDW_PY_TABLE_MAX)
		n = FDW_PY_TABLE_MAX;
	asm volatile("" : "+r"(n));
	if (n > FDW_PY_TABLE_MAX || !table || !n ||
	    bpf_probe_read_user(r->table, n, (void *)(table + py->bytes_data)))
		n = 0;
	r->table_len = n;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	bpf_map_update_elem(&py_code_sent, &k, &one, BPF_ANY);
	return 0;
}

/* One frame: its code (described first if new) and instruction. */
static long frame_step(__u64 i, struct py_walk *w)
{
	const struct fdw_py_proc *py = w->py;
	__u64 code = read_ptr(w->frame + py->frame_code), instr;
	__u32 k = w->n;
	__u8 entry = 0;

	if (!code || k >= FDW_PY_FRAMES_MAX)
		return 1;
	instr = read_ptr(w->frame + py->frame_prev_instr);
	bpf_probe_read_user(&entry, 1, (void *)(w->frame + py->frame_is_entry));
	send_code(code, w->mm, py);
	w->r->frames[k].code = code;
	w->r->frames[k].lasti = (__s32)((__s64)(instr - code - py->code_adaptive) >> 1);
	w->r->frames[k].flags = entry ? FDW_PYF_ENTRY : 0;
	w->n = k + 1;
	w->frame = read_ptr(w->frame + py->frame_previous);
	return w->frame ? 0 : 1;
}

/* The stage, its walks by bpf_loop or (!with_bpf_loop) by bounded loops. */
static __always_inline int pystack(struct bpf_raw_tracepoint_args *ctx, bool with_bpf_loop)
{
	struct pending *p = pending_get();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, zero = 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct py_walk w = {};
	__u64 size;
	__u32 n;

	if (!p)
		return 0;
	w.py = py_proc(tgid);
	w.r = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!w.py || !w.r)
		return pending_emit(ctx, p);
	head_fill(w.r, FDW_EV_PYSTACK, p->rec.h.sys, 0);
	w.r->key = p->rec.h.stack_id;
	w.mm = (__u64)BPF_CORE_READ(task, mm);
	w.tid = ns_tid();
	w.interp = read_ptr(w.py->runtime + w.py->runtime_interp_head);
	w.ts = read_ptr(w.interp + w.py->interp_threads_head);
	if (with_bpf_loop)
		bpf_loop(PY_THREADS_MAX, find_tstate_step, &w, 0);
	else
		for (__u64 i = 0; i < PY_THREADS_MAX; i++)
			if (find_tstate_step(i, &w))
				break;
	if (!w.interp || !w.ts) {
		w.r->flags |= FDW_PY_NO_THREAD;
		w.ts = 0;
	}
	w.frame = read_ptr(read_ptr(w.ts + w.py->tstate_cframe) + w.py->cframe_current_frame);
	if (w.frame && with_bpf_loop)
		bpf_loop(FDW_PY_FRAMES_MAX, frame_step, &w, 0);
	else if (w.frame)
		for (__u64 i = 0; i < FDW_PY_FRAMES_MAX; i++)
			if (frame_step(i, &w))
				break;
	n = w.n;
	if (w.frame && n == FDW_PY_FRAMES_MAX)
		w.r->flags |= FDW_F_TRUNC;
	size = offsetof(struct fdw_pystack, frames) + (__u64)n * sizeof(struct fdw_pyframe);
	/* opaque, then checked: the verifier must see the bound on the very
	 * register passed on */
	asm volatile("" : "+r"(size));
	if (size > sizeof(struct fdw_pystack))
		return pending_emit(ctx, p);
	w.r->nframes = n;
	w.r->size = size;
	if (bpf_ringbuf_output(&events, w.r, size, BPF_RB_NO_WAKEUP))
		stat_inc(FDW_STAT_USTACK_LOST);
	return pending_emit(ctx, p);
}

SEC("raw_tp")
int stage_pystack(struct bpf_raw_tracepoint_args *ctx)
{
	return pystack(ctx, true);
}

SEC("raw_tp")
int stage_pystack_loop(struct bpf_raw_tracepoint_args *ctx)
{
	return pystack(ctx, false);
}
