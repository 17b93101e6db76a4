// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Calls that destroy fds. */
#include "lib/call.h"
#include "lib/pending.h"

HANDLER(close)
{
	/* close() releases the fd even when it reports EINTR/EIO; only EBADF
	 * means nothing happened.  The aggregator gets the errno and decides. */
	struct pending *p = pending_begin(FDW_EV_CLOSE, FDW_SYS_CLOSE, false);

	if (!p)
		return 0;
	p->rec.h.ret = ret;
	p->rec.h.fd2 = c->a[0];
	/* Records are written at return: with threads, another thread may have
	 * got this fd number (and written its record) before ours.  Say so. */
	if (ret == 0 && fdt_shared() && fd_file(c->a[0]))
		p->rec.h.flags |= FDW_F_FD_REUSED;
	output(&p->rec, 0);
	return 0;
}

/* Also when it fails (EINVAL): every call is counted; the aggregator
 * applies only those that succeeded. */
HANDLER(close_range)
{
	return emit_simple(FDW_EV_CLOSE_RANGE, FDW_SYS_CLOSE_RANGE, ret, (int)c->a[0], (__s64)(__u32)c->a[1], c->a[2]);
}
