/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Filters, counters and ring-buffer output shared by every program. */
#ifndef FDW_RECORD_H
#define FDW_RECORD_H

#include "lib/maps.h"

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

/* Whether the current task's events are wanted, tgid being its process. */
static __always_inline bool wanted(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	if (targ_cgroup && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)
		return false;
	if (targ_all)
		return true;
	if (tgid && tgid == *(volatile __u32 *)&first_target)
		return true;
	if (!*(volatile __u8 *)&targets_more)
		return false;
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

/* Something of tgid's fd table was not reported (stat says why: a record
 * lost, or a change fdwatch cannot follow): userspace re-reads it. */
static __always_inline void mark_resync(__u32 tgid, __u32 stat)
{
	__u64 one = 1, *v;

	stat_inc(stat);
	v = bpf_map_lookup_elem(&lost_by_tgid, &tgid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&lost_by_tgid, &tgid, &one, BPF_NOEXIST);
}

/* The first 24 bytes every record shares (struct fdw_event up to flags). */
static __always_inline void head_fill(void *rec, __u16 type, __u16 sys, __u16 size)
{
	struct fdw_ustack *h = rec;
	__u64 id = bpf_get_current_pid_tgid();

	h->ts_ns = bpf_ktime_get_ns();
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->type = type;
	h->sys = sys;
	h->size = size;
	h->flags = 0;
}

/* A fresh fd record: header, and every field "none". */
static __always_inline void event_init(struct fdw_event *e, __u16 type, __u16 sys, __u16 size)
{
	head_fill(e, type, sys, size);
	e->ret = -1;
	e->fd2 = -1;
	e->arg = 0;
	e->arg2 = 0;
	e->mode = 0;
	e->stack_id = -1;
	e->ino = 0;
	__builtin_memset(&e->sock, 0, sizeof(e->sock));
	e->name[0] = 0;
}

/* Batched notification: waking the reader per record costs microseconds, so
 * records go in silently and the reader polls with a short timeout.  Every
 * 64th record on a CPU checks the fill level and wakes the reader past
 * wake_bytes: the check reads the consumer position, a cache line the reader
 * keeps writing, which is too dear to touch on every record. */
static __always_inline __u64 wake_flags(void)
{
	__u32 idx = FDW_STAT_EVENTS;
	__u64 *n = bpf_map_lookup_elem(&stats, &idx);

	if (n && (++*n & 63) == 0 && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Copies a finished record into the ring buffer with the first path_bytes
 * of its path (0: no path; the path's NUL must be among them); a full ring
 * buffer is counted against the process. */
static __always_inline void output(struct fdw_event_path *rec, __u64 path_bytes)
{
	__u64 size = sizeof(rec->h) + path_bytes;

	barrier_var(size); /* the bound below must be on the register passed */
	if (size > sizeof(*rec))
		size = sizeof(*rec);
	rec->h.size = size;
	if (bpf_ringbuf_output(&events, rec, size, wake_flags()))
		mark_resync(bpf_get_current_pid_tgid() >> 32, FDW_STAT_DROPS);
}

#endif /* FDW_RECORD_H */
