/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the kernel installed at an fd: the struct file, its inode and dentry
 * name, socket endpoints.  Every read is a CO-RE probe read, so the same code
 * verifies on every kernel from 5.15 on (no trusted-pointer loads, no kfuncs).
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

/* The current task's fd table. */
static __always_inline struct fdtable *cur_fdt(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, files, fdt);
}

/* The struct file at fd in the current task's table, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	struct fdtable *fdt = cur_fdt();
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
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
	if (family == AF_INET_) {
		BPF_CORE_READ_INTO(&e->sock.laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(&e->sock.raddr, sk, __sk_common.skc_daddr);
	} else if (family == AF_INET6_) {
		BPF_CORE_READ_INTO(&e->sock.laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->sock.raddr, sk, __sk_common.skc_v6_daddr);
	}
	e->flags |= FDW_F_HAS_SOCK;
}

/* Mode, inode number and dentry name (and socket endpoints) of file f. */
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
	if ((e->mode & S_IFMT_) == S_IFSOCK_)
		fill_sock(e, f);
	return f;
}

/* The same for the file now at fd. */
static __always_inline struct file *fill_file(struct fdw_event *e, int fd)
{
	return fill_file_f(e, fd_file(fd));
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
