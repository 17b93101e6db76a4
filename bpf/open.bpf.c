// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Calls that open a file (or a mount, or a message queue) by name. */
#include "lib/call.h"
#include "lib/pending.h"

HANDLER(open)
{
	return emit_open_path(ctx, FDW_SYS_OPEN, ret, c->a[1] & O_CLOEXEC_, (const char *)c->a[0], c->a[1]);
}

HANDLER(openat)
{
	return emit_open_path(ctx, FDW_SYS_OPENAT, ret, c->a[2] & O_CLOEXEC_, (const char *)c->a[1], c->a[2]);
}

HANDLER(openat2)
{
	/* a[2] is struct open_how *: flags is its first u64 */
	__u64 flags = 0;

	bpf_probe_read_user(&flags, sizeof(flags), (void *)c->a[2]);
	return emit_open_path(ctx, FDW_SYS_OPENAT2, ret, flags & O_CLOEXEC_, (const char *)c->a[1], flags);
}

HANDLER(creat)
{
	return emit_open_path(ctx, FDW_SYS_CREAT, ret, false, (const char *)c->a[0], 0);
}

HANDLER(open_by_handle_at)
{
	return emit_open_path(ctx, FDW_SYS_OPEN_BY_HANDLE_AT, ret, c->a[2] & O_CLOEXEC_, NULL, c->a[2]);
}

HANDLER(mq_open)
{
	return emit_new_fd(ctx, FDW_SYS_MQ_OPEN, ret, c->a[1] & O_CLOEXEC_, true);
}

/* O_PATH-like fds of mounts: /proc shows their path */
HANDLER(open_tree)
{
	return emit_new_fd(ctx, FDW_SYS_OPEN_TREE, ret, c->a[2] & O_CLOEXEC_, true);
}

HANDLER(open_tree_attr)
{
	return emit_new_fd(ctx, FDW_SYS_OPEN_TREE_ATTR, ret, c->a[2] & O_CLOEXEC_, true);
}

HANDLER(fsmount)
{
	return emit_new_fd(ctx, FDW_SYS_FSMOUNT, ret, c->a[1] & 0x1 /* FSMOUNT_CLOEXEC */, true);
}

HANDLER(fsopen)
{
	return emit_new_fd(ctx, FDW_SYS_FSOPEN, ret, c->a[1] & 0x1 /* FSOPEN_CLOEXEC */, false);
}

HANDLER(fspick)
{
	return emit_new_fd(ctx, FDW_SYS_FSPICK, ret, c->a[2] & 0x1 /* FSPICK_CLOEXEC */, false);
}
