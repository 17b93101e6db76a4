// The C++ value every layer speaks: the decoder makes Events from ring-buffer
// bytes, the enricher fills targets/comm from /proc, the recorder writes them
// as JSON lines, and the aggregator consumes them.  Plain data, no behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fdw {

// fd kinds, exactly the vocabulary of DESIGN.md (stable).
enum class Kind : uint8_t {
  File, Dir, Socket, Pipe, Fifo, Eventfd, Epoll, Timerfd, Signalfd, Inotify,
  Fanotify, Memfd, Pidfd, Bpf, Perf, IoUring, Userfaultfd, Anon, Other,
};
constexpr int kKindCount = static_cast<int>(Kind::Other) + 1;

std::string_view kind_name(Kind k);

enum class EvType : uint8_t {
  Open,        // fd (and fd2) created, or failed with err
  Close,       // fd closed (err != 0: the close failed; nothing changes)
  CloseRange,  // [fd, hi] closed, or marked close-on-exec (flags & kCloseRangeCloexec);
               // err != 0: the call failed, nothing changes
  Dup,         // fd = new, fd2 = old (dup2/dup3 onto an open fd closes it first)
  Cloexec,     // fd's close-on-exec flag set (value=1) or cleared (value=0); err: it failed
  Fork,        // pid = parent, child = new process
  Exec,        // pid's image replaced: close-on-exec fds go away; comm/path updated
  Exit,        // pid is gone; its table is released
  SockAddr,    // socket fd's endpoints became known (bind/connect/listen); err other than
               // EINPROGRESS: the call failed, nothing is known
  Limit,       // soft RLIMIT_NOFILE of pid is now `value`
  Snapshot,    // fd table of pid read from /proc (fds); replaces the table (seeding/resync)
  Lost,        // `value` events were lost for pid (0 = unknown pid): mark inexact
  Comm,        // identity of pid (enricher): comm, uid (value >= 0), ppid (child),
               // cgroup, ns_pid; empty/negative/zero fields leave what is known
  Call,        // a traced call that created, closed and changed no fd (signalfd on an
               // existing signalfd, a landlock version query): counted, nothing else
};

std::string_view evtype_name(EvType t);
std::optional<EvType> evtype_from_name(std::string_view s);

// Syscalls as Event::sys numbers them: fdwatch's own numbering, stable
// across architectures and the same as the kernel side's (the decoder checks
// each at compile time).  Unscoped: Event::sys also holds numbers newer than
// this table, which the event log keeps as numbers.
enum Sys : uint16_t {
  kSysNone = 0,
  kSysOpen, kSysOpenat, kSysOpenat2, kSysCreat, kSysOpenByHandleAt,
  kSysSocket, kSysSocketpair, kSysAccept, kSysAccept4,
  kSysDup, kSysDup2, kSysDup3, kSysFcntl,
  kSysPipe, kSysPipe2, kSysEventfd, kSysEventfd2,
  kSysEpollCreate, kSysEpollCreate1, kSysTimerfdCreate,
  kSysSignalfd, kSysSignalfd4, kSysInotifyInit, kSysInotifyInit1,
  kSysFanotifyInit, kSysMemfdCreate, kSysMemfdSecret,
  kSysPidfdOpen, kSysPidfdGetfd, kSysPerfEventOpen, kSysBpf,
  kSysUserfaultfd, kSysIoUringSetup, kSysOpenTree, kSysFsopen,
  kSysFsmount, kSysFspick, kSysRecvmsg, kSysRecvmmsg,
  kSysClose, kSysCloseRange, kSysExecve, kSysExecveat,
  kSysIoctl, kSysBind, kSysConnect, kSysListen,
  kSysPrlimit64, kSysSetrlimit,
  kSysForkEvent,  // sched_process_fork
  kSysExitEvent,  // sched_process_exit
  // io_uring operations
  kSysIoUringOpenat, kSysIoUringOpenat2, kSysIoUringClose,
  kSysIoUringAccept, kSysIoUringSocket, kSysIoUringPipe,
  kSysIoUringFixedFdInstall, kSysIoUringRecvmsg, kSysIoUringBind,
  kSysIoUringConnect, kSysIoUringListen,
  kSysClone, kSysClone3,  // with CLONE_PIDFD: the parent's pidfd
  kSysMqOpen, kSysLandlockCreateRuleset,
  kSysSeccomp,  // SECCOMP_FILTER_FLAG_NEW_LISTENER
  kSysOpenTreeAttr,
  kSysCount
};

// The syscall's name ("openat"), "" for kSysNone and numbers past the table.
std::string_view sys_name(uint16_t sys);

constexpr uint32_t kCloseRangeUnshare = 2;  // CLOSE_RANGE_UNSHARE
constexpr uint32_t kCloseRangeCloexec = 4;  // CLOSE_RANGE_CLOEXEC
// Close flags: when the close returned, its fd number already held another
// thread's new file, whose record may have been applied first.
constexpr uint32_t kCloseFdReused = 1;
// Snapshot flags: /proc listed the fds but their links could not be read
// (readlink EACCES: an LSM, or a ptrace restriction on the process), so every
// fd is counted with kind Other and no target, and the process is inexact.
constexpr uint32_t kSnapshotLinksUnreadable = 1;
// Snapshot flags: the table was handed down by the parent that started the
// process (`-- CMD`): its fds are inherited, not leaks of the process.
constexpr uint32_t kSnapshotInherited = 2;

// Why a process is inexact (ProcView::inexact_reason, report JSON
// "inexact_reason"); the first cause seen wins.
inline constexpr std::string_view kInexactLostEvents = "lost_events";       // ring buffer full
inline constexpr std::string_view kInexactUnseenStart = "unseen_start";     // born before we could see it (pid reuse, unknown parent)
inline constexpr std::string_view kInexactLinksUnreadable = "links_unreadable";  // kSnapshotLinksUnreadable

// One fd as seen by /proc at seeding time (Snapshot events).
struct SeedFd {
  int fd = -1;
  Kind kind = Kind::Other;
  std::string target;  // readlink text, richer for sockets
  bool cloexec = false;
};

struct Event {
  EvType type = EvType::Open;
  uint64_t ts_ns = 0;   // CLOCK_MONOTONIC nanoseconds
  uint32_t pid = 0;     // host tgid
  uint32_t tid = 0;
  uint16_t sys = 0;     // a Sys; kSysNone when not from a syscall
  int32_t fd = -1;      // see EvType
  int32_t fd2 = -1;     // see EvType
  int32_t err = 0;      // positive errno of a failed call, 0 on success
  bool cloexec = false; // new fd(s) have close-on-exec
  uint32_t child = 0;   // Fork: child tgid; Comm: parent tgid (ppid, 0 = unchanged)
  bool shared_files = false;  // Fork: CLONE_FILES
  int64_t value = 0;    // Limit: soft limit; Cloexec: 1/0; CloseRange: hi; Lost: count; Exit: code
  uint32_t flags = 0;   // CloseRange flags; open flags; Snapshot: kSnapshot* flags
  Kind kind = Kind::Other;   // Open/Dup/SockAddr: kind of the new fd
  Kind kind2 = Kind::Other;  // Open: kind of fd2 (pipe/socketpair)
  std::string target;   // Open/SockAddr: what the fd refers to (readlink-like)
  std::string target2;  // Open: target of fd2
  std::string comm;     // Exec/Fork/Comm/Exit: process name when known ("" on Comm: unchanged)
  std::string cgroup;   // Comm: cgroup v2 path of pid ("" = unchanged)
  uint32_t ns_pid = 0;  // Comm: pid in pid's own pid namespace (0 = unchanged)
  std::vector<SeedFd> fds;  // Snapshot only
  std::vector<std::string> stack;  // symbolized creating call stack, innermost first
  std::string site;     // innermost application frame of `stack` (suspect grouping), "" if none
};

}  // namespace fdw
