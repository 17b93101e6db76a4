// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fdwatch kernel side.  Every syscall that creates, duplicates or destroys an
 * fd is traced on its syscalls:sys_enter_X / sys_exit_X tracepoints: the
 * enter stores the arguments by tid, the exit reads the result and, for new
 * fds, what the kernel installed (inode mode/number, dentry name, socket
 * endpoints), then emits one record into the "events" ring buffer.
 * Processes are followed through sched_process_fork/exec/exit.
 *
 * Filtering happens here: only tgids in `targets` (or all, when targ_all)
 * produce records; fdwatch's own tgid never does.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fdwatch_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Configuration, written through the skeleton's rodata before load. */
const volatile bool targ_all = false;        /* system-wide */
const volatile bool follow_children = false; /* add children of targets at fork */
const volatile __u32 self_tgid = 0;          /* never trace fdwatch itself */
const volatile __u64 wake_bytes = 256 * 1024; /* wake the reader past this fill level */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

/* tgid -> 1: the processes to trace (unless targ_all). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/* tgid -> records lost for it (ring buffer full), so userspace knows whom to resync. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} lost_by_tgid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FDW_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Arguments of the call being traced (read at sys_exit, see take()). */
struct inflight {
	__u16 sys;
	__u64 a[5];
};

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline bool wanted(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	if (targ_all)
		return true;
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

static __always_inline void count_lost(__u32 tgid)
{
	__u64 one = 1, *v;

	stat_inc(FDW_STAT_DROPS);
	v = bpf_map_lookup_elem(&lost_by_tgid, &tgid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&lost_by_tgid, &tgid, &one, BPF_NOEXIST);
}

/* The process changed its fd table in a way we cannot follow: not a lost
 * record, but userspace must re-read /proc the same way. */
static __always_inline void mark_untracked(__u32 tgid)
{
	__u64 one = 1, *v;

	stat_inc(FDW_STAT_UNTRACKED);
	v = bpf_map_lookup_elem(&lost_by_tgid, &tgid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&lost_by_tgid, &tgid, &one, BPF_NOEXIST);
}

static __always_inline void fill_header(struct fdw_event *e, __u16 type, __u16 sys, __u16 size)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->ts_ns = bpf_ktime_get_ns();
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->type = type;
	e->sys = sys;
	e->size = size;
	e->flags = 0;
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

static __always_inline struct fdw_event *reserve(__u16 type, __u16 sys)
{
	struct fdw_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_lost(bpf_get_current_pid_tgid() >> 32);
		return NULL;
	}
	fill_header(e, type, sys, sizeof(*e));
	return e;
}

static __always_inline struct fdw_event_path *reserve_path(__u16 type, __u16 sys)
{
	struct fdw_event_path *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_lost(bpf_get_current_pid_tgid() >> 32);
		return NULL;
	}
	fill_header(&e->h, type, sys, sizeof(*e));
	e->h.flags = FDW_F_HAS_PATH;
	e->path[0] = 0;
	return e;
}

/* Batched notification: waking the reader per record costs microseconds, so
 * records are submitted silently and the reader polls with a short timeout.
 * Every 64th record on a CPU checks the fill level and wakes the reader past
 * wake_bytes: the check reads the consumer position, a cache line the reader
 * keeps writing, which is too dear to touch on every record. */
static __always_inline void submit(void *e)
{
	__u32 idx = FDW_STAT_EVENTS;
	__u64 *n = bpf_map_lookup_elem(&stats, &idx);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (n && (++*n & 63) == 0 && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

/* ---- reading what the kernel installed ------------------------------- */

static __always_inline struct file *fd_file(int fd)
{
	/* Direct loads through the BTF task pointer (the verifier turns them
	 * into fault-safe loads): cheaper than a bpf_probe_read per step, and
	 * this runs for every new fd. */
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;

	if (!fdt || fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	return fdt->fd[fd];
}

/* Close-on-exec bit of fd in the current task's table: for calls whose
 * flags do not say (or always set it). */
static __always_inline bool fd_cloexec(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned long word = 0, *coe;

	if (!fdt || fd < 0)
		return false;
	coe = BPF_CORE_READ(fdt, close_on_exec);
	bpf_probe_read_kernel(&word, sizeof(word), &coe[(unsigned int)fd / 64]);
	return (word >> ((unsigned int)fd % 64)) & 1;
}

static __always_inline void fill_sock(struct fdw_event *e, struct file *f)
{
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk;
	__u16 family;

	if (!sock)
		return;
	sk = BPF_CORE_READ(sock, sk);
	e->sock.type = BPF_CORE_READ(sock, type);
	if (!sk)
		return;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->sock.family = family;
	e->sock.protocol = BPF_CORE_READ(sk, sk_protocol);
	e->sock.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->sock.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->sock.rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == 2 /* AF_INET */) {
		BPF_CORE_READ_INTO(&e->sock.laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(&e->sock.raddr, sk, __sk_common.skc_daddr);
	} else if (family == 10 /* AF_INET6 */) {
		BPF_CORE_READ_INTO(&e->sock.laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->sock.raddr, sk, __sk_common.skc_v6_daddr);
	}
	e->flags |= FDW_F_HAS_SOCK;
}

/* Unix socket path: own bound address, else the peer's (a connected client). */
static __always_inline void fill_unix_path(struct fdw_event_path *e, struct file *f)
{
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct unix_sock *u;
	struct unix_address *addr;
	int len;

	if (!sock)
		return;
	u = (struct unix_sock *)BPF_CORE_READ(sock, sk);
	if (!u)
		return;
	addr = BPF_CORE_READ(u, addr);
	if (!addr) {
		struct unix_sock *peer = (struct unix_sock *)BPF_CORE_READ(u, peer);
		if (!peer)
			return;
		addr = BPF_CORE_READ(peer, addr);
		if (!addr)
			return;
		e->h.arg2 = 1; /* path is the peer's */
	}
	len = BPF_CORE_READ(addr, len);
	/* name[0] is a sockaddr_un: 2 bytes of family, then the path
	 * (abstract names start with a NUL byte: keep the raw bytes). */
	if (len > 2) {
		__u64 n = len - 2;
		if (n > FDW_PATH_MAX - 1)
			n = FDW_PATH_MAX - 1;
		/* keep the verifier's bound on the very register passed on */
		asm volatile("%0 &= 0xff" : "+r"(n));
		bpf_probe_read_kernel(e->path, n, (char *)&addr->name[0] + 2);
		e->path[n] = 0;
		e->h.arg = n; /* path length (abstract names contain NULs) */
	}
}

#define PIDFS_MAGIC_ 0x50494446

/* Fill mode/ino/name (and socket endpoints) of file f. */
static __always_inline struct file *fill_file_f(struct fdw_event *e, struct file *f)
{
	struct inode *inode;
	const unsigned char *name;

	if (!f)
		return NULL;
	inode = BPF_CORE_READ(f, f_inode);
	e->mode = BPF_CORE_READ(inode, i_mode);
	e->ino = BPF_CORE_READ(inode, i_ino);
	if (BPF_CORE_READ(inode, i_sb, s_magic) == PIDFS_MAGIC_) {
		/* pidfs (6.9+) dentries are named "/"; /proc shows anon_inode:[pidfd] */
		__builtin_memcpy(e->name, "[pidfd]", 8);
	} else {
		name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
		bpf_probe_read_kernel_str(e->name, sizeof(e->name), name);
	}
	e->flags |= FDW_F_HAS_FILE;
	if ((e->mode & 0170000) == 0140000 /* S_IFSOCK */)
		fill_sock(e, f);
	return f;
}

/* Fill mode/ino/name (and socket endpoints) of the file now at fd. */
static __always_inline struct file *fill_file(struct fdw_event *e, int fd)
{
	return fill_file_f(e, fd_file(fd));
}

/* ---- paths, as /proc/PID/fd shows them -------------------------------- */

/* Path components resolved at most; deeper paths fall back to the caller's. */
#define FDW_PATH_DEPTH 40

struct pathbuf {
	char buf[FDW_PATH_MAX * 2]; /* built backwards in the first half */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pathbuf);
} pathbufs SEC(".maps");

/* The absolute path of a file the way d_path() spells it for /proc: walks
 * dentries up to the mount root, crosses to the parent mount, stops at the
 * namespace root, appends " (deleted)" for unlinked files.  Leaves it in this
 * CPU's pathbuf and returns its offset, or -1 (too deep, too long, or a
 * pseudo file whose name /proc makes up with d_dname: pipes, sockets, anon
 * inodes, pidfs, nsfs).  A global function: verified once, not per caller. */
/* Turns a kernel address into a (read-only, fault-safe) BTF pointer, so the
 * walk below uses plain loads instead of a probe-read helper per field. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define RDONLY(type, p) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))

__noinline int resolve_path(__u64 file_ptr)
{
	struct file *f = RDONLY(struct file, file_ptr);
	struct pathbuf *pb;
	struct dentry *d, *parent, *mnt_root;
	struct mount *m, *pm;
	struct vfsmount *vm;
	__u32 zero = 0, len;
	int pos = FDW_PATH_MAX - 1; /* index of the terminating NUL */
	bool done = false;

	pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!pb || !file_ptr)
		return -1;
	d = f->f_path.dentry;
	vm = f->f_path.mnt;
	if (!d || !vm || (d->d_op && d->d_op->d_dname))
		return -1;
	m = RDONLY(struct mount, (char *)vm - bpf_core_field_offset(struct mount, mnt));
	pb->buf[FDW_PATH_MAX - 1] = 0;
	parent = d->d_parent;
	if (d != parent && !d->d_hash.pprev) { /* d_unlinked() */
		__builtin_memcpy(&pb->buf[FDW_PATH_MAX - 11], " (deleted)", 10);
		pos -= 10;
	}
#pragma clang loop unroll(disable)
	for (int i = 0; i < FDW_PATH_DEPTH; i++) {
		mnt_root = m->mnt.mnt_root;
		parent = d->d_parent;
		if (d == mnt_root || d == parent) {
			pm = m->mnt_parent;
			if (d != mnt_root || m == pm) { /* the namespace's root (or detached) */
				done = true;
				break;
			}
			d = m->mnt_mountpoint;
			m = pm;
			continue;
		}
		len = d->d_name.len;
		if (len == 0 || (int)len + 1 > pos)
			return -1;
		pos -= len;
		bpf_probe_read_kernel(&pb->buf[pos & (FDW_PATH_MAX - 1)], len & (FDW_PATH_MAX - 1),
				      d->d_name.name);
		pos -= 1;
		pb->buf[pos & (FDW_PATH_MAX - 1)] = '/';
		d = parent;
	}
	if (!done)
		return -1;
	if (pos == FDW_PATH_MAX - 1) { /* the root itself */
		pos -= 1;
		pb->buf[pos & (FDW_PATH_MAX - 1)] = '/';
	}
	return pos;
}

/* Whether /proc shows this file by path (not pipe:[..], socket:[..], anon_inode:..). */
static __always_inline bool has_path(const struct fdw_event *e)
{
	__u32 fmt = e->mode & 0170000;

	if (fmt == 0140000 /* S_IFSOCK */ || fmt == 0)
		return false;
	if (fmt == 0010000 /* S_IFIFO */ && e->name[0] == 0) /* pipefs */
		return false;
	return true;
}

#define NSFS_MAGIC_ 0x6e736673

/* fill_file_f, plus the path /proc shows for files that have one. */
static __always_inline struct file *fill_file_path_f(struct fdw_event_path *e, struct file *f)
{
	struct pathbuf *pb;
	__u32 zero = 0;
	int off;

	f = fill_file_f(&e->h, f);
	if (!f || !has_path(&e->h))
		return f;
	if (BPF_CORE_READ(f, f_inode, i_sb, s_magic) == NSFS_MAGIC_) {
		/* namespace files: /proc shows "net:[4026531840]" (ns_dname) */
		struct ns_common *ns = BPF_CORE_READ(f, f_inode, i_private);
		const char *name = BPF_CORE_READ(ns, ops, name);
		__u64 args[2] = {(__u64)name, e->h.ino};

		if (name && bpf_snprintf(e->path, sizeof(e->path), "%s:[%lu]", args, sizeof(args)) > 0)
			e->h.flags |= FDW_F_PATH_RESOLVED;
		return f;
	}
	off = resolve_path((__u64)f);
	pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (off < 0 || !pb)
		return f;
	if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), &pb->buf[off & (FDW_PATH_MAX - 1)]) > 0)
		e->h.flags |= FDW_F_PATH_RESOLVED;
	return f;
}

static __always_inline struct file *fill_file_path(struct fdw_event_path *e, int fd)
{
	return fill_file_path_f(e, fd_file(fd));
}

/* ---- enter/exit plumbing ---------------------------------------------- */

/* The arguments of the call now returning, read at sys_exit from the user
 * registers saved at syscall entry (they are not modified by the syscalls
 * traced here).  One tracepoint hit per call instead of an enter/exit pair
 * with a tid-keyed map between them: half the probe cost, and no state to
 * leak when a thread dies mid-call.  nargs: the syscall's argument count. */
static __always_inline bool take(__u16 sys, struct inflight *out, int nargs)
{
	struct pt_regs regs;
	struct pt_regs *uregs;

	if (!wanted(bpf_get_current_pid_tgid() >> 32))
		return false;
	uregs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (bpf_probe_read_kernel(&regs, sizeof(regs), uregs))
		return false;
	out->sys = sys;
	if (nargs > 0)
		out->a[0] = PT_REGS_PARM1_SYSCALL(&regs);
	if (nargs > 1)
		out->a[1] = PT_REGS_PARM2_SYSCALL(&regs);
	if (nargs > 2)
		out->a[2] = PT_REGS_PARM3_SYSCALL(&regs);
	if (nargs > 3)
		out->a[3] = PT_REGS_PARM4_SYSCALL(&regs);
	if (nargs > 4)
		out->a[4] = PT_REGS_PARM5_SYSCALL(&regs);
	return true;
}

/* Call stacks, see the end of this file: emits the USTACK record of a call
 * that created an fd; returns the key for stack_id, or -1. */
__noinline int ustack_capture(__u32 sys);

static __always_inline __s32 ustack_for(__u16 sys, long ret)
{
	return ret >= 0 ? ustack_capture(sys) : -1;
}

/* A call that returns one new fd (or -errno). */
static __always_inline int emit_new_fd(__u16 sys, long ret, bool cloexec)
{
	__s32 sid = ustack_for(sys, ret);
	struct fdw_event *e = reserve(FDW_EV_OPEN, sys);

	if (!e)
		return 0;
	e->stack_id = sid;
	e->ret = ret;
	if (cloexec)
		e->flags |= FDW_F_CLOEXEC;
	if (ret >= 0)
		fill_file(e, ret);
	submit(e);
	return 0;
}

/* An open-family call: new fd plus the user-supplied path. */
static __always_inline int emit_open_path(__u16 sys, long ret, bool cloexec, const char *upath,
					  __s64 flags)
{
	__s32 sid = ustack_for(sys, ret);
	struct fdw_event_path *e = reserve_path(FDW_EV_OPEN, sys);

	if (!e)
		return 0;
	e->h.stack_id = sid;
	e->h.ret = ret;
	e->h.arg = flags;
	if (cloexec)
		e->h.flags |= FDW_F_CLOEXEC;
	if (upath)
		bpf_probe_read_user_str(e->path, sizeof(e->path), upath);
	if (ret >= 0)
		fill_file_path(e, ret);
	submit(e);
	return 0;
}

/* A call that returns one new fd that may be a file with a path. */
static __always_inline int emit_new_fd_path(__u16 sys, long ret, bool cloexec)
{
	__s32 sid = ustack_for(sys, ret);
	struct fdw_event_path *e = reserve_path(FDW_EV_OPEN, sys);
	struct file *f;

	if (!e)
		return 0;
	e->h.stack_id = sid;
	e->h.ret = ret;
	if (cloexec)
		e->h.flags |= FDW_F_CLOEXEC;
	if (ret >= 0) {
		f = fill_file_path(e, ret);
		if (f && e->h.sock.family == 1 /* AF_UNIX */)
			fill_unix_path(e, f);
	}
	submit(e);
	return 0;
}

/* A call that fills an int[2] with two new fds (pipe, pipe2, socketpair). */
static __always_inline int emit_fd_pair(__u16 sys, long ret, bool cloexec, const int *ufds)
{
	__s32 sid = ustack_for(sys, ret);
	struct fdw_event *e = reserve(FDW_EV_OPEN, sys);
	int fds[2] = {-1, -1};

	if (!e)
		return 0;
	e->stack_id = sid;
	if (cloexec)
		e->flags |= FDW_F_CLOEXEC;
	if (ret < 0) {
		e->ret = ret;
	} else {
		bpf_probe_read_user(fds, sizeof(fds), ufds);
		e->ret = fds[0];
		e->fd2 = fds[1];
		/* mode/ino/name describe fds[0]; both ends share kind. */
		fill_file(e, fds[0]);
		e->arg = fds[1] >= 0 ? (__s64)BPF_CORE_READ(fd_file(fds[1]), f_inode, i_ino) : 0;
	}
	submit(e);
	return 0;
}

static __always_inline int emit_sockaddr(__u16 sys, long ret, int fd)
{
	struct fdw_event_path *e;
	struct file *f;

	if (ret < 0 && ret != -115 /* EINPROGRESS: connect under way, addresses set */)
		return 0;
	e = reserve_path(FDW_EV_SOCKADDR, sys);
	if (!e)
		return 0;
	e->h.ret = ret;
	e->h.fd2 = fd;
	f = fill_file(&e->h, fd);
	if (f && e->h.sock.family == 1 /* AF_UNIX */)
		fill_unix_path(e, f);
	submit(e);
	return 0;
}


static __always_inline int emit_simple(__u16 type, __u16 sys, long ret, int fd2, __s64 arg, __s64 arg2)
{
	struct fdw_event *e = reserve(type, sys);

	if (!e)
		return 0;
	e->ret = ret;
	e->fd2 = fd2;
	e->arg = arg;
	e->arg2 = arg2;
	submit(e);
	return 0;
}

/* Kept so each syscall's block reads "ENTER ... EXIT"; arguments are taken
 * at exit (see take()), so no program is attached to sys_enter. */
#define ENTER(name, SYS)

/* EXIT(name, SYS) { body using `in` (saved args) and `ret` } */
#define EXIT(name, SYS)                                                         \
	static __always_inline int exit_body_##name(struct inflight *in, long ret); \
	SEC("tp/syscalls/sys_exit_" #name)                                       \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                    \
	{                                                                        \
		struct inflight in = {};                                         \
		if (!take(SYS, &in, NARGS_##name))                               \
			return 0;                                                \
		return exit_body_##name(&in, ctx->ret);                          \
	}                                                                        \
	static __always_inline int exit_body_##name(struct inflight *in, long ret)

/* argument counts of the traced syscalls */
#define NARGS_open 3
#define NARGS_openat 4
#define NARGS_openat2 4
#define NARGS_creat 2
#define NARGS_open_by_handle_at 3
#define NARGS_socket 3
#define NARGS_socketpair 4
#define NARGS_accept 3
#define NARGS_accept4 4
#define NARGS_bind 3
#define NARGS_connect 3
#define NARGS_listen 2
#define NARGS_recvmsg 3
#define NARGS_recvmmsg 5
#define NARGS_dup 1
#define NARGS_dup2 2
#define NARGS_dup3 3
#define NARGS_fcntl 3
#define NARGS_ioctl 3
#define NARGS_pipe 1
#define NARGS_pipe2 2
#define NARGS_eventfd 1
#define NARGS_eventfd2 2
#define NARGS_epoll_create 1
#define NARGS_epoll_create1 1
#define NARGS_timerfd_create 2
#define NARGS_inotify_init 0
#define NARGS_inotify_init1 1
#define NARGS_fanotify_init 2
#define NARGS_memfd_create 2
#define NARGS_memfd_secret 1
#define NARGS_pidfd_getfd 3
#define NARGS_perf_event_open 5
#define NARGS_userfaultfd 1
#define NARGS_io_uring_setup 2
#define NARGS_open_tree 3
#define NARGS_fsopen 2
#define NARGS_fsmount 3
#define NARGS_fspick 3
#define NARGS_signalfd 3
#define NARGS_signalfd4 4
#define NARGS_pidfd_open 2
#define NARGS_bpf 3
#define NARGS_close 1
#define NARGS_close_range 3
#define NARGS_prlimit64 4
#define NARGS_setrlimit 2

#define O_CLOEXEC_ 02000000
#define SOCK_CLOEXEC_ 02000000

/* ---- open family ------------------------------------------------------ */

ENTER(open, FDW_SYS_OPEN)
EXIT(open, FDW_SYS_OPEN)
{
	return emit_open_path(FDW_SYS_OPEN, ret, in->a[1] & O_CLOEXEC_, (const char *)in->a[0], in->a[1]);
}

ENTER(openat, FDW_SYS_OPENAT)
EXIT(openat, FDW_SYS_OPENAT)
{
	return emit_open_path(FDW_SYS_OPENAT, ret, in->a[2] & O_CLOEXEC_, (const char *)in->a[1], in->a[2]);
}

ENTER(openat2, FDW_SYS_OPENAT2)
EXIT(openat2, FDW_SYS_OPENAT2)
{
	/* a[2] is struct open_how *: flags is its first u64. */
	__u64 flags = 0;

	bpf_probe_read_user(&flags, sizeof(flags), (void *)in->a[2]);
	return emit_open_path(FDW_SYS_OPENAT2, ret, flags & O_CLOEXEC_, (const char *)in->a[1], flags);
}

ENTER(creat, FDW_SYS_CREAT)
EXIT(creat, FDW_SYS_CREAT)
{
	return emit_open_path(FDW_SYS_CREAT, ret, false, (const char *)in->a[0], 0);
}

ENTER(open_by_handle_at, FDW_SYS_OPEN_BY_HANDLE_AT)
EXIT(open_by_handle_at, FDW_SYS_OPEN_BY_HANDLE_AT)
{
	return emit_open_path(FDW_SYS_OPEN_BY_HANDLE_AT, ret, in->a[2] & O_CLOEXEC_, NULL, in->a[2]);
}

/* ---- sockets ---------------------------------------------------------- */

ENTER(socket, FDW_SYS_SOCKET)
EXIT(socket, FDW_SYS_SOCKET)
{
	__s32 sid = ustack_for(FDW_SYS_SOCKET, ret);
	struct fdw_event *e = reserve(FDW_EV_OPEN, FDW_SYS_SOCKET);

	if (!e)
		return 0;
	e->stack_id = sid;
	e->ret = ret;
	if (in->a[1] & SOCK_CLOEXEC_)
		e->flags |= FDW_F_CLOEXEC;
	/* what was asked for, also when it failed */
	e->sock.family = in->a[0];
	e->sock.type = in->a[1] & 0xf;
	e->sock.protocol = in->a[2];
	if (ret >= 0)
		fill_file(e, ret);
	submit(e);
	return 0;
}

ENTER(socketpair, FDW_SYS_SOCKETPAIR)
EXIT(socketpair, FDW_SYS_SOCKETPAIR)
{
	return emit_fd_pair(FDW_SYS_SOCKETPAIR, ret, in->a[1] & SOCK_CLOEXEC_, (const int *)in->a[3]);
}

ENTER(accept, FDW_SYS_ACCEPT)
EXIT(accept, FDW_SYS_ACCEPT)
{
	return emit_new_fd_path(FDW_SYS_ACCEPT, ret, false);
}

ENTER(accept4, FDW_SYS_ACCEPT4)
EXIT(accept4, FDW_SYS_ACCEPT4)
{
	return emit_new_fd_path(FDW_SYS_ACCEPT4, ret, in->a[3] & SOCK_CLOEXEC_);
}

ENTER(bind, FDW_SYS_BIND)
EXIT(bind, FDW_SYS_BIND)
{
	return emit_sockaddr(FDW_SYS_BIND, ret, in->a[0]);
}

ENTER(connect, FDW_SYS_CONNECT)
EXIT(connect, FDW_SYS_CONNECT)
{
	return emit_sockaddr(FDW_SYS_CONNECT, ret, in->a[0]);
}

ENTER(listen, FDW_SYS_LISTEN)
EXIT(listen, FDW_SYS_LISTEN)
{
	return emit_sockaddr(FDW_SYS_LISTEN, ret, in->a[0]);
}

/* recvmsg/recvmmsg: fds received through SCM_RIGHTS are new fds. */
struct user_msghdr_ {
	void *msg_name;
	int msg_namelen;
	void *msg_iov;
	__u64 msg_iovlen;
	void *msg_control;
	__u64 msg_controllen;
	unsigned int msg_flags;
};

#define MSG_CMSG_CLOEXEC_ 0x40000000
#define SOL_SOCKET_ 1
#define SCM_RIGHTS_ 1

/* One fd received through SCM_RIGHTS.  A global (separately verified)
 * function, so the nested cmsg/fd loops do not multiply verifier states. */
__noinline int emit_received_fd(__u32 sys, int fd, int cloexec)
{
	return emit_new_fd_path(sys, fd, cloexec);
}

__noinline int emit_scm_rights(__u32 sys, __u64 umsg_addr, int cloexec)
{
	const struct user_msghdr_ *umsg = (const struct user_msghdr_ *)umsg_addr;
	struct user_msghdr_ msg;
	__u64 off = 0, len;

	if (bpf_probe_read_user(&msg, sizeof(msg), umsg))
		return 0;
	/* after the call msg_controllen is the length the kernel wrote */
	len = msg.msg_controllen;
	if (!msg.msg_control || len < 16)
		return 0;
	/* Headers and fds are read straight from user memory: no variable
	 * indexing into buffers, which keeps the verifier simple. */
#pragma clang loop unroll(disable)
	for (int c = 0; c < 4; c++) {
		struct { __u64 len; int level; int type; } h;
		int fds[FDW_SCM_MAX];
		__u64 n;

		if (off + 16 > len)
			break;
		if (bpf_probe_read_user(&h, sizeof(h), (char *)msg.msg_control + off))
			break;
		if (h.len < 16 || h.len > len - off)
			break;
		if (h.level == SOL_SOCKET_ && h.type == SCM_RIGHTS_) {
			n = (h.len - 16) / 4;
			if (n > FDW_SCM_MAX)
				n = FDW_SCM_MAX;
			asm volatile("%0 &= 0x1f" : "+r"(n));
			if (n > FDW_SCM_MAX)
				n = FDW_SCM_MAX;
			if (n == 0 || bpf_probe_read_user(fds, n * 4, (char *)msg.msg_control + off + 16))
				break;
#pragma clang loop unroll(disable)
			for (__u32 i = 0; i < FDW_SCM_MAX; i++) {
				if (i >= n)
					break;
				emit_received_fd(sys, fds[i & (FDW_SCM_MAX - 1)], cloexec);
			}
		}
		off += (h.len + 7) & ~7ULL;
	}
	return 0;
}

ENTER(recvmsg, FDW_SYS_RECVMSG)
EXIT(recvmsg, FDW_SYS_RECVMSG)
{
	if (ret < 0)
		return 0;
	return emit_scm_rights(FDW_SYS_RECVMSG, in->a[1], !!(in->a[2] & MSG_CMSG_CLOEXEC_));
}

ENTER(recvmmsg, FDW_SYS_RECVMMSG)
EXIT(recvmmsg, FDW_SYS_RECVMMSG)
{
	/* struct mmsghdr { struct user_msghdr msg_hdr; unsigned int msg_len; } = 64 bytes */
	if (ret <= 0)
		return 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 8; i++) {
		if (i >= ret)
			break;
		emit_scm_rights(FDW_SYS_RECVMMSG, in->a[1] + i * 64, !!(in->a[3] & MSG_CMSG_CLOEXEC_));
	}
	return 0;
}

/* ---- duplication ------------------------------------------------------ */

static __always_inline int emit_dup(__u16 sys, long ret, int oldfd, bool cloexec)
{
	__s32 sid = ustack_for(sys, ret);
	struct fdw_event_path *e = reserve_path(FDW_EV_DUP, sys);
	struct file *f;

	if (!e)
		return 0;
	e->h.stack_id = sid;
	e->h.ret = ret;
	e->h.fd2 = oldfd;
	if (cloexec)
		e->h.flags |= FDW_F_CLOEXEC;
	if (ret >= 0) {
		f = fill_file_path(e, ret);
		if (f && e->h.sock.family == 1 /* AF_UNIX */)
			fill_unix_path(e, f);
	}
	submit(e);
	return 0;
}

ENTER(dup, FDW_SYS_DUP)
EXIT(dup, FDW_SYS_DUP)
{
	return emit_dup(FDW_SYS_DUP, ret, in->a[0], false);
}

ENTER(dup2, FDW_SYS_DUP2)
EXIT(dup2, FDW_SYS_DUP2)
{
	return emit_dup(FDW_SYS_DUP2, ret, in->a[0], false);
}

ENTER(dup3, FDW_SYS_DUP3)
EXIT(dup3, FDW_SYS_DUP3)
{
	return emit_dup(FDW_SYS_DUP3, ret, in->a[0], in->a[2] & O_CLOEXEC_);
}

#define F_DUPFD_ 0
#define F_SETFD_ 2
#define F_DUPFD_CLOEXEC_ 1030
#define FD_CLOEXEC_ 1

EXIT(fcntl, FDW_SYS_FCNTL)
{
	long cmd = in->a[1];

	if (cmd != F_DUPFD_ && cmd != F_DUPFD_CLOEXEC_ && cmd != F_SETFD_)
		return 0;
	if (cmd == F_SETFD_) {
		if (ret < 0)
			return 0;
		return emit_simple(FDW_EV_CLOEXEC, FDW_SYS_FCNTL, ret, in->a[0],
				   (in->a[2] & FD_CLOEXEC_) ? 1 : 0, 0);
	}
	return emit_dup(FDW_SYS_FCNTL, ret, in->a[0], cmd == F_DUPFD_CLOEXEC_);
}

#define FIONCLEX_ 0x5450
#define FIOCLEX_ 0x5451
/* ioctls that return a new fd */
#define NS_GET_USERNS_ 0xb701
#define NS_GET_PARENT_ 0xb702
#define SIOCGSKNS_ 0x894c
#define USERFAULTFD_IOC_NEW_ 0xaa00
#define PIDFD_GET_NS_FIRST_ 0xff01 /* PIDFD_GET_CGROUP_NAMESPACE .. */
#define PIDFD_GET_NS_LAST_ 0xff0a  /* .. PIDFD_GET_UTS_NAMESPACE */

static __always_inline bool ioctl_makes_fd(unsigned int cmd)
{
	return cmd == NS_GET_USERNS_ || cmd == NS_GET_PARENT_ || cmd == SIOCGSKNS_ ||
	       cmd == USERFAULTFD_IOC_NEW_ || (cmd >= PIDFD_GET_NS_FIRST_ && cmd <= PIDFD_GET_NS_LAST_);
}

/* Command numbers are per driver: only on the right kind of file do these
 * return a new fd (another driver's 0xff01 may return 0, not fd 0). */
static __always_inline bool ioctl_makes_fd_on(unsigned int cmd, int fd)
{
	struct file *f = fd_file(fd);
	struct inode *inode;
	char name[8] = {};
	__u32 fmt;
	__u64 magic;

	if (!f)
		return false;
	inode = BPF_CORE_READ(f, f_inode);
	fmt = BPF_CORE_READ(inode, i_mode) & 0170000;
	magic = BPF_CORE_READ(inode, i_sb, s_magic);
	if (cmd == NS_GET_USERNS_ || cmd == NS_GET_PARENT_)
		return magic == NSFS_MAGIC_;
	if (cmd == SIOCGSKNS_)
		return fmt == 0140000 /* S_IFSOCK */;
	if (cmd == USERFAULTFD_IOC_NEW_)
		return fmt == 0020000 /* S_IFCHR: /dev/userfaultfd */;
	/* PIDFD_GET_*_NAMESPACE: a pidfd (pidfs, or an anon inode before 6.9) */
	if (magic == PIDFS_MAGIC_)
		return true;
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(f, f_path.dentry, d_name.name));
	return name[0] == '[' && name[1] == 'p' && name[2] == 'i' && name[3] == 'd' && name[4] == 'f' &&
	       name[5] == 'd' && name[6] == ']';
}

EXIT(ioctl, FDW_SYS_IOCTL)
{
	unsigned int cmd = in->a[1];

	if (cmd == FIOCLEX_ || cmd == FIONCLEX_) {
		if (ret < 0)
			return 0;
		return emit_simple(FDW_EV_CLOEXEC, FDW_SYS_IOCTL, ret, in->a[0], cmd == FIOCLEX_ ? 1 : 0, 0);
	}
	if (ioctl_makes_fd(cmd) && ioctl_makes_fd_on(cmd, in->a[0]))
		return emit_new_fd_path(FDW_SYS_IOCTL, ret, ret >= 0 && fd_cloexec(ret));
	return 0;
}

/* ---- pipes and anonymous-inode fds ------------------------------------ */

ENTER(pipe, FDW_SYS_PIPE)
EXIT(pipe, FDW_SYS_PIPE)
{
	return emit_fd_pair(FDW_SYS_PIPE, ret, false, (const int *)in->a[0]);
}

ENTER(pipe2, FDW_SYS_PIPE2)
EXIT(pipe2, FDW_SYS_PIPE2)
{
	return emit_fd_pair(FDW_SYS_PIPE2, ret, in->a[1] & O_CLOEXEC_, (const int *)in->a[0]);
}

/* One new fd; close-on-exec from the given flag bit of argument `argi`. */
#define NEW_FD(name, SYS, argi, bit)                                            \
	ENTER(name, SYS)                                                         \
	EXIT(name, SYS)                                                          \
	{                                                                        \
		return emit_new_fd(SYS, ret, (argi) >= 0 && (in->a[(argi) & 7] & (bit))); \
	}

NEW_FD(eventfd, FDW_SYS_EVENTFD, -1, 0)
NEW_FD(eventfd2, FDW_SYS_EVENTFD2, 1, O_CLOEXEC_)
NEW_FD(epoll_create, FDW_SYS_EPOLL_CREATE, -1, 0)
NEW_FD(epoll_create1, FDW_SYS_EPOLL_CREATE1, 0, O_CLOEXEC_)
NEW_FD(timerfd_create, FDW_SYS_TIMERFD_CREATE, 1, O_CLOEXEC_)
NEW_FD(inotify_init, FDW_SYS_INOTIFY_INIT, -1, 0)
NEW_FD(inotify_init1, FDW_SYS_INOTIFY_INIT1, 0, O_CLOEXEC_)
NEW_FD(fanotify_init, FDW_SYS_FANOTIFY_INIT, 0, 0x1 /* FAN_CLOEXEC */)
NEW_FD(memfd_create, FDW_SYS_MEMFD_CREATE, 1, 0x1 /* MFD_CLOEXEC */)
NEW_FD(memfd_secret, FDW_SYS_MEMFD_SECRET, 0, O_CLOEXEC_)
NEW_FD(perf_event_open, FDW_SYS_PERF_EVENT_OPEN, 4, 0x8 /* PERF_FLAG_FD_CLOEXEC */)
NEW_FD(userfaultfd, FDW_SYS_USERFAULTFD, 0, O_CLOEXEC_)
NEW_FD(fsopen, FDW_SYS_FSOPEN, 1, 0x1 /* FSOPEN_CLOEXEC */)
NEW_FD(fspick, FDW_SYS_FSPICK, 2, 0x1 /* FSPICK_CLOEXEC */)

/* io_uring fds are always close-on-exec (io_uring_install_fd) */
ENTER(io_uring_setup, FDW_SYS_IO_URING_SETUP)
EXIT(io_uring_setup, FDW_SYS_IO_URING_SETUP)
{
	return emit_new_fd(FDW_SYS_IO_URING_SETUP, ret, true);
}

/* O_PATH-like fds of mounts: /proc shows their path */
ENTER(open_tree, FDW_SYS_OPEN_TREE)
EXIT(open_tree, FDW_SYS_OPEN_TREE)
{
	return emit_new_fd_path(FDW_SYS_OPEN_TREE, ret, in->a[2] & O_CLOEXEC_);
}

ENTER(fsmount, FDW_SYS_FSMOUNT)
EXIT(fsmount, FDW_SYS_FSMOUNT)
{
	return emit_new_fd_path(FDW_SYS_FSMOUNT, ret, in->a[1] & 0x1 /* FSMOUNT_CLOEXEC */);
}

/* signalfd(fd=-1, ...) creates; signalfd(existing fd) only updates the mask. */
ENTER(signalfd, FDW_SYS_SIGNALFD)
EXIT(signalfd, FDW_SYS_SIGNALFD)
{
	if ((int)in->a[0] != -1 && ret >= 0)
		return 0;
	return emit_new_fd(FDW_SYS_SIGNALFD, ret, false);
}

ENTER(signalfd4, FDW_SYS_SIGNALFD4)
EXIT(signalfd4, FDW_SYS_SIGNALFD4)
{
	if ((int)in->a[0] != -1 && ret >= 0)
		return 0;
	return emit_new_fd(FDW_SYS_SIGNALFD4, ret, in->a[3] & O_CLOEXEC_);
}

ENTER(pidfd_getfd, FDW_SYS_PIDFD_GETFD)
EXIT(pidfd_getfd, FDW_SYS_PIDFD_GETFD)
{
	/* the new fd always has close-on-exec; it can be anything, files too */
	return emit_new_fd_path(FDW_SYS_PIDFD_GETFD, ret, true);
}

ENTER(pidfd_open, FDW_SYS_PIDFD_OPEN)
EXIT(pidfd_open, FDW_SYS_PIDFD_OPEN)
{
	/* pidfds are always close-on-exec */
	return emit_new_fd(FDW_SYS_PIDFD_OPEN, ret, true);
}

/* bpf(2): only commands that return a new fd. */
EXIT(bpf, FDW_SYS_BPF)
{
	/* MAP_CREATE 0, PROG_LOAD 5, OBJ_GET 7, PROG_GET_FD_BY_ID 13, MAP_GET_FD_BY_ID 14,
	 * RAW_TRACEPOINT_OPEN 17, BTF_LOAD 18, BTF_GET_FD_BY_ID 19, LINK_CREATE 28,
	 * LINK_GET_FD_BY_ID 30, ENABLE_STATS 32, ITER_CREATE 33, TOKEN_CREATE 36 */
	switch (in->a[0]) {
	case 0: case 5: case 7: case 13: case 14: case 17: case 18: case 19:
	case 28: case 30: case 32 /* ENABLE_STATS */: case 33: case 36:
		break;
	default:
		return 0;
	}
	/* bpf fds are always close-on-exec */
	return emit_new_fd(FDW_SYS_BPF, ret, true);
}

/* ---- more calls that can create an fd ---------------------------------- */

#define NARGS_clone 5
#define NARGS_clone3 2
#define NARGS_mq_open 4
#define NARGS_landlock_create_ruleset 3
#define NARGS_seccomp 3
#define NARGS_open_tree_attr 5
#define CLONE_PIDFD_ 0x1000

/* clone(flags, newsp, parent_tid, ...): with CLONE_PIDFD the parent gets a
 * pidfd, stored at parent_tid (every arch keeps it third).  The child's own
 * return has no inflight entry (other tid) and reports nothing. */
ENTER(clone, FDW_SYS_CLONE)
EXIT(clone, FDW_SYS_CLONE)
{
	int pidfd = -1;

	if (!(in->a[0] & CLONE_PIDFD_) || ret == 0)
		return 0;
	if (ret < 0)
		return emit_new_fd(FDW_SYS_CLONE, ret, false);
	if (bpf_probe_read_user(&pidfd, sizeof(pidfd), (void *)in->a[2]))
		return 0;
	return emit_new_fd(FDW_SYS_CLONE, pidfd, fd_cloexec(pidfd));
}

/* clone3(struct clone_args *, size): flags at 0, pidfd pointer at 8 */
ENTER(clone3, FDW_SYS_CLONE3)
EXIT(clone3, FDW_SYS_CLONE3)
{
	__u64 args[2] = {};
	int pidfd = -1;

	if (ret == 0 || bpf_probe_read_user(args, sizeof(args), (void *)in->a[0]))
		return 0;
	if (!(args[0] & CLONE_PIDFD_))
		return 0;
	if (ret < 0)
		return emit_new_fd(FDW_SYS_CLONE3, ret, false);
	if (bpf_probe_read_user(&pidfd, sizeof(pidfd), (void *)args[1]))
		return 0;
	return emit_new_fd(FDW_SYS_CLONE3, pidfd, fd_cloexec(pidfd));
}

ENTER(mq_open, FDW_SYS_MQ_OPEN)
EXIT(mq_open, FDW_SYS_MQ_OPEN)
{
	return emit_new_fd_path(FDW_SYS_MQ_OPEN, ret, in->a[1] & O_CLOEXEC_);
}

/* with LANDLOCK_CREATE_RULESET_VERSION it returns a version, not an fd */
ENTER(landlock_create_ruleset, FDW_SYS_LANDLOCK_CREATE_RULESET)
EXIT(landlock_create_ruleset, FDW_SYS_LANDLOCK_CREATE_RULESET)
{
	if (in->a[2] & 1)
		return 0;
	return emit_new_fd(FDW_SYS_LANDLOCK_CREATE_RULESET, ret, ret >= 0 && fd_cloexec(ret));
}

/* seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, ...) */
ENTER(seccomp, FDW_SYS_SECCOMP)
EXIT(seccomp, FDW_SYS_SECCOMP)
{
	if (in->a[0] != 1 || !(in->a[1] & 0x8))
		return 0;
	return emit_new_fd(FDW_SYS_SECCOMP, ret, ret >= 0 && fd_cloexec(ret));
}

ENTER(open_tree_attr, FDW_SYS_OPEN_TREE_ATTR)
EXIT(open_tree_attr, FDW_SYS_OPEN_TREE_ATTR)
{
	return emit_new_fd_path(FDW_SYS_OPEN_TREE_ATTR, ret, in->a[2] & O_CLOEXEC_);
}

/* ---- destruction ------------------------------------------------------ */

ENTER(close, FDW_SYS_CLOSE)
EXIT(close, FDW_SYS_CLOSE)
{
	/* close() releases the fd even when it reports EINTR/EIO; only EBADF means
	 * nothing happened.  The aggregator gets the errno and decides. */
	struct fdw_event *e = reserve(FDW_EV_CLOSE, FDW_SYS_CLOSE);

	if (!e)
		return 0;
	e->ret = ret;
	e->fd2 = in->a[0];
	/* Records are written at return: with threads, another thread may have
	 * got this fd number (and written its record) before ours.  Say so,
	 * rather than paying for a sys_enter program to timestamp the close. */
	if (ret == 0 && fd_file(in->a[0]))
		e->flags |= FDW_F_FD_REUSED;
	submit(e);
	return 0;
}

ENTER(close_range, FDW_SYS_CLOSE_RANGE)
EXIT(close_range, FDW_SYS_CLOSE_RANGE)
{
	if (ret < 0)
		return 0;
	return emit_simple(FDW_EV_CLOSE_RANGE, FDW_SYS_CLOSE_RANGE, ret, (int)in->a[0],
			   (__s64)(__u32)in->a[1], in->a[2]);
}

/* ---- rlimits ---------------------------------------------------------- */

#define RLIMIT_NOFILE_ 7

ENTER(prlimit64, FDW_SYS_PRLIMIT64)
EXIT(prlimit64, FDW_SYS_PRLIMIT64)
{
	__u64 lim[2];
	__u32 pid = in->a[0];

	if (ret < 0 || in->a[1] != RLIMIT_NOFILE_ || !in->a[2])
		return 0;
	if (bpf_probe_read_user(lim, sizeof(lim), (void *)in->a[2]))
		return 0;
	if (!pid)
		pid = bpf_get_current_pid_tgid() >> 32;
	return emit_simple(FDW_EV_LIMIT, FDW_SYS_PRLIMIT64, pid, -1, lim[0], lim[1]);
}

ENTER(setrlimit, FDW_SYS_SETRLIMIT)
EXIT(setrlimit, FDW_SYS_SETRLIMIT)
{
	__u64 lim[2];

	if (ret < 0 || in->a[0] != RLIMIT_NOFILE_)
		return 0;
	if (bpf_probe_read_user(lim, sizeof(lim), (void *)in->a[1]))
		return 0;
	return emit_simple(FDW_EV_LIMIT, FDW_SYS_SETRLIMIT, bpf_get_current_pid_tgid() >> 32, -1,
			   lim[0], lim[1]);
}

/* ---- process lifecycle ------------------------------------------------ */

/* raw tracepoint: args are (struct task_struct *parent, struct task_struct *child).
 * Needs no tracefs, and gives the child's tgid and whether it shares our files. */
SEC("raw_tp/sched_process_fork")
int on_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct fdw_event *e;
	__u8 one = 1;

	if (ptgid == ctgid) /* a new thread: same process, same table */
		return 0;
	if (!wanted(ptgid))
		return 0;
	if (!targ_all) {
		if (!follow_children)
			return 0;
		bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
		stat_inc(FDW_STAT_FORKS);
	}
	e = reserve(FDW_EV_FORK, FDW_SYS_FORK_EVENT);
	if (!e)
		return 0;
	e->tgid = ptgid;
	e->ret = ctgid;
	if (BPF_CORE_READ(parent, files) == BPF_CORE_READ(child, files))
		e->flags |= FDW_F_SHARED_FILES;
	BPF_CORE_READ_STR_INTO(&e->name, child, comm);
	submit(e);
	return 0;
}

SEC("tp/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fdw_event_path *e;
	unsigned int off;

	if (!wanted(tgid))
		return 0;
	e = reserve_path(FDW_EV_EXEC, FDW_SYS_EXECVE);
	if (!e)
		return 0;
	e->h.ret = tgid;
	e->h.arg = ctx->old_pid;
	bpf_get_current_comm(e->h.name, sizeof(e->h.name));
	off = ctx->__data_loc_filename & 0xFFFF;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), (void *)ctx + off);
	submit(e);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int on_exit(struct trace_event_raw_sched_process_template *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fdw_event *e;

	if (!wanted(tgid))
		return 0;
	/* only when the whole thread group is gone */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	e = reserve(FDW_EV_EXIT, FDW_SYS_EXIT_EVENT);
	if (e) {
		e->ret = tgid;
		e->arg = BPF_CORE_READ(task, exit_code);
		bpf_get_current_comm(e->name, sizeof(e->name));
		submit(e);
	}
	bpf_map_delete_elem(&targets, &tgid);
	return 0;
}

/* ---- io_uring ----------------------------------------------------------
 *
 * io_uring opens, accepts, creates sockets and pipes, installs fixed files
 * as fds, receives SCM_RIGHTS and closes fds without any of the syscalls
 * above.  io_uring_submit_req fires after the request's prep (so the
 * operation's arguments are in the request) and gives opcode and request
 * pointer; io_uring_complete gives the request pointer and the result.  A
 * map keyed by request pointer pairs them.  Direct descriptors (file_slot)
 * are not fds and are left out.  Requests with CQE_SKIP_SUCCESS have no
 * completion event on success, and multishot recvmsg has its own buffer
 * layout: those mark the process for a re-sync instead.
 */

/* opcodes (include/uapi/linux/io_uring.h) */
#define IORING_OP_RECVMSG_ 10
#define IORING_OP_ACCEPT_ 13
#define IORING_OP_CONNECT_ 16
#define IORING_OP_OPENAT_ 18
#define IORING_OP_CLOSE_ 19
#define IORING_OP_OPENAT2_ 28
#define IORING_OP_SOCKET_ 45
#define IORING_OP_FIXED_FD_INSTALL_ 54
#define IORING_OP_BIND_ 56
#define IORING_OP_LISTEN_ 57
#define IORING_OP_PIPE_ 62
#define REQ_F_FIXED_FILE_ 0x1
#define REQ_F_CQE_SKIP_ 0x40
#define IORING_CQE_F_MORE_ 0x2
#define IORING_RECV_MULTISHOT_ 0x2

struct uring_req {
	__u64 ts;   /* submitted: orders a close like a close's sys_enter */
	__u64 uptr; /* pipe: int fds[2]; recvmsg: struct user_msghdr */
	__s32 fd;   /* close, bind, connect, listen: the fd */
	__u16 sys;  /* FDW_SYS_IO_URING_* */
	__u8 cloexec;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct uring_req);
} uring_reqs SEC(".maps");

/* Multishot accept posts its intermediate completions as "aux" CQEs whose
 * tracepoint has no request pointer; they are found by ring and user_data. */
struct uring_multi_key {
	__u64 ring;
	__u64 user_data;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct uring_multi_key);
	__type(value, struct uring_req);
} uring_multi SEC(".maps");

#define IORING_ACCEPT_MULTISHOT_ 0x1

SEC("tp/io_uring/io_uring_submit_req")
int uring_submit(struct trace_event_raw_io_uring_submit_req *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct io_kiocb *req = ctx->req;
	__u64 key = (__u64)req;
	__u64 rflags = ctx->flags;
	struct uring_req u = {};
	__u32 slot = 0;

	if (!wanted(tgid))
		return 0;
	u.ts = bpf_ktime_get_ns();
	u.fd = -1;
	switch (ctx->opcode) {
	case IORING_OP_OPENAT_:
	case IORING_OP_OPENAT2_:
		if (!bpf_core_type_exists(struct io_open))
			goto untracked;
		slot = BPF_CORE_READ((struct io_open *)req, file_slot);
		u.cloexec = !!(BPF_CORE_READ((struct io_open *)req, how.flags) & O_CLOEXEC_);
		u.sys = ctx->opcode == IORING_OP_OPENAT_ ? FDW_SYS_IO_URING_OPENAT : FDW_SYS_IO_URING_OPENAT2;
		break;
	case IORING_OP_CLOSE_:
		if (!bpf_core_type_exists(struct io_close))
			goto untracked;
		slot = BPF_CORE_READ((struct io_close *)req, file_slot);
		u.fd = BPF_CORE_READ((struct io_close *)req, fd);
		u.sys = FDW_SYS_IO_URING_CLOSE;
		break;
	case IORING_OP_ACCEPT_:
		if (!bpf_core_type_exists(struct io_accept))
			goto untracked;
		slot = BPF_CORE_READ((struct io_accept *)req, file_slot);
		u.cloexec = !!(BPF_CORE_READ((struct io_accept *)req, flags) & SOCK_CLOEXEC_);
		u.sys = FDW_SYS_IO_URING_ACCEPT;
		break;
	case IORING_OP_SOCKET_:
		if (!bpf_core_type_exists(struct io_socket))
			goto untracked;
		slot = BPF_CORE_READ((struct io_socket *)req, file_slot);
		u.cloexec = !!(BPF_CORE_READ((struct io_socket *)req, flags) & SOCK_CLOEXEC_);
		u.sys = FDW_SYS_IO_URING_SOCKET;
		break;
	case IORING_OP_PIPE_:
		if (!bpf_core_type_exists(struct io_pipe))
			goto untracked;
		slot = BPF_CORE_READ((struct io_pipe *)req, file_slot);
		u.cloexec = !!(BPF_CORE_READ((struct io_pipe *)req, flags) & O_CLOEXEC_);
		u.uptr = (__u64)BPF_CORE_READ((struct io_pipe *)req, fds);
		u.sys = FDW_SYS_IO_URING_PIPE;
		break;
	case IORING_OP_FIXED_FD_INSTALL_:
		if (!bpf_core_type_exists(struct io_fixed_install))
			goto untracked;
		u.cloexec = !!(BPF_CORE_READ((struct io_fixed_install *)req, o_flags) & O_CLOEXEC_);
		u.sys = FDW_SYS_IO_URING_FIXED_FD_INSTALL;
		break;
	case IORING_OP_RECVMSG_:
		if (!bpf_core_type_exists(struct io_sr_msg))
			goto untracked;
		if (BPF_CORE_READ((struct io_sr_msg *)req, flags) & IORING_RECV_MULTISHOT_)
			goto untracked;
		u.uptr = (__u64)BPF_CORE_READ((struct io_sr_msg *)req, umsg);
		u.cloexec = !!(BPF_CORE_READ((struct io_sr_msg *)req, msg_flags) & MSG_CMSG_CLOEXEC_);
		u.sys = FDW_SYS_IO_URING_RECVMSG;
		break;
	case IORING_OP_BIND_:
	case IORING_OP_CONNECT_:
	case IORING_OP_LISTEN_:
		if (rflags & REQ_F_FIXED_FILE_) /* the fd is an index into the fixed files */
			goto forget;
		u.fd = BPF_CORE_READ(req, cqe.fd); /* sqe->fd until completion */
		u.sys = ctx->opcode == IORING_OP_BIND_     ? FDW_SYS_IO_URING_BIND
			: ctx->opcode == IORING_OP_CONNECT_ ? FDW_SYS_IO_URING_CONNECT
							     : FDW_SYS_IO_URING_LISTEN;
		/* no completion on success: nothing of the fd table changes anyway */
		if (rflags & REQ_F_CQE_SKIP_)
			goto forget;
		bpf_map_update_elem(&uring_reqs, &key, &u, BPF_ANY);
		return 0;
	default:
		goto forget;
	}
	if (slot) /* a direct descriptor: not an fd */
		goto forget;
	if (rflags & REQ_F_CQE_SKIP_)
		goto untracked;
	bpf_map_update_elem(&uring_reqs, &key, &u, BPF_ANY);
	if (u.sys == FDW_SYS_IO_URING_ACCEPT && bpf_core_field_exists(struct io_accept, iou_flags) &&
	    (BPF_CORE_READ((struct io_accept *)req, iou_flags) & IORING_ACCEPT_MULTISHOT_)) {
		struct uring_multi_key mk = {(__u64)ctx->ctx, ctx->user_data};

		bpf_map_update_elem(&uring_multi, &mk, &u, BPF_ANY);
	}
	return 0;
untracked:
	mark_untracked(tgid);
forget:
	/* request memory is recycled: never let an old entry match this one */
	bpf_map_delete_elem(&uring_reqs, &key);
	return 0;
}

SEC("tp/io_uring/io_uring_complete")
int uring_complete(struct trace_event_raw_io_uring_complete *ctx)
{
	__u64 key = (__u64)ctx->req;
	struct uring_multi_key mk = {(__u64)ctx->ctx, ctx->user_data};
	struct uring_req *up;
	struct uring_req u;
	long res = ctx->res;

	if (!key) { /* an aux CQE: only multishot accept's are ours */
		up = bpf_map_lookup_elem(&uring_multi, &mk);
		if (!up || !wanted(bpf_get_current_pid_tgid() >> 32))
			return 0;
		return emit_new_fd_path(up->sys, res, up->cloexec);
	}
	up = bpf_map_lookup_elem(&uring_reqs, &key);
	if (!up)
		return 0;
	u = *up;
	if (!(ctx->cflags & IORING_CQE_F_MORE_)) { /* multishot: more to come */
		bpf_map_delete_elem(&uring_reqs, &key);
		if (u.sys == FDW_SYS_IO_URING_ACCEPT)
			bpf_map_delete_elem(&uring_multi, &mk);
	}
	/* a ring torn down after its process exited completes in a kworker */
	if (!wanted(bpf_get_current_pid_tgid() >> 32))
		return 0;
	switch (u.sys) {
	case FDW_SYS_IO_URING_CLOSE:
		return emit_simple(FDW_EV_CLOSE, u.sys, res, u.fd, u.ts, 0);
	case FDW_SYS_IO_URING_PIPE:
		return emit_fd_pair(u.sys, res, u.cloexec, (const int *)u.uptr);
	case FDW_SYS_IO_URING_RECVMSG:
		if (res < 0)
			return 0;
		return emit_scm_rights(u.sys, u.uptr, u.cloexec);
	case FDW_SYS_IO_URING_BIND:
	case FDW_SYS_IO_URING_CONNECT:
	case FDW_SYS_IO_URING_LISTEN:
		return emit_sockaddr(u.sys, res, u.fd);
	default:
		return emit_new_fd_path(u.sys, res, u.cloexec);
	}
}

/* ---- call stacks (FDW_EV_USTACK, FDW_EV_UMAP) --------------------------
 *
 * Distro code has no frame pointers (a bpf_get_stack() walk stops inside
 * libc), so like `perf --call-graph=dwarf` the registers and the top of the
 * user stack are copied and userspace unwinds them with DWARF CFI.  To map
 * return addresses to files also after the process has exited, the file
 * mappings are sent along (UMAP), each once per process image.
 */

const volatile bool stacks_default = false;            /* -p / -- CMD: on; -a: off */
const volatile __u32 stack_bytes = FDW_USTACK_DEFAULT; /* <= FDW_USTACK_MAX */
/* Stacks are skipped while more than this much of the ring buffer waits to be
 * read: a slow unwinder must cost call sites, never fd events. */
const volatile __u64 stack_fill_max = 4 << 20;

/* tgid -> 1 on / 0 off: overrides stacks_default (fdwatch top's detail view). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} stack_pids SEC(".maps");

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
} umap_state SEC(".maps");

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

/* Per-CPU scratch: a UMAP record being built, the path assembled right to
 * left (twice the size so masked offsets stay in bounds), and the state of
 * the mapping run being scanned. */
struct umap_scratch {
	struct fdw_umap rec;
	char path[2 * FDW_UMAP_PATH_MAX];
	__u64 run_file; /* struct file * of the current run, 0 = none */
	__u64 run_start, run_end, run_pgoff;
	__u32 run_exec;
	__u32 tgid;
	__u64 gen;
	__u32 seen, err;
	__u64 w_dentry, w_vfsmnt; /* path walk: where it is */
	__u32 w_off, _pad;        /* path walk: the path so far starts at path[w_off] */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct umap_scratch);
} umap_scratch SEC(".maps");

extern int bpf_iter_task_vma_new(struct bpf_iter_task_vma *it, struct task_struct *task,
				 __u64 addr) __weak __ksym;
extern struct vm_area_struct *bpf_iter_task_vma_next(struct bpf_iter_task_vma *it) __weak __ksym;
extern void bpf_iter_task_vma_destroy(struct bpf_iter_task_vma *it) __weak __ksym;

#define VM_EXEC_ 0x4
#define PATH_MASK_ (FDW_UMAP_PATH_MAX - 1)

static __always_inline bool stacks_on(__u32 tgid)
{
	__u8 *v = bpf_map_lookup_elem(&stack_pids, &tgid);

	return v ? *v != 0 : stacks_default;
}

/* The common first 24 bytes (struct fdw_event up to flags). */
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

/* One step of the path walk (bpf_loop callback): a mount crossing or one
 * name prepended.  The walk's state lives in the scratch map so that every
 * step looks alike to the verifier.  1 = stop. */
static long path_step(__u64 i, void *ctx)
{
	__u32 zero = 0;
	struct umap_scratch *s = bpf_map_lookup_elem(&umap_scratch, &zero);
	struct dentry *d, *parent;
	struct vfsmount *vm;
	struct mount *m, *mp;
	__u32 off, len;
	struct qstr q;

	if (!s)
		return 1;
	d = (struct dentry *)s->w_dentry;
	vm = (struct vfsmount *)s->w_vfsmnt;
	off = s->w_off;

	m = (struct mount *)((char *)vm - bpf_core_field_offset(struct mount, mnt));
	if (d == BPF_CORE_READ(vm, mnt_root)) {
		mp = BPF_CORE_READ(m, mnt_parent);
		if (mp == m || !mp)
			return 1;
		s->w_dentry = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		s->w_vfsmnt = (__u64)mp + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	parent = BPF_CORE_READ(d, d_parent);
	if (parent == d || !parent)
		return 1;
	BPF_CORE_READ_INTO(&q, d, d_name);
	len = q.len;
	if (len == 0 || len > 255 || len + 1 > off || off >= FDW_UMAP_PATH_MAX) {
		s->w_off = FDW_UMAP_PATH_MAX; /* does not fit */
		return 1;
	}
	off -= len;
	bpf_probe_read_kernel(&s->path[off & PATH_MASK_], len & 0xff, q.name);
	off -= 1;
	s->path[off & PATH_MASK_] = '/';
	s->w_off = off;
	s->w_dentry = (__u64)parent;
	return 0;
}

/* d_path() for a struct file, which tracepoint programs may not call:
 * walks dentries and mounts up to the root of the mount namespace and
 * writes the path to s->rec.path.  Returns 0, or -1 when it does not fit. */
__noinline int umap_path(__u64 file_addr)
{
	__u32 zero = 0;
	struct umap_scratch *s = bpf_map_lookup_elem(&umap_scratch, &zero);
	struct file *f = (struct file *)file_addr;
	__u32 off, n;

	if (!s || !f)
		return -1;
	s->w_dentry = (__u64)BPF_CORE_READ(f, f_path.dentry);
	s->w_vfsmnt = (__u64)BPF_CORE_READ(f, f_path.mnt);
	s->w_off = FDW_UMAP_PATH_MAX - 1;
	s->path[FDW_UMAP_PATH_MAX - 1] = 0;
	bpf_loop(64, path_step, NULL, 0);
	off = s->w_off;
	n = FDW_UMAP_PATH_MAX - off;
	/* bound the very register passed on (the compiler may copy n otherwise) */
	asm volatile("%0 &= 0x3ff" : "+r"(n));
	if (n < 2 || n > FDW_UMAP_PATH_MAX)
		return -1; /* nothing named, or did not fit */
	bpf_probe_read_kernel(s->rec.path, n, &s->path[off & PATH_MASK_]);
	return 0;
}

/* Sends the run in the scratch if it is executable and new. 0, or -1 when a
 * record was lost (the caller then retries the whole sync later). */
__noinline int umap_flush(void)
{
	__u32 zero = 0;
	struct umap_scratch *s = bpf_map_lookup_elem(&umap_scratch, &zero);
	struct file *f;
	struct umap_key k = {};
	struct inode *inode;
	__u32 dev;
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
	if (umap_path(s->run_file))
		return 0; /* unnameable (too deep): never sent */
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
	struct bpf_iter_task_vma it;
	struct vm_area_struct *vma;
	__u32 zero = 0;
	struct umap_scratch *s = bpf_map_lookup_elem(&umap_scratch, &zero);

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

		s = bpf_map_lookup_elem(&umap_scratch, &zero);
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
	s = bpf_map_lookup_elem(&umap_scratch, &zero);
	if (!s)
		return -1;
	if (umap_flush())
		s->err = 1;
	/* nothing seen: the mmap lock was busy (the iterator only trylocks) */
	return s->seen && !s->err ? 0 : -1;
}

static long vma_end_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	*(__u64 *)data = vma->vm_end;
	return 0;
}

/* Emits the USTACK record for the current call (after any UMAP records it
 * needs); returns the pairing key for the fd record's stack_id, or -1. */
__noinline int ustack_capture(__u32 sys)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct task_struct *task;
	struct umap_state *st, fresh = {};
	struct fdw_ustack *r;
	struct pt_regs regs;
	__u64 mm, exec_vm, sp, env_end, vm_end = 0;
	__u32 n = stack_bytes;
	int key;

	if (!stacks_on(tgid))
		return -1;
#if defined(__TARGET_ARCH_x86)
	task = bpf_get_current_task_btf();
	mm = (__u64)BPF_CORE_READ(task, mm);
	if (!mm)
		return -1; /* kernel thread */
	exec_vm = BPF_CORE_READ(task, mm, exec_vm);
	st = bpf_map_lookup_elem(&umap_state, &tgid);
	if (!st) {
		fresh.mm = mm;
		fresh.gen = bpf_ktime_get_ns();
		bpf_map_update_elem(&umap_state, &tgid, &fresh, BPF_ANY);
		st = bpf_map_lookup_elem(&umap_state, &tgid);
		if (st)
			st->exec_vm = ~0ULL;
	}
	if (st && (st->mm != mm || st->exec_vm != exec_vm)) {
		if (st->mm != mm) {
			st->mm = mm;
			st->gen = bpf_ktime_get_ns();
		}
		/* set first: a thread mapping code meanwhile makes it differ again */
		st->exec_vm = exec_vm;
		if (umap_sync(tgid, st->gen))
			st->exec_vm = ~0ULL; /* retry at the next call */
	}

	if (bpf_probe_read_kernel(&regs, sizeof(regs), (void *)bpf_task_pt_regs(task)))
		return -1;
	if (n > FDW_USTACK_MAX)
		n = FDW_USTACK_MAX;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > stack_fill_max) {
		stat_inc(FDW_STAT_USTACK_LOST);
		return -1;
	}
	r = bpf_ringbuf_reserve(&events, sizeof(*r) - FDW_USTACK_MAX + n, 0);
	if (!r) {
		stat_inc(FDW_STAT_USTACK_LOST);
		return -1;
	}
	head_fill(r, FDW_EV_USTACK, sys, 0);
	r->regs[0] = regs.ax;
	r->regs[1] = regs.dx;
	r->regs[2] = regs.cx;
	r->regs[3] = regs.bx;
	r->regs[4] = regs.si;
	r->regs[5] = regs.di;
	r->regs[6] = regs.bp;
	r->regs[7] = regs.sp;
	r->regs[8] = regs.r8;
	r->regs[9] = regs.r9;
	r->regs[10] = regs.r10;
	r->regs[11] = regs.r11;
	r->regs[12] = regs.r12;
	r->regs[13] = regs.r13;
	r->regs[14] = regs.r14;
	r->regs[15] = regs.r15;
	r->regs[16] = regs.ip;
	sp = regs.sp;
	/* The main thread's stack ends a little above the environment strings:
	 * stop there instead of faulting past the end of the mapping. */
	env_end = BPF_CORE_READ(task, mm, env_end);
	if (sp < env_end && env_end - sp < n)
		n = (env_end - sp) & ~7ULL;
	/* One read of the whole size normally.  Near the top of the stack the
	 * read crosses the end of the mapping: then read up to that end; a page
	 * never touched (or swapped out) fails too: then halve. */
	if (bpf_probe_read_user(r->stack, n, (void *)sp)) {
		r->flags |= FDW_F_TRUNC;
		bpf_find_vma(task, sp, vma_end_cb, &vm_end, 0);
		if (vm_end > sp && vm_end - sp < n)
			n = vm_end - sp;
#pragma clang loop unroll(disable)
		for (int i = 0; i < 6; i++) {
			if (n > FDW_USTACK_MAX)
				n = FDW_USTACK_MAX;
			if (!bpf_probe_read_user(r->stack, n, (void *)sp))
				break;
			n = (n / 2) & ~7U;
			if (n < 256) {
				n = 0;
				break;
			}
		}
	}
	r->stack_len = n;
	r->size = sizeof(*r) - FDW_USTACK_MAX + n;
	r->_pad = 0;
	key = (int)(r->ts_ns & 0x7fffffff);
	stat_inc(FDW_STAT_USTACKS);
	/* the fd record that follows decides about waking the reader */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return key;
#else
	return -1;
#endif
}
