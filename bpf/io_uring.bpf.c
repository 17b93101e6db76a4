// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * io_uring opens, accepts, creates sockets and pipes, installs fixed files
 * as fds, receives SCM_RIGHTS and closes fds without any of the syscalls
 * the handlers see.  io_uring_submit_req fires after the request's prep (so
 * the operation's arguments are in the request); io_uring_complete gives the
 * result.  A map keyed by request pointer pairs them.  Direct descriptors
 * (file_slot) are not fds and are left out.  Requests with CQE_SKIP_SUCCESS
 * have no completion on success, and multishot recvmsg has its own buffer
 * layout: those mark the process for a re-sync instead.  A rename, of any
 * process, makes the kept path names stale (lib/path.h).
 *
 * Raw tracepoints: io_uring_submit_req(req) (5.19+); io_uring_complete is
 * (ctx, req, user_data, res, cflags, ...) or, on newer kernels, (ctx, req,
 * cqe): userspace reads which from BTF and loads the program that fits.
 */
#include "lib/path.h"
#include "lib/pending.h"
#include "lib/scm.h"

/* opcodes (include/uapi/linux/io_uring.h) */
#define IORING_OP_RECVMSG_ 10
#define IORING_OP_ACCEPT_ 13
#define IORING_OP_CONNECT_ 16
#define IORING_OP_OPENAT_ 18
#define IORING_OP_CLOSE_ 19
#define IORING_OP_OPENAT2_ 28
#define IORING_OP_RENAMEAT_ 35
#define IORING_OP_SOCKET_ 45
#define IORING_OP_FIXED_FD_INSTALL_ 54
#define IORING_OP_BIND_ 56
#define IORING_OP_LISTEN_ 57
#define IORING_OP_PIPE_ 62
#define REQ_F_FIXED_FILE_ 0x1
#define REQ_F_CQE_SKIP_ 0x40
#define IORING_CQE_F_MORE_ 0x2
#define IORING_RECV_MULTISHOT_ 0x2
#define IORING_ACCEPT_MULTISHOT_ 0x1
#define MSG_CMSG_CLOEXEC_ 0x40000000

struct uring_req {
	__u64 ts;   /* submitted: orders a close like a close's entry */
	__u64 uptr; /* pipe: int fds[2]; recvmsg: struct user_msghdr */
	__s32 fd;   /* close, bind, connect, listen: the fd */
	__u16 sys;  /* FDW_SYS_IO_URING_* */
	__u8 cloexec;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct uring_req);
} uring_reqs SEC(".maps");

/* Multishot accept posts its intermediate completions as "aux" CQEs whose
 * tracepoint has no request pointer; they are found by ring and user_data. */
struct uring_multi_key {
	__u64 ring;
	__u64 user_data;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct uring_multi_key);
	__type(value, struct uring_req);
} uring_multi SEC(".maps");

/* What an operation needs remembered until its completion; false when it
 * is none of ours (or a direct descriptor). */
static __always_inline int uring_prep(struct io_kiocb *req, __u8 opcode, struct uring_req *u)
{
	__u32 slot = 0;

	switch (opcode) {
	case IORING_OP_OPENAT_:
	case IORING_OP_OPENAT2_:
		if (!bpf_core_type_exists(struct io_open))
			return -1;
		slot = BPF_CORE_READ((struct io_open *)req, file_slot);
		u->cloexec = !!(BPF_CORE_READ((struct io_open *)req, how.flags) & O_CLOEXEC_);
		u->sys = opcode == IORING_OP_OPENAT_ ? FDW_SYS_IO_URING_OPENAT : FDW_SYS_IO_URING_OPENAT2;
		break;
	case IORING_OP_CLOSE_:
		if (!bpf_core_type_exists(struct io_close))
			return -1;
		slot = BPF_CORE_READ((struct io_close *)req, file_slot);
		u->fd = BPF_CORE_READ((struct io_close *)req, fd);
		u->sys = FDW_SYS_IO_URING_CLOSE;
		break;
	case IORING_OP_ACCEPT_:
		if (!bpf_core_type_exists(struct io_accept))
			return -1;
		slot = BPF_CORE_READ((struct io_accept *)req, file_slot);
		u->cloexec = !!(BPF_CORE_READ((struct io_accept *)req, flags) & SOCK_CLOEXEC_);
		u->sys = FDW_SYS_IO_URING_ACCEPT;
		break;
	case IORING_OP_SOCKET_:
		if (!bpf_core_type_exists(struct io_socket))
			return -1;
		slot = BPF_CORE_READ((struct io_socket *)req, file_slot);
		u->cloexec = !!(BPF_CORE_READ((struct io_socket *)req, flags) & SOCK_CLOEXEC_);
		u->sys = FDW_SYS_IO_URING_SOCKET;
		break;
	case IORING_OP_PIPE_:
		if (!bpf_core_type_exists(struct io_pipe))
			return -1;
		slot = BPF_CORE_READ((struct io_pipe *)req, file_slot);
		u->cloexec = !!(BPF_CORE_READ((struct io_pipe *)req, flags) & O_CLOEXEC_);
		u->uptr = (__u64)BPF_CORE_READ((struct io_pipe *)req, fds);
		u->sys = FDW_SYS_IO_URING_PIPE;
		break;
	case IORING_OP_FIXED_FD_INSTALL_:
		if (!bpf_core_type_exists(struct io_fixed_install))
			return -1;
		u->cloexec = !!(BPF_CORE_READ((struct io_fixed_install *)req, o_flags) & O_CLOEXEC_);
		u->sys = FDW_SYS_IO_URING_FIXED_FD_INSTALL;
		break;
	case IORING_OP_RECVMSG_:
		if (!bpf_core_type_exists(struct io_sr_msg))
			return -1;
		if (BPF_CORE_READ((struct io_sr_msg *)req, flags) & IORING_RECV_MULTISHOT_)
			return -1;
		u->uptr = (__u64)BPF_CORE_READ((struct io_sr_msg *)req, umsg);
		u->cloexec = !!(BPF_CORE_READ((struct io_sr_msg *)req, msg_flags) & MSG_CMSG_CLOEXEC_);
		u->sys = FDW_SYS_IO_URING_RECVMSG;
		break;
	default:
		return 0;
	}
	return slot ? 0 : 1; /* a direct descriptor is not an fd */
}

/* -1: an operation we cannot follow; 0: none of ours; 1: remembered. */
SEC("raw_tp/io_uring_submit_req")
int uring_submit(struct bpf_raw_tracepoint_args *ctx)
{
	struct io_kiocb *req = (struct io_kiocb *)ctx->args[0];
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 key = (__u64)req;
	__u64 rflags = BPF_CORE_READ(req, flags);
	__u8 opcode = BPF_CORE_READ(req, opcode);
	struct uring_req u = {};
	int r;

	if (opcode == IORING_OP_RENAMEAT_) { /* of any process, like sys_rename* */
		names_changed();
		u.sys = FDW_SYS_NONE; /* its completion says so once more (uring_done) */
		bpf_map_update_elem(&uring_reqs, &key, &u, BPF_ANY);
		return 0;
	}
	if (!wanted(tgid))
		return 0;
	u.ts = bpf_ktime_get_ns();
	u.fd = -1;
	if (opcode == IORING_OP_BIND_ || opcode == IORING_OP_CONNECT_ || opcode == IORING_OP_LISTEN_) {
		/* with a fixed file the fd is an index; with no completion on
		 * success nothing of the fd table changes anyway */
		if ((rflags & REQ_F_FIXED_FILE_) || (rflags & REQ_F_CQE_SKIP_))
			goto forget;
		u.fd = BPF_CORE_READ(req, cqe.fd); /* sqe->fd until completion */
		u.sys = opcode == IORING_OP_BIND_ ? FDW_SYS_IO_URING_BIND
			: opcode == IORING_OP_CONNECT_ ? FDW_SYS_IO_URING_CONNECT
						     : FDW_SYS_IO_URING_LISTEN;
		bpf_map_update_elem(&uring_reqs, &key, &u, BPF_ANY);
		return 0;
	}
	r = uring_prep(req, opcode, &u);
	if (r < 0)
		goto untracked;
	if (r == 0)
		goto forget;
	if (rflags & REQ_F_CQE_SKIP_)
		goto untracked;
	bpf_map_update_elem(&uring_reqs, &key, &u, BPF_ANY);
	if (u.sys == FDW_SYS_IO_URING_ACCEPT && bpf_core_field_exists(struct io_accept, iou_flags) &&
	    (BPF_CORE_READ((struct io_accept *)req, iou_flags) & IORING_ACCEPT_MULTISHOT_)) {
		struct uring_multi_key mk = {(__u64)BPF_CORE_READ(req, ctx), BPF_CORE_READ(req, cqe.user_data)};

		bpf_map_update_elem(&uring_multi, &mk, &u, BPF_ANY);
	}
	return 0;
untracked:
	mark_resync(tgid, FDW_STAT_UNTRACKED);
forget:
	/* request memory is recycled: never let an old entry match this one */
	bpf_map_delete_elem(&uring_reqs, &key);
	return 0;
}

/* The record of a completed operation. */
static __always_inline int uring_emit(void *ctx, const struct uring_req *u, long res)
{
	switch (u->sys) {
	case FDW_SYS_IO_URING_CLOSE:
		return emit_simple(FDW_EV_CLOSE, u->sys, res, u->fd, u->ts, 0);
	case FDW_SYS_IO_URING_PIPE:
		return emit_fd_pair(ctx, u->sys, res, u->cloexec, (const int *)u->uptr);
	case FDW_SYS_IO_URING_RECVMSG:
		if (res < 0)
			return 0;
		return emit_scm(ctx, u->sys, u->uptr, 1, u->cloexec);
	case FDW_SYS_IO_URING_BIND:
	case FDW_SYS_IO_URING_CONNECT:
	case FDW_SYS_IO_URING_LISTEN:
		return emit_sockaddr(ctx, u->sys, res, u->fd);
	default:
		return emit_new_fd(ctx, u->sys, res, u->cloexec, true);
	}
}

/* A completion: key = request (0 for an aux CQE), mk = (ring, user_data). */
static __always_inline int uring_done(void *ctx, __u64 key, struct uring_multi_key *mk, long res,
				      __u32 cflags)
{
	struct uring_req *up;
	struct uring_req u;

	if (!key) { /* an aux CQE: only multishot accept's are ours */
		up = bpf_map_lookup_elem(&uring_multi, mk);
		if (!up || !wanted(bpf_get_current_pid_tgid() >> 32))
			return 0;
		u = *up;
		return emit_new_fd(ctx, u.sys, res, u.cloexec, true);
	}
	up = bpf_map_lookup_elem(&uring_reqs, &key);
	if (!up)
		return 0;
	u = *up;
	if (!(cflags & IORING_CQE_F_MORE_)) { /* multishot: more to come */
		bpf_map_delete_elem(&uring_reqs, &key);
		if (u.sys == FDW_SYS_IO_URING_ACCEPT)
			bpf_map_delete_elem(&uring_multi, mk);
	}
	if (u.sys == FDW_SYS_NONE) { /* a rename, done now */
		names_changed();
		return 0;
	}
	/* a ring torn down after its process exited completes in a kworker */
	if (!wanted(bpf_get_current_pid_tgid() >> 32))
		return 0;
	return uring_emit(ctx, &u, res);
}

/* io_uring_complete(ctx, req, user_data, res, cflags, extra1, extra2) */
SEC("raw_tp/io_uring_complete")
int uring_complete_fields(struct bpf_raw_tracepoint_args *ctx)
{
	struct uring_multi_key mk = {ctx->args[0], ctx->args[2]};

	return uring_done(ctx, ctx->args[1], &mk, (int)ctx->args[3], ctx->args[4]);
}

/* io_uring_complete(ctx, req, cqe) */
SEC("raw_tp/io_uring_complete")
int uring_complete_cqe(struct bpf_raw_tracepoint_args *ctx)
{
	struct io_uring_cqe *cqe = (struct io_uring_cqe *)ctx->args[2];
	struct uring_multi_key mk = {ctx->args[0], BPF_CORE_READ(cqe, user_data)};

	return uring_done(ctx, ctx->args[1], &mk, BPF_CORE_READ(cqe, res), BPF_CORE_READ(cqe, flags));
}
