// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fds of SCM_RIGHTS control messages, read from a received message: the
 * one scm_collect that recvmsg/recvmmsg (socket.bpf.c) and io_uring's recvmsg
 * (io_uring.bpf.c) share through lib/scm.h. */
#include "lib/call.h"
#include "lib/pending.h"
#include "lib/scm.h"

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

