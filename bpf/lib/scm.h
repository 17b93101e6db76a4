/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* fds received through SCM_RIGHTS (recvmsg, recvmmsg, io_uring recvmsg). */
#ifndef FDW_SCM_H
#define FDW_SCM_H

#include "lib/pending.h"

struct user_msghdr_ {
	void *msg_name;
	int msg_namelen;
	void *msg_iov;
	__u64 msg_iovlen;
	void *msg_control;
	__u64 msg_controllen;
	unsigned int msg_flags;
};

#define SOL_SOCKET_ 1
#define SCM_RIGHTS_ 1
#define MMSGHDR_SIZE_ 64 /* struct mmsghdr { struct user_msghdr; unsigned int msg_len; } */

/* Queues the fds of the SCM_RIGHTS control messages of a received message
 * (at umsg, after the call) in this CPU's pending record; 0 when some did not
 * fit.  A global function (scm.bpf.c): verified once per program, not
 * once per message of a recvmmsg. */
int scm_collect(__u64 umsg);

/* Emits the queued fds of `msgs` messages at umsg (one for recvmsg). */
static __always_inline int emit_scm(void *ctx, __u16 sys, __u64 umsg, int msgs, bool cloexec)
{
	struct pending *p = pending_begin(FDW_EV_OPEN, sys, true);
	bool complete = true;

	if (!p)
		return 0;
	if (cloexec)
		p->rec.h.flags |= FDW_F_CLOEXEC;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 8; i++) {
		if (i >= msgs)
			break;
		if (!scm_collect(umsg + i * MMSGHDR_SIZE_))
			complete = false;
	}
	if (!complete || msgs > 8) /* more than a record chain can carry */
		mark_resync(bpf_get_current_pid_tgid() >> 32, FDW_STAT_UNTRACKED);
	if (!p->scm_n)
		return 0;
	p->want_stack = 1;
	return pending_finish(ctx, p);
}

#endif /* FDW_SCM_H */
