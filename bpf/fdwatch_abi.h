/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fdwatch kernel/user ABI: the ONE definition of every record and constant
 * that crosses the ring buffer or lives in a shared map.  Included by the BPF
 * side (after vmlinux.h) and by the C++ decoder, which static_asserts the
 * layout.  Never copy these definitions elsewhere.
 *
 * Compatibility rule: records only grow at the end; `size` tells the reader
 * how many bytes the producer wrote.
 */
#ifndef FDWATCH_ABI_H
#define FDWATCH_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bounded copies. */
#define FDW_PATH_MAX 256 /* user-supplied path of an open, unix socket path, exec filename */
#define FDW_NAME_MAX 32  /* dentry name of the new file ("[eventfd]", "pipe:", "memfd:x") or comm */

/* Record types (fdw_event.type). */
enum fdw_ev_type {
	FDW_EV_OPEN = 1,     /* an fd-creating call returned: ret = fd or -errno; fd2 = second fd */
	FDW_EV_CLOSE = 2,    /* close(fd2) returned ret (0 or -errno); io_uring closes: arg =
			      * bpf_ktime_get_ns() at submission (an fd another thread opened
			      * after that cannot be the one closed), else 0 */
	FDW_EV_CLOSE_RANGE = 3, /* close_range(lo=fd2, hi=arg, flags=arg2) returned ret (0 or -errno) */
	FDW_EV_DUP = 4,      /* dup/dup2/dup3/F_DUPFD*: ret = new fd, fd2 = old fd */
	FDW_EV_CLOEXEC = 5,  /* fcntl F_SETFD / ioctl FIOCLEX/FIONCLEX returned ret (0 or -errno):
			      * fd2 = fd, arg = 1 set / 0 clear */
	FDW_EV_FORK = 6,     /* new process: tgid = parent, ret = child tgid, flags FDW_F_SHARED_FILES */
	FDW_EV_EXEC = 7,     /* execve/execveat succeeded: name = new comm, path = filename */
	FDW_EV_EXIT = 8,     /* last thread of tgid exited: arg = exit code */
	FDW_EV_SOCKADDR = 9, /* bind/connect/listen on fd2 returned ret: sock = addresses after the
			      * call (ret 0 or -EINPROGRESS); other -errno: nothing described */
	FDW_EV_LIMIT = 10,   /* setrlimit/prlimit64 changed RLIMIT_NOFILE of tgid=ret: arg = soft, arg2 = hard */
	FDW_EV_USTACK = 11,  /* user registers + top of the user stack: struct fdw_ustack */
	FDW_EV_RENAME = 12,  /* the main thread of tgid=ret took a new comm (prctl PR_SET_NAME,
			      * /proc/PID/comm, exec): name = the new comm */
	FDW_EV_CALL = 13,    /* a traced call that created, closed and changed no fd (signalfd on an
			      * existing signalfd, a landlock ABI version query): ret = result,
			      * fd2 = the fd it named or -1.  Counted, nothing else. */
	/* 14..15 are left to fd events; the call-stack side channel continues at 16. */
	FDW_EV_UMAP = 16,    /* one mapped ELF file of a process: struct fdw_umap */
	FDW_EV_PYSTACK = 17, /* CPython frames of the calling thread: struct fdw_pystack */
	FDW_EV_PYCODE = 18,  /* one CPython code object: struct fdw_pycode */
};

/* Syscall ids (fdw_event.sys): fdwatch's own numbering, stable across arches. */
enum fdw_sys {
	FDW_SYS_NONE = 0,
	FDW_SYS_OPEN, FDW_SYS_OPENAT, FDW_SYS_OPENAT2, FDW_SYS_CREAT, FDW_SYS_OPEN_BY_HANDLE_AT,
	FDW_SYS_SOCKET, FDW_SYS_SOCKETPAIR, FDW_SYS_ACCEPT, FDW_SYS_ACCEPT4,
	FDW_SYS_DUP, FDW_SYS_DUP2, FDW_SYS_DUP3, FDW_SYS_FCNTL,
	FDW_SYS_PIPE, FDW_SYS_PIPE2, FDW_SYS_EVENTFD, FDW_SYS_EVENTFD2,
	FDW_SYS_EPOLL_CREATE, FDW_SYS_EPOLL_CREATE1, FDW_SYS_TIMERFD_CREATE,
	FDW_SYS_SIGNALFD, FDW_SYS_SIGNALFD4, FDW_SYS_INOTIFY_INIT, FDW_SYS_INOTIFY_INIT1,
	FDW_SYS_FANOTIFY_INIT, FDW_SYS_MEMFD_CREATE, FDW_SYS_MEMFD_SECRET,
	FDW_SYS_PIDFD_OPEN, FDW_SYS_PIDFD_GETFD, FDW_SYS_PERF_EVENT_OPEN, FDW_SYS_BPF,
	FDW_SYS_USERFAULTFD, FDW_SYS_IO_URING_SETUP, FDW_SYS_OPEN_TREE, FDW_SYS_FSOPEN,
	FDW_SYS_FSMOUNT, FDW_SYS_FSPICK, FDW_SYS_RECVMSG, FDW_SYS_RECVMMSG,
	FDW_SYS_CLOSE, FDW_SYS_CLOSE_RANGE, FDW_SYS_EXECVE, FDW_SYS_EXECVEAT,
	FDW_SYS_IOCTL, FDW_SYS_BIND, FDW_SYS_CONNECT, FDW_SYS_LISTEN,
	FDW_SYS_PRLIMIT64, FDW_SYS_SETRLIMIT,
	FDW_SYS_FORK_EVENT, /* sched_process_fork */
	FDW_SYS_EXIT_EVENT, /* sched_process_exit */
	/* io_uring operations (io_uring_submit_req/io_uring_complete tracepoints) */
	FDW_SYS_IO_URING_OPENAT, FDW_SYS_IO_URING_OPENAT2, FDW_SYS_IO_URING_CLOSE,
	FDW_SYS_IO_URING_ACCEPT, FDW_SYS_IO_URING_SOCKET, FDW_SYS_IO_URING_PIPE,
	FDW_SYS_IO_URING_FIXED_FD_INSTALL, FDW_SYS_IO_URING_RECVMSG, FDW_SYS_IO_URING_BIND,
	FDW_SYS_IO_URING_CONNECT, FDW_SYS_IO_URING_LISTEN,
	/* more calls that can create fds */
	FDW_SYS_CLONE, FDW_SYS_CLONE3,  /* with CLONE_PIDFD: the parent's pidfd */
	FDW_SYS_MQ_OPEN, FDW_SYS_LANDLOCK_CREATE_RULESET,
	FDW_SYS_SECCOMP,                /* SECCOMP_FILTER_FLAG_NEW_LISTENER */
	FDW_SYS_OPEN_TREE_ATTR,
	FDW_SYS__COUNT
};

/* fdw_event.flags */
#define FDW_F_CLOEXEC 0x1      /* the new fd(s) have close-on-exec set */
#define FDW_F_SHARED_FILES 0x2 /* FORK: child shares the parent's fd table (CLONE_FILES) */
#define FDW_F_HAS_SOCK 0x4     /* `sock` is filled from the kernel socket */
#define FDW_F_HAS_FILE 0x8     /* mode/ino/name are filled from the kernel struct file */
#define FDW_F_TRUNC 0x10       /* some data of this call was not reported (e.g. more SCM_RIGHTS fds than a record chain carries) */
#define FDW_F_HAS_PATH 0x20    /* record is a struct fdw_event_path, cut after the path's NUL */
#define FDW_F_PATH_RESOLVED 0x40 /* path is the kernel's absolute path of the new fd's file,
				  * spelled like a /proc/PID/fd readlink (symlinks resolved,
				  * " (deleted)" appended); else it is what the caller passed */
#define FDW_F_FD_REUSED 0x80   /* CLOSE: when close() returned, the fd number already held a new
				  * file (another thread's open, whose record may come first) */
#define FDW_F_STACK_MEMO 0x100 /* OPEN/DUP: stack_id is a stack memo id ("Stack memo"):
				  * no USTACK record was sent for this call */

/* Socket description read from struct sock (addresses in network byte order,
 * IPv4 in the first 4 bytes of laddr/raddr). Ports in host order. */
struct fdw_sock {
	__u16 family;   /* AF_INET, AF_INET6, AF_UNIX, ... */
	__u16 type;     /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 protocol; /* IPPROTO_TCP, ... */
	__u16 lport;
	__u16 rport;
	__u16 state;    /* skc_state (TCP_LISTEN = 10, ...) */
	__u32 _pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

/* Common record, 144 bytes. */
struct fdw_event {
	__u64 ts_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 tgid;    /* host tgid of the process the event belongs to */
	__u32 tid;
	__u16 type;    /* enum fdw_ev_type */
	__u16 sys;     /* enum fdw_sys */
	__u16 size;    /* bytes in this record (a path record ends after its path's NUL) */
	__u16 flags;   /* FDW_F_* */
	__s32 ret;     /* fd (or -errno) of the result; see fdw_ev_type */
	__s32 fd2;     /* second fd; see fdw_ev_type; -1 when unused */
	__s64 arg;     /* see fdw_ev_type */
	__s64 arg2;    /* see fdw_ev_type */
	__u32 mode;    /* i_mode of the created file (S_IFMT bits; 0 = anon inode) */
	__s32 stack_id; /* OPEN/DUP: pairing key of this call's USTACK record; -1 = none */
	__u64 ino;     /* inode number of the created file */
	struct fdw_sock sock;
	char name[FDW_NAME_MAX]; /* dentry name of the created file, or comm */
};

/* Record with a path, used when FDW_F_HAS_PATH is set. */
struct fdw_event_path {
	struct fdw_event h;
	char path[FDW_PATH_MAX]; /* NUL-terminated; see FDW_F_PATH_RESOLVED */
};

/* Per-CPU counters (map "stats", index). */
enum fdw_stat {
	FDW_STAT_EVENTS = 0,  /* records submitted */
	FDW_STAT_DROPS = 1,   /* records lost: ring buffer full */
	/* 2 and 5 are retired */
	FDW_STAT_FORKS = 3,   /* children added to the target set by --children */
	FDW_STAT_UNTRACKED = 4, /* fd changes made in ways we cannot follow (io_uring with
				 * CQE_SKIP_SUCCESS, multishot recvmsg): the process is
				 * put in lost_by_tgid so that it is re-synced */
	FDW_STAT_USTACKS = 6, /* USTACK records submitted */
	FDW_STAT_USTACK_LOST = 7, /* USTACK/UMAP records not sent: ring buffer (nearly) full */
	FDW_STAT_MEMO_HITS = 8, /* calls whose stack was found in stack_memo: no USTACK sent */
	FDW_STAT__COUNT = 9
};

/*
 * Dispatch (maps "sys_progs" and "stages", filled by userspace after load).
 * sys_progs[nr] is the handler program of syscall number nr (this arch's
 * numbering, below FDW_NR_MAX); stages[FDW_STAGE_*] are the programs a new-fd
 * record passes through after its handler.  The dispatcher tail-calls only
 * where rodata sys_handled[nr] (written by userspace before load) says so:
 * FDW_HANDLED_TARGETS for the processes traced (sys_* programs),
 * FDW_HANDLED_ALL for every process (all_* programs).
 */
#define FDW_NR_MAX 512
enum fdw_handled {
	FDW_HANDLED_NONE = 0,
	FDW_HANDLED_TARGETS = 1,
	FDW_HANDLED_ALL = 2
};
enum fdw_stage {
	FDW_STAGE_UMAP = 0,   /* send the process's mappings (needs bpf_iter_task_vma) */
	FDW_STAGE_USTACK = 1, /* copy registers and the top of the user stack */
	FDW_STAGE_PATH = 2,   /* name the file, emit the record */
	FDW_STAGE_PYSTACK = 3, /* read the CPython frame chain (after USTACK) */
	FDW_STAGE__COUNT = 4
};

/*
 * Call stacks.  For a process with stacks on (rodata stacks_default, or the
 * per-tgid override in map "stack_pids"), every successful fd-creating call
 * (OPEN and DUP records) is preceded in the ring buffer by one USTACK record
 * written by the same thread:
 *
 *   [UMAP...] USTACK(tid T, ts) ... OPEN/DUP(tid T, stack_id = ts & 0x7fffffff)
 *
 * Pairing rule: keep the last USTACK per tid; an OPEN/DUP record with
 * stack_id >= 0 belongs to it when stack_id == (ustack.ts_ns & 0x7fffffff).
 * Records of other threads may sit in between; a thread's own records keep
 * their order.  stack_id = -1: no stack (stacks off, failed call, or no
 * USTACK record was sent: ring buffer full, or more of it unread than the
 * rodata stack_fill_max, see FDW_STAT_USTACK_LOST).  A USTACK whose OPEN/DUP
 * was lost is simply superseded by the thread's next USTACK.
 *
 * Unwinding needs to know where each ELF file is mapped, also after the
 * process has exited.  So before a USTACK the kernel side sends one UMAP
 * record for every executable file mapping of the process that it has not
 * sent yet (the first time, after exec, and when the amount of executable
 * memory changed).  The UMAP records of a tgid accumulate until its next
 * EXEC (or EXIT) record; a later UMAP overlapping an earlier one replaces it.
 */

/* Largest stack copy a USTACK record can carry; the copied size is the
 * rodata constant stack_bytes (default FDW_USTACK_DEFAULT, like perf's
 * --call-graph=dwarf default dump size). */
#define FDW_USTACK_MAX 16384
#define FDW_USTACK_DEFAULT 8192
#define FDW_USTACK_NREGS 17

/* FDW_EV_USTACK; `size` = offsetof(stack) + stack_len. */
struct fdw_ustack {
	__u64 ts_ns;      /* pairing key, see above */
	__u32 tgid;
	__u32 tid;
	__u16 type;       /* FDW_EV_USTACK */
	__u16 sys;        /* enum fdw_sys of the call */
	__u16 size;
	__u16 flags;      /* FDW_F_TRUNC: the stack copy is shorter than asked for */
	__u32 stack_len;  /* bytes of stack[] filled, copied from regs[7] (sp) upward */
	__u32 _pad;
	/* User registers at the syscall, x86_64 DWARF numbering: rax rdx rcx rbx
	 * rsi rdi rbp rsp r8..r15 rip (rip: the instruction after `syscall`). */
	__u64 regs[FDW_USTACK_NREGS];
	__u8 stack[FDW_USTACK_MAX];
};

/*
 * Stack memo.  Copying the stack is the dearest part of a call, and a leak
 * repeats one call path.  So once userspace has unwound a USTACK, it may
 * register it in map "stack_memo": the key is what the unwinding started
 * from (tgid, rip, rsp, and rbp - rsp when rbp points into the copy, else
 * ~0), the value every return address it found and where (offset from rsp).
 * Before copying a stack, the USTACK stage looks the call up; when each of
 * those slots of the user stack still holds its return address, the call
 * unwinds alike: its OPEN/DUP record carries stack_id = the memo's id and
 * FDW_F_STACK_MEMO, and no USTACK record is sent.  CPython processes are
 * never served from the memo (their interpreter frames differ per call).
 * Userspace owns the map: it deletes a process's entries at exec and exit,
 * and when new code is mapped (an unwinding may then go further).  An id
 * userspace no longer knows means: no call site.
 */
#define FDW_MEMO_SLOTS 32 /* return addresses checked at most: longer stacks are not registered */
#define FDW_MEMO_MAX 8192 /* entries of stack_memo */

struct fdw_memo_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ip, sp;
	__u64 fp_off; /* rbp - rsp when rbp < rsp + the stack bytes copied, else ~0 */
};

struct fdw_memo {
	__s32 id;  /* > 0 */
	__u32 n;   /* slots used */
	__u32 off[FDW_MEMO_SLOTS]; /* offset of each return address from rsp, ascending */
	__u64 ret[FDW_MEMO_SLOTS]; /* the return address found there */
};

#define FDW_UMAP_PATH_MAX 512

/* FDW_EV_UMAP: one run of consecutive mappings of one ELF file that has an
 * executable mapping, as /proc/PID/maps would group them. */
struct fdw_umap {
	__u64 ts_ns;
	__u32 tgid;
	__u32 tid;
	__u16 type;       /* FDW_EV_UMAP */
	__u16 sys;        /* FDW_SYS_NONE */
	__u16 size;
	__u16 flags;
	__u64 start;      /* first byte of the first mapping */
	__u64 end;        /* end of the last mapping */
	__u64 pgoff;      /* file offset of `start` in bytes */
	__u64 ino;
	__u32 dev_major;
	__u32 dev_minor;
	/* Absolute path in the mount namespace of the file's mount, NUL-terminated. */
	char path[FDW_UMAP_PATH_MAX];
};

/*
 * CPython frames.  For a CPython process, a USTACK record is followed by one
 * PYSTACK record of the same thread with the same key, holding the
 * interpreter frames of the calling thread, innermost first:
 *
 *   USTACK(tid T, ts) PYSTACK(tid T, key = ts & 0x7fffffff) OPEN/DUP(tid T)
 *
 * The kernel side follows _PyRuntime.interpreters.head -> interpreter ->
 * thread states to the one whose native_thread_id is the caller's tid (in its
 * own pid namespace; the GIL is released around blocking calls, so the
 * "current" thread state may be another thread's), then cframe ->
 * current_frame -> previous ... and copies each frame's code object address
 * and instruction offset.  Code objects are described once per process image
 * in PYCODE records sent before the PYSTACK that first names them:
 *
 *   USTACK [PYCODE...] PYSTACK OPEN/DUP
 *
 * Which processes are CPython, and where their _PyRuntime is, comes from
 * userspace (the interpreter's ELF symbols and a per-version offsets table,
 * user/stacks/python.h) in two maps:
 *   py_bins  (struct fdw_py_bin: an interpreter executable) -> fdw_py_proc
 *            with runtime = _PyRuntime - mm->start_code: filled before the
 *            interpreter runs, so a process is known from its first call;
 *            the kernel side then adds the process to py_procs itself (mm
 *            set);
 *   py_procs (tgid) -> fdw_py_proc with runtime = the address of _PyRuntime:
 *            one process (libpython.so mapped by another executable); mm = 0,
 *            userspace removes it at exec.
 */
#define FDW_PY_FRAMES_MAX 32

/* Offsets of one CPython version (bytes); only what the kernel walk needs. */
struct fdw_py_proc {
	__u64 runtime;               /* address of _PyRuntime in the process */
	__u16 runtime_interp_head;   /* _PyRuntimeState.interpreters.head */
	__u16 interp_next;           /* PyInterpreterState.next */
	__u16 interp_threads_head;   /* PyInterpreterState.threads.head */
	__u16 tstate_next;           /* PyThreadState.next */
	__u16 tstate_native_tid;     /* PyThreadState.native_thread_id */
	__u16 tstate_cframe;         /* PyThreadState.cframe */
	__u16 cframe_current_frame;  /* _PyCFrame.current_frame */
	__u16 frame_code;            /* _PyInterpreterFrame.f_code */
	__u16 frame_previous;        /* _PyInterpreterFrame.previous */
	__u16 frame_prev_instr;      /* _PyInterpreterFrame.prev_instr */
	__u16 frame_is_entry;        /* _PyInterpreterFrame.is_entry (a bool) */
	__u16 code_adaptive;         /* PyCodeObject.co_code_adaptive: the first code unit */
	__u16 code_filename;         /* PyCodeObject.co_filename (a str) */
	__u16 code_qualname;         /* PyCodeObject.co_qualname (a str) */
	__u16 code_linetable;        /* PyCodeObject.co_linetable (a bytes) */
	__u16 code_firstlineno;      /* PyCodeObject.co_firstlineno (an int) */
	__u16 str_length;            /* PyASCIIObject.length (characters) */
	__u16 str_state;             /* PyASCIIObject.state (kind bits 2-4, ascii bit 6) */
	__u16 str_ascii_data;        /* the characters of a compact ASCII str */
	__u16 str_compact_data;      /* the characters of another compact str */
	__u16 bytes_size;            /* PyVarObject.ob_size of a bytes */
	__u16 bytes_data;            /* PyBytesObject.ob_sval */
	__u32 _pad;
	__u64 mm;                    /* py_procs: the struct mm_struct * it was made for, 0 = any */
};

/* Key of map py_bins: an executable file. */
struct fdw_py_bin {
	__u64 ino;
	__u32 dev; /* the kernel's s_dev: major << 20 | minor */
	__u32 _pad;
};

#define FDW_PYF_ENTRY 0x1 /* the frame's evaluation was entered from C (is_entry):
			   * it is the outermost frame of one _PyEval_EvalFrameDefault */

struct fdw_pyframe {
	__u64 code;  /* PyCodeObject * */
	__s32 lasti; /* code units from co_code_adaptive to prev_instr (the instruction
		      * running: the call); < 0 before the first one */
	__u32 flags; /* FDW_PYF_* */
};

/* FDW_EV_PYCODE: what a code object says about itself, sent once per code
 * object and process image before the first PYSTACK record naming it.  The
 * strings are the str objects' characters as stored (`kind` bytes each:
 * 1 for ASCII and Latin-1, 2 or 4), cut to the buffers. */
#define FDW_PY_NAME_MAX 128
#define FDW_PY_FILE_MAX 256
#define FDW_PY_TABLE_MAX 512
struct fdw_pycode {
	__u64 ts_ns;
	__u32 tgid;
	__u32 tid;
	__u16 type;        /* FDW_EV_PYCODE */
	__u16 sys;
	__u16 size;
	__u16 flags;
	__u64 code;        /* PyCodeObject * */
	__s32 firstlineno;
	__u16 name_len, file_len, table_len; /* bytes filled below */
	__u8 name_kind, file_kind; /* bytes per character */
	__u32 _pad;
	char name[FDW_PY_NAME_MAX];   /* co_qualname */
	char file[FDW_PY_FILE_MAX];   /* co_filename */
	__u8 table[FDW_PY_TABLE_MAX]; /* co_linetable (its first bytes) */
};

/* PYSTACK flags (the header's `flags`) */
#define FDW_PY_NO_THREAD 0x100 /* no thread state has the caller's tid: frames is empty */

/* FDW_EV_PYSTACK; `size` = offsetof(frames) + nframes * sizeof(fdw_pyframe). */
struct fdw_pystack {
	__u64 ts_ns;
	__u32 tgid;
	__u32 tid;
	__u16 type;       /* FDW_EV_PYSTACK */
	__u16 sys;        /* enum fdw_sys of the call */
	__u16 size;
	__u16 flags;      /* FDW_F_TRUNC: more frames than FDW_PY_FRAMES_MAX; FDW_PY_* */
	__s32 key;        /* the USTACK record's key (ts_ns & 0x7fffffff) */
	__u32 nframes;
	struct fdw_pyframe frames[FDW_PY_FRAMES_MAX];
};

#endif /* FDWATCH_ABI_H */
