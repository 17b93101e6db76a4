// fdwatch itself must never leak an fd: a tracing session, opened and torn
// down repeatedly, leaves this process with exactly the fds it had.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>

#include "pipeline/session.h"
#include "common/require_root.h"

using namespace fdw;

namespace {

std::vector<int> open_fds() {
  std::vector<int> out;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* de = readdir(d))
    if (de->d_name[0] != '.') out.push_back(atoi(de->d_name));
  int own = dirfd(d);
  closedir(d);
  out.erase(std::remove(out.begin(), out.end(), own), out.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(SelfFds, SessionsLeaveNoFdBehindAndHoldOnlyCloexecFds) {
  FDW_REQUIRE_ROOT();
  auto before = open_fds();
  for (int round = 0; round < 3; ++round) {
    Aggregator agg;
    SessionOptions so;
    so.pids = {uint32_t(getppid())};
    auto s = Session::open(so, agg);
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_TRUE((*s)->start());
    ASSERT_TRUE((*s)->poll());
    (*s)->tick();
    // everything the session holds must close on exec (a traced CMD inherits nothing)
    for (int fd : open_fds()) {
      if (std::find(before.begin(), before.end(), fd) != before.end()) continue;
      EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC) << "fd " << fd << " lacks FD_CLOEXEC";
    }
  }
  EXPECT_EQ(open_fds(), before);
}
