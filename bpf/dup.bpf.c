// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Calls that duplicate an fd or change its close-on-exec flag. */
#include "lib/call.h"
#include "lib/pending.h"

HANDLER(dup)
{
	return emit_dup(ctx, FDW_SYS_DUP, ret, c->a[0], false);
}

HANDLER(dup2)
{
	return emit_dup(ctx, FDW_SYS_DUP2, ret, c->a[0], false);
}

HANDLER(dup3)
{
	return emit_dup(ctx, FDW_SYS_DUP3, ret, c->a[0], c->a[2] & O_CLOEXEC_);
}

#define F_DUPFD_ 0
#define F_SETFD_ 2
#define F_DUPFD_CLOEXEC_ 1030
#define FD_CLOEXEC_ 1

HANDLER(fcntl)
{
	long cmd = c->a[1];

	if (cmd == F_SETFD_)
		return emit_simple(FDW_EV_CLOEXEC, FDW_SYS_FCNTL, ret, c->a[0], (c->a[2] & FD_CLOEXEC_) ? 1 : 0, 0);
	if (cmd != F_DUPFD_ && cmd != F_DUPFD_CLOEXEC_)
		return 0;
	return emit_dup(ctx, FDW_SYS_FCNTL, ret, c->a[0], cmd == F_DUPFD_CLOEXEC_);
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
	fmt = BPF_CORE_READ(inode, i_mode) & S_IFMT_;
	magic = BPF_CORE_READ(inode, i_sb, s_magic);
	if (cmd == NS_GET_USERNS_ || cmd == NS_GET_PARENT_)
		return magic == NSFS_MAGIC_;
	if (cmd == SIOCGSKNS_)
		return fmt == S_IFSOCK_;
	if (cmd == USERFAULTFD_IOC_NEW_)
		return fmt == S_IFCHR_; /* /dev/userfaultfd */
	/* PIDFD_GET_*_NAMESPACE: a pidfd (pidfs, or an anon inode before 6.9) */
	if (magic == PIDFS_MAGIC_)
		return true;
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(f, f_path.dentry, d_name.name));
	return name[0] == '[' && name[1] == 'p' && name[2] == 'i' && name[3] == 'd' && name[4] == 'f' &&
	       name[5] == 'd' && name[6] == ']';
}

HANDLER(ioctl)
{
	unsigned int cmd = c->a[1];

	if (cmd == FIOCLEX_ || cmd == FIONCLEX_)
		return emit_simple(FDW_EV_CLOEXEC, FDW_SYS_IOCTL, ret, c->a[0], cmd == FIOCLEX_ ? 1 : 0, 0);
	/* on a bad fd these cannot be told from another driver's command */
	if (ioctl_makes_fd(cmd) && ioctl_makes_fd_on(cmd, c->a[0]))
		return emit_new_fd(ctx, FDW_SYS_IOCTL, ret, ret >= 0 && fd_cloexec(ret), true);
	return 0;
}
