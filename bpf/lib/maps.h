/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Configuration and maps, declared once for every fdwatch .bpf.c file.  The
 * files are linked into one object (bpftool gen object), where these weak
 * definitions become one map / one rodata variable each.
 */
#ifndef FDW_MAPS_H
#define FDW_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "fdwatch_abi.h"

/* ---- configuration: rodata written through the skeleton before load ---- */

const volatile bool targ_all __weak = false;        /* system-wide */
const volatile bool follow_children __weak = false; /* add children of targets at fork */
const volatile bool targ_cgroup __weak = false;     /* only tasks under cgroup_filter[0] */
const volatile __u32 self_tgid __weak = 0;          /* never trace fdwatch itself */
const volatile __u64 wake_bytes __weak = 2 << 20; /* wake the reader past this fill level */
const volatile bool stacks_default __weak = false;  /* call stacks unless stack_pids says */
const volatile __u32 stack_bytes __weak = FDW_USTACK_DEFAULT; /* <= FDW_USTACK_MAX */
/* Stacks are skipped while more than this much of the ring buffer waits to be
 * read: a slow unwinder must cost call sites, never fd events. */
const volatile __u64 stack_fill_max __weak = 4 << 20;
/* Helpers of newer kernels (userspace reads which this one has from its
 * BTF): without one, the code that uses it takes its probe-read version.
 * bpf_get_current_task_btf (5.11), bpf_task_pt_regs (5.15), bpf_snprintf
 * (5.13). */
const volatile bool has_task_btf __weak = true;
const volatile bool has_task_regs __weak = true;
const volatile bool has_snprintf __weak = true;
/* syscall number -> FDW_HANDLED_* (fdwatch_abi.h): which calls have a
 * handler, and for whom. */
const volatile __u8 sys_handled[FDW_NR_MAX] __weak = {};

/* ---- output ---------------------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FDW_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps") __weak;

/* tgid -> records lost for it, or fd changes it made that cannot be
 * followed: userspace re-reads these processes from /proc. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} lost_by_tgid SEC(".maps") __weak;

/* ---- filters --------------------------------------------------------- */

/* Written by userspace at run time (.bss): the first target, tested before
 * the targets map (tracing one process then costs no lookup) and cleared
 * when it exits; whether the targets map may hold another (set before the
 * entry is added, by userspace or at fork; never cleared); whether
 * stack_pids has ever had an entry. */
__u32 first_target __weak;
__u8 targets_more __weak;
__u8 stack_pids_used __weak;

/* tgid -> 1: the processes to trace (unless targ_all). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps") __weak;

/* [0] = the cgroup (v2) whose tasks, and those below it, are traced. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps") __weak;

/* tgid -> 1 on / 0 off: overrides stacks_default (fdwatch top's detail view). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} stack_pids SEC(".maps") __weak;

/* ---- dispatch -------------------------------------------------------- */

/* Syscall number -> its handler program; FDW_STAGE_* -> stage (the ABI
 * header says more). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, FDW_NR_MAX);
	__type(key, __u32);
	__type(value, __u32);
} sys_progs SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, FDW_STAGE__COUNT);
	__type(key, __u32);
	__type(value, __u32);
} stages SEC(".maps") __weak;

/* SCM_RIGHTS fds one call can report: each is emitted by one more tail call
 * of the PATH stage, and a chain has at most 33 (MAX_TAIL_CALL_CNT). */
#define FDW_SCM_QUEUE 24

/* The heads of the objects fill_file_f() reads, sized to where the fields
 * read here are on the kernels of the last years; per CPU, off the stack. */
struct file_blocks {
	__u64 file[10], inode[9], dentry[13], socket[4], sock[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_blocks);
} file_blocks SEC(".maps") __weak;

/* What the PATH stage needs of a file fill_file_f() described. */
struct file_facts {
	__u64 dentry, mnt;  /* f_path */
	__u64 magic;        /* of its superblock */
	__u64 d_op;         /* the dentry's operations */
	__u64 inode;
	__u64 parent, hash_len; /* the dentry's d_parent and d_name.hash_len */
	__u8 unhashed;      /* unlinked (d_hash.pprev NULL), not a root */
};

/* The record being built, carried from a handler through the stages on this
 * CPU (tracepoint programs run with preemption off, and a tail call stays on
 * the CPU).  SCM_RIGHTS fds are queued and emitted one per PATH stage. */
struct pending {
	struct fdw_event_path rec;
	__u64 file;      /* struct file * to describe in the PATH stage; 0 = none */
	struct file_facts ff; /* of `file` */
	__u64 upath;     /* the caller's path, read only when the kernel's cannot be */
	__u32 path_len;  /* bytes of rec.path to emit, its NUL among them */
	__u8 want_path;  /* the record carries a path (FDW_F_HAS_PATH) to resolve */
	__u8 want_stack; /* a successful fd-creating call: capture its stack */
	__u8 umap_tried; /* the UMAP stage ran (or was tried) for this call */
	__u8 scm_n, scm_i; /* queued SCM_RIGHTS fds, and the next to emit */
	__s32 scm_fds[32];  /* FDW_SCM_QUEUE used; indexed & 31 */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending);
} pendings SEC(".maps") __weak;

/* ---- call stacks ----------------------------------------------------- */

/* What was last sent of a process image. */
struct umap_state {
	__u64 mm;      /* struct mm_struct *: a new one means exec */
	__u64 exec_vm; /* pages of executable mappings when last synced */
	__u64 gen;     /* image generation (a timestamp: unique across pid reuse) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct umap_state);
} umap_state SEC(".maps") __weak;

/* CPython interpreters and processes (fdwatch_abi.h "CPython frames"). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct fdw_py_bin);
	__type(value, struct fdw_py_proc);
} py_bins SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct fdw_py_proc);
} py_procs SEC(".maps") __weak;

/* ---- paths ----------------------------------------------------------- */

/* Bumped (never reset) when a rename or a mount-table change finishes, by
 * any process: a path named before the last bump may be stale. */
__u64 path_gen __weak;

/* The path of a file the PATH stage named, by its f_path: the next open of
 * the same (dentry, mount) copies it instead of walking.  A name is reused
 * only while path_gen is what it was before the walk and the dentry still
 * has the parent, name hash and inode it had (a dentry freed and
 * reallocated at the same address for another file differs in these);
 * unlinked files are never kept. */
struct path_key {
	__u64 dentry, mnt;
};

struct path_name {
	__u64 gen;                    /* path_gen read before the walk */
	__u64 parent, hash_len, inode; /* of the dentry, when walked */
	__u32 len, _pad;              /* bytes of path, its NUL among them */
	char path[FDW_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct path_key);
	__type(value, struct path_name);
} path_names SEC(".maps") __weak;

/* A path being built right to left by lib/path.h (twice the room, so that
 * masked offsets stay in bounds), and where the walk is. */
#define FDW_WALK_MAX 1024
struct path_walk {
	char buf[2 * FDW_WALK_MAX];
	__u64 dentry, mnt; /* struct dentry *, struct mount * */
	__u64 mnt_root, mnt_parent, mnt_mountpoint; /* of mnt */
	__u64 dblk[6], mblk[5]; /* the heads of the dentry and mount being read */
	__u32 off;         /* the path so far starts at buf[off]; FDW_WALK_MAX = failed */
	__u32 done;
	struct path_name name; /* a new path_names value being built */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_walk);
} path_walks SEC(".maps") __weak;

#endif /* FDW_MAPS_H */
