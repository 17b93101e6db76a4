#include "util/own_fds.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace fdw {

namespace {

std::set<int>& inherited_fds() {
  static std::set<int> fds;
  return fds;
}

}  // namespace

void note_inherited_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return;
  int self = dirfd(d);
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == 0 && fd != self) inherited_fds().insert(int(fd));
  }
  closedir(d);
}

std::vector<FdRange> own_fd_ranges(const std::set<int>& inherited) {
  std::vector<FdRange> out;
  unsigned next = 3;
  for (int fd : inherited) {
    if (fd < int(next)) continue;
    if (unsigned(fd) > next) out.emplace_back(next, unsigned(fd) - 1);
    next = unsigned(fd) + 1;
  }
  out.emplace_back(next, UINT_MAX);
  return out;
}

std::vector<FdRange> own_fd_ranges() { return own_fd_ranges(inherited_fds()); }

void set_cloexec(const std::vector<FdRange>& ranges) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  for (const FdRange& r : ranges) {
    if (syscall(SYS_close_range, r.first, r.second, CLOSE_RANGE_CLOEXEC) == 0) continue;
    // before 5.11: one fcntl per possible fd, up to the limit
    for (unsigned long fd = r.first; fd <= r.second && fd < lim.rlim_cur; ++fd) {
      int flags = fcntl(int(fd), F_GETFD);
      if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(int(fd), F_SETFD, flags | FD_CLOEXEC);
    }
  }
}

}  // namespace fdw
