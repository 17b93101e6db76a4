/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the kernel installed at an fd: the struct file, its inode and dentry
 * name, socket endpoints.  Every read of a file is a CO-RE probe read, so the
 * same code verifies on every kernel from 5.10 on (no trusted-pointer loads,
 * no kfuncs); the current task's fields are plain loads where the kernel has
 * bpf_get_current_task_btf (has_task_btf), probe reads elsewhere.
 */
#ifndef FDW_FILE_H
#define FDW_FILE_H

#include "lib/record.h"

#include <bpf/bpf_core_read.h>

#define S_IFMT_ 0170000
#define S_IFSOCK_ 0140000
#define S_IFIFO_ 0010000
#define S_IFCHR_ 0020000
#define PIDFS_MAGIC_ 0x50494446
#define NSFS_MAGIC_ 0x6e736673
#define AF_UNIX_ 1
#define AF_INET_ 2
#define AF_INET6_ 10
#define O_CLOEXEC_ 02000000
#define SOCK_CLOEXEC_ 02000000

/* A field of the `type` object at ptr, taken from blk (the object's first
 * sizeof(blk) bytes, copied by one probe read; ok: that read worked) when the
 * field lies there, else read on its own.  Offsets are CO-RE relocated
 * constants, so the verifier keeps only one of the two ways. */
#define BLK_FIELD(blk, ok, ptr, type, field)                                                    \
	({                                                                                      \
		union {                                                                         \
			typeof(((type *)0)->field) v;                                           \
			__u8 b[sizeof(((type *)0)->field)];                                     \
		} __u = {};                                                                     \
		const __u64 __off = bpf_core_field_offset(type, field);                        \
		if ((ok) && __off + sizeof(__u) <= sizeof(blk))                                 \
			__builtin_memcpy(__u.b, __builtin_assume_aligned((char *)(blk) + __off, \
									 __alignof__(__u.v)),   \
					 sizeof(__u.b));                                        \
		else                                                                            \
			bpf_core_read(__u.b, sizeof(__u.b), &((type *)(ptr))->field);          \
		__u.v;                                                                          \
	})

static __always_inline struct file_blocks *blocks_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&file_blocks, &zero);
}

/* Copies the first sizeof(blk) bytes of the object at ptr; true when it worked. */
#define BLK_READ(blk, ptr) (bpf_probe_read_kernel((blk), sizeof(blk), (ptr)) == 0)

/* The current task: its BTF pointer with has_task_btf, else a plain
 * address for probe reads.  TASK_READ(ptr, a, b) reads ptr->a->b of an
 * object reached from it, with plain loads or probe reads alike. */
static __always_inline struct task_struct *cur_task(void)
{
	if (has_task_btf)
		return bpf_get_current_task_btf();
	return (struct task_struct *)bpf_get_current_task();
}

#define TASK_READ(ptr, ...) (has_task_btf ? ___arrow(ptr, __VA_ARGS__) : BPF_CORE_READ(ptr, __VA_ARGS__))

/* The current task's fd table. */
static __always_inline struct fdtable *cur_fdt(void)
{
	return TASK_READ(cur_task(), files, fdt);
}

/* Whether other tasks (threads, CLONE_FILES children) use the current
 * task's fd table too. */
static __always_inline bool fdt_shared(void)
{
	return TASK_READ(cur_task(), files, count.counter) != 1;
}

/* The struct file at fd in the current task's table, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	struct fdtable *fdt = cur_fdt();
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd < 0 || (unsigned int)fd >= TASK_READ(fdt, max_fds))
		return NULL;
	fds = TASK_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[(unsigned int)fd]);
	return f;
}

/* Close-on-exec bit of fd in the current task's table: for calls whose
 * flags do not say (or always set it). */
static __always_inline bool fd_cloexec(int fd)
{
	struct fdtable *fdt = cur_fdt();
	unsigned long word = 0, *coe;

	if (!fdt || fd < 0)
		return false;
	coe = TASK_READ(fdt, close_on_exec);
	bpf_probe_read_kernel(&word, sizeof(word), &coe[(unsigned int)fd / 64]);
	return (word >> ((unsigned int)fd % 64)) & 1;
}

static __always_inline void fill_sock(struct fdw_event *e, struct socket *sock, struct file_blocks *b)
{
	struct sock *sk;
	bool ook, kok;
	__u16 family;

	if (!sock)
		return;
	ook = BLK_READ(b->socket, sock);
	sk = BLK_FIELD(b->socket, ook, sock, struct socket, sk);
	e->sock.type = BLK_FIELD(b->socket, ook, sock, struct socket, type);
	if (!sk)
		return;
	kok = BLK_READ(b->sock, sk);
	family = BLK_FIELD(b->sock, kok, sk, struct sock, __sk_common.skc_family);
	e->sock.family = family;
	e->sock.protocol = BPF_CORE_READ(sk, sk_protocol);
	e->sock.state = BLK_FIELD(b->sock, kok, sk, struct sock, __sk_common.skc_state);
	e->sock.lport = BLK_FIELD(b->sock, kok, sk, struct sock, __sk_common.skc_num);
	e->sock.rport = __builtin_bswap16(BLK_FIELD(b->sock, kok, sk, struct sock, __sk_common.skc_dport));
	if (family == AF_INET_) {
		__u32 l = BLK_FIELD(b->sock, kok, sk, struct sock, __sk_common.skc_rcv_saddr);
		__u32 r = BLK_FIELD(b->sock, kok, sk, struct sock, __sk_common.skc_daddr);

		__builtin_memcpy(e->sock.laddr, &l, 4);
		__builtin_memcpy(e->sock.raddr, &r, 4);
	} else if (family == AF_INET6_) {
		BPF_CORE_READ_INTO(&e->sock.laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->sock.raddr, sk, __sk_common.skc_v6_daddr);
	}
	e->flags |= FDW_F_HAS_SOCK;
}

/* Mode, inode number and dentry name (and socket endpoints) of file f;
 * ff (may be NULL) gets what naming it takes. */
static __always_inline struct file *fill_file_f(struct fdw_event *e, struct file *f, struct file_facts *ff)
{
	struct file_blocks *b = blocks_get();
	struct super_block *sb;
	struct inode *inode;
	struct dentry *d;
	struct qstr name;
	bool fok, iok, dok;
	__u64 magic;

	if (!f || !b)
		return NULL;
	fok = BLK_READ(b->file, f);
	inode = BLK_FIELD(b->file, fok, f, struct file, f_inode);
	d = BLK_FIELD(b->file, fok, f, struct file, f_path.dentry);
	iok = BLK_READ(b->inode, inode);
	e->mode = BLK_FIELD(b->inode, iok, inode, struct inode, i_mode);
	e->ino = BLK_FIELD(b->inode, iok, inode, struct inode, i_ino);
	sb = BLK_FIELD(b->inode, iok, inode, struct inode, i_sb);
	magic = BPF_CORE_READ(sb, s_magic);
	dok = BLK_READ(b->dentry, d);
	name = BLK_FIELD(b->dentry, dok, d, struct dentry, d_name);
	if (magic == PIDFS_MAGIC_) /* pidfs (6.9+) dentries are named "/"; /proc shows anon_inode:[pidfd] */
		__builtin_memcpy(e->name, "[pidfd]", 8);
	else
		bpf_probe_read_kernel_str(e->name, sizeof(e->name), name.name);
	e->flags |= FDW_F_HAS_FILE;
	if (ff) {
		struct dentry *parent = BLK_FIELD(b->dentry, dok, d, struct dentry, d_parent);

		ff->dentry = (__u64)d;
		ff->mnt = (__u64)BLK_FIELD(b->file, fok, f, struct file, f_path.mnt);
		ff->magic = magic;
		ff->d_op = (__u64)BLK_FIELD(b->dentry, dok, d, struct dentry, d_op);
		ff->inode = (__u64)inode;
		ff->parent = (__u64)parent;
		ff->hash_len = name.hash_len;
		ff->unhashed = d != parent && !BLK_FIELD(b->dentry, dok, d, struct dentry, d_hash.pprev);
	}
	if ((e->mode & S_IFMT_) == S_IFSOCK_)
		fill_sock(e, BLK_FIELD(b->file, fok, f, struct file, private_data), b);
	return f;
}

/* The same for the file now at fd. */
static __always_inline struct file *fill_file(struct fdw_event *e, int fd, struct file_facts *ff)
{
	return fill_file_f(e, fd_file(fd), ff);
}

/* Unix socket path: own bound address, else the peer's (a connected client;
 * then arg2 = 1).  arg = the path's length (abstract names contain NULs). */
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
		e->h.arg2 = 1;
	}
	len = BPF_CORE_READ(addr, len);
	/* name[0] is a sockaddr_un: 2 bytes of family, then the path */
	if (len > 2) {
		__u64 n = len - 2;

		if (n > FDW_PATH_MAX - 1)
			n = FDW_PATH_MAX - 1;
		/* keep the verifier's bound on the very register passed on */
		asm volatile("%0 &= 0xff" : "+r"(n));
		bpf_probe_read_kernel(e->path, n, (char *)&addr->name[0] + 2);
		e->path[n & 0xff] = 0;
		e->h.arg = n;
	}
}

/* Whether /proc shows this file by path (not pipe:[..], socket:[..], anon_inode:..). */
static __always_inline bool has_path(const struct fdw_event *e)
{
	__u32 fmt = e->mode & S_IFMT_;

	if (fmt == S_IFSOCK_ || fmt == 0)
		return false;
	if (fmt == S_IFIFO_ && e->name[0] == 0) /* pipefs */
		return false;
	return true;
}

#endif /* FDW_FILE_H */
