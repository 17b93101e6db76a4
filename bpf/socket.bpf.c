// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Sockets: creation, accept, addresses, and fds received through SCM_RIGHTS. */
#include "lib/call.h"
#include "lib/pending.h"
#include "lib/scm.h"

HANDLER(socket)
{
	struct pending *p = pending_begin(FDW_EV_OPEN, FDW_SYS_SOCKET, false);

	if (!p)
		return 0;
	p->rec.h.ret = ret;
	if (c->a[1] & SOCK_CLOEXEC_)
		p->rec.h.flags |= FDW_F_CLOEXEC;
	/* what was asked for, also when it failed */
	p->rec.h.sock.family = c->a[0];
	p->rec.h.sock.type = c->a[1] & 0xf;
	p->rec.h.sock.protocol = c->a[2];
	if (ret >= 0) {
		fill_file(&p->rec.h, ret, NULL);
		p->want_stack = 1;
	}
	return pending_finish(ctx, p);
}

HANDLER(socketpair)
{
	return emit_fd_pair(ctx, FDW_SYS_SOCKETPAIR, ret, c->a[1] & SOCK_CLOEXEC_, (const int *)c->a[3]);
}

HANDLER(accept)
{
	return emit_new_fd(ctx, FDW_SYS_ACCEPT, ret, false, true);
}

HANDLER(accept4)
{
	return emit_new_fd(ctx, FDW_SYS_ACCEPT4, ret, c->a[3] & SOCK_CLOEXEC_, true);
}

HANDLER(bind)
{
	return emit_sockaddr(ctx, FDW_SYS_BIND, ret, c->a[0]);
}

HANDLER(connect)
{
	return emit_sockaddr(ctx, FDW_SYS_CONNECT, ret, c->a[0]);
}

HANDLER(listen)
{
	return emit_sockaddr(ctx, FDW_SYS_LISTEN, ret, c->a[0]);
}

#define MSG_CMSG_CLOEXEC_ 0x40000000

HANDLER(recvmsg)
{
	if (ret < 0)
		return 0;
	return emit_scm(ctx, FDW_SYS_RECVMSG, c->a[1], 1, c->a[2] & MSG_CMSG_CLOEXEC_);
}

HANDLER(recvmmsg)
{
	if (ret <= 0)
		return 0;
	return emit_scm(ctx, FDW_SYS_RECVMMSG, c->a[1], ret, c->a[3] & MSG_CMSG_CLOEXEC_);
}
