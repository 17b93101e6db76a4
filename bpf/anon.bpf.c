// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Pipes and the calls that return an anonymous-inode fd (eventfd, epoll,
 * timerfd, signalfd, inotify, pidfd, bpf, ...). */
#include "lib/call.h"
#include "lib/pending.h"

HANDLER(pipe)
{
	return emit_fd_pair(ctx, FDW_SYS_PIPE, ret, false, (const int *)c->a[0]);
}

HANDLER(pipe2)
{
	return emit_fd_pair(ctx, FDW_SYS_PIPE2, ret, c->a[1] & O_CLOEXEC_, (const int *)c->a[0]);
}

/* One new fd; close-on-exec when flag bit `bit` of argument `argi` is set. */
#define NEW_FD(name, SYS, argi, bit)                                                     \
	HANDLER(name)                                                                    \
	{                                                                                \
		return emit_new_fd(ctx, SYS, ret, (argi) >= 0 && (c->a[(argi) & 7] & (bit)), false); \
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

/* io_uring, pidfd and bpf fds are always close-on-exec */
HANDLER(io_uring_setup)
{
	return emit_new_fd(ctx, FDW_SYS_IO_URING_SETUP, ret, true, false);
}

HANDLER(pidfd_open)
{
	return emit_new_fd(ctx, FDW_SYS_PIDFD_OPEN, ret, true, false);
}

HANDLER(pidfd_getfd)
{
	/* always close-on-exec; the fd can be anything, files too */
	return emit_new_fd(ctx, FDW_SYS_PIDFD_GETFD, ret, true, true);
}

/* signalfd(fd=-1, ...) creates; signalfd(existing fd) only updates the mask
 * (and fails, EINVAL, when fd is no signalfd): a call, no new fd. */
HANDLER(signalfd)
{
	if ((int)c->a[0] != -1)
		return emit_simple(FDW_EV_CALL, FDW_SYS_SIGNALFD, ret, c->a[0], 0, 0);
	return emit_new_fd(ctx, FDW_SYS_SIGNALFD, ret, false, false);
}

HANDLER(signalfd4)
{
	if ((int)c->a[0] != -1)
		return emit_simple(FDW_EV_CALL, FDW_SYS_SIGNALFD4, ret, c->a[0], 0, 0);
	return emit_new_fd(ctx, FDW_SYS_SIGNALFD4, ret, c->a[3] & O_CLOEXEC_, false);
}

/* bpf(2): only commands that return a new fd. */
HANDLER(bpf)
{
	/* MAP_CREATE 0, PROG_LOAD 5, OBJ_GET 7, PROG_GET_FD_BY_ID 13, MAP_GET_FD_BY_ID 14,
	 * RAW_TRACEPOINT_OPEN 17, BTF_LOAD 18, BTF_GET_FD_BY_ID 19, LINK_CREATE 28,
	 * LINK_GET_FD_BY_ID 30, ENABLE_STATS 32, ITER_CREATE 33, TOKEN_CREATE 36 */
	switch (c->a[0]) {
	case 0: case 5: case 7: case 13: case 14: case 17: case 18: case 19:
	case 28: case 30: case 32: case 33: case 36:
		break;
	default:
		return 0;
	}
	return emit_new_fd(ctx, FDW_SYS_BPF, ret, true, false);
}

/* with LANDLOCK_CREATE_RULESET_VERSION (or _ERRATA) it returns a number, not an fd */
HANDLER(landlock_create_ruleset)
{
	if (c->a[2] & 3)
		return emit_simple(FDW_EV_CALL, FDW_SYS_LANDLOCK_CREATE_RULESET, ret, -1, 0, 0);
	return emit_new_fd(ctx, FDW_SYS_LANDLOCK_CREATE_RULESET, ret, ret >= 0 && fd_cloexec(ret), false);
}

/* seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, ...) */
HANDLER(seccomp)
{
	if (c->a[0] != 1 || !(c->a[1] & 0x8))
		return 0;
	return emit_new_fd(ctx, FDW_SYS_SECCOMP, ret, ret >= 0 && fd_cloexec(ret), false);
}
