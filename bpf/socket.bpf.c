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

/* ---- SCM_RIGHTS -------------------------------------------------------- */

/* Headers and fds are read straight from user memory: no variable indexing
 * into buffers. */
__noinline int scm_collect(__u64 umsg)
{
	struct pending *p = pending_get();
	struct user_msghdr_ msg;
	__u64 off = 0, len;

	if (!p || bpf_probe_read_user(&msg, sizeof(msg), (void *)umsg))
		return 1;
	/* after the call msg_controllen is the length the kernel wrote */
	len = msg.msg_controllen;
	if (!msg.msg_control || len < 16)
		return 1;
#pragma clang loop unroll(disable)
	for (int c = 0; c < 4; c++) {
		struct { __u64 len; int level; int type; } h;
		__u32 n, i;

		if (off + 16 > len)
			break;
		if (bpf_probe_read_user(&h, sizeof(h), (char *)msg.msg_control + off))
			break;
		if (h.len < 16 || h.len > len - off)
			break;
		if (h.level == SOL_SOCKET_ && h.type == SCM_RIGHTS_) {
			n = (h.len - 16) / 4;
#pragma clang loop unroll(disable)
			for (i = 0; i < FDW_SCM_QUEUE; i++) {
				__u32 q = p->scm_n;

				if (i >= n)
					break;
				if (q >= FDW_SCM_QUEUE)
					return 0;
				/* bound the very register used as the index */
				asm volatile("%0 &= 31" : "+r"(q));
				if (bpf_probe_read_user(&p->scm_fds[q], 4, (char *)msg.msg_control + off + 16 + i * 4))
					break;
				p->scm_n = q + 1;
			}
			if (i < n)
				return 0;
		}
		off += (h.len + 7) & ~7ULL;
	}
	return 1;
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
