#include "util/own_fds.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>

namespace fdw {
namespace {

bool cloexec(int fd) { return fcntl(fd, F_GETFD) & FD_CLOEXEC; }

TEST(OwnFds, RangesAreEverythingAboveStdioButTheInherited) {
  EXPECT_EQ(own_fd_ranges({0, 1, 2}), (std::vector<FdRange>{{3, UINT_MAX}}));
  EXPECT_EQ(own_fd_ranges({0, 1, 2, 3, 10, 11, 255}),
            (std::vector<FdRange>{{4, 9}, {12, 254}, {256, UINT_MAX}}));
  EXPECT_EQ(own_fd_ranges({}), (std::vector<FdRange>{{3, UINT_MAX}}));
}

// A library's socketpair without SOCK_CLOEXEC (libcurl's) is not handed to
// the command; an fd fdwatch was given (`fdwatch -- cmd 3<file`) is.
TEST(OwnFds, OwnFdsBecomeCloseOnExecInheritedOnesStayOpen) {
  int sv[2], given[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_EQ(pipe(given), 0);
  ASSERT_FALSE(cloexec(sv[0]));
  set_cloexec(own_fd_ranges({0, 1, 2, given[0], given[1]}));
  EXPECT_TRUE(cloexec(sv[0]));
  EXPECT_TRUE(cloexec(sv[1]));
  EXPECT_FALSE(cloexec(given[0]));
  EXPECT_FALSE(cloexec(given[1]));
  for (int fd : {sv[0], sv[1], given[0], given[1]}) close(fd);
}

}  // namespace
}  // namespace fdw
