#include "probe/syscalls.h"

#include <sys/syscall.h>

namespace fdw {

namespace {

struct Slot {
  std::string_view name;
  int nr;
};

// glibc's headers may predate a syscall; those numbers are spelled out.
#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467
#endif

#define SLOT(n) {#n, SYS_##n}
constexpr Slot kSlots[] = {
    SLOT(open), SLOT(openat), SLOT(openat2), SLOT(creat), SLOT(open_by_handle_at), SLOT(mq_open),
    SLOT(open_tree), SLOT(open_tree_attr), SLOT(fsopen), SLOT(fsmount), SLOT(fspick),
    SLOT(socket), SLOT(socketpair), SLOT(accept), SLOT(accept4), SLOT(bind), SLOT(connect),
    SLOT(listen), SLOT(recvmsg), SLOT(recvmmsg),
    SLOT(dup), SLOT(dup2), SLOT(dup3), SLOT(fcntl), SLOT(ioctl),
    SLOT(pipe), SLOT(pipe2), SLOT(eventfd), SLOT(eventfd2), SLOT(epoll_create), SLOT(epoll_create1),
    SLOT(timerfd_create), SLOT(inotify_init), SLOT(inotify_init1), SLOT(fanotify_init),
    SLOT(memfd_create), SLOT(memfd_secret), SLOT(perf_event_open), SLOT(userfaultfd),
    SLOT(io_uring_setup), SLOT(pidfd_open), SLOT(pidfd_getfd), SLOT(signalfd), SLOT(signalfd4),
    SLOT(bpf), SLOT(landlock_create_ruleset), SLOT(seccomp),
    SLOT(close), SLOT(close_range),
    SLOT(clone), SLOT(clone3), SLOT(prlimit64), SLOT(setrlimit),
    SLOT(rename), SLOT(renameat), SLOT(renameat2), SLOT(mount), SLOT(umount2), SLOT(move_mount),
    SLOT(pivot_root),
};
#undef SLOT

}  // namespace

int syscall_nr(std::string_view name) {
  for (const Slot& s : kSlots)
    if (s.name == name) return s.nr;
  return -1;
}

}  // namespace fdw
