// The table of what a process holds at exit on purpose, one rule at a time,
// and what is still a leak beside it.
#include <gtest/gtest.h>

#include <memory>

#include "core/exit_leaks.h"

using namespace fdw;

namespace {

FdView fd(int n, Kind k, std::string target) {
  FdView f;
  f.fd = n;
  f.kind = k;
  f.target = std::move(target);
  return f;
}

std::vector<std::string_view> why(std::vector<FdView> fds) { return ordinary_at_exit(fds); }

}  // namespace

TEST(ExitLeaks, EachRuleAndTheLeaksBesideIt) {
  using V = std::vector<std::string_view>;
  // `exec </etc/hostname`, a subshell's stdout pipe, a redirected stderr
  EXPECT_EQ(why({fd(0, Kind::File, "/etc/hostname"), fd(1, Kind::Pipe, "pipe:[7]"), fd(2, Kind::File, "/tmp/x"),
                 fd(3, Kind::File, "/etc/hostname")}),
            (V{kOrdinaryStdio, kOrdinaryStdio, kOrdinaryStdio, ""}));
  EXPECT_EQ(why({fd(3, Kind::Socket, "tcp 127.0.0.1:8080 (listen)"), fd(4, Kind::Socket, "tcp 127.0.0.1:1->127.0.0.1:2")}),
            (V{kOrdinaryListener, ""}));
  EXPECT_EQ(why({fd(255, Kind::File, "/tmp/script.sh"), fd(254, Kind::File, "/tmp/script.sh")}),
            (V{kOrdinaryShellScript, ""}));
  // Go: epoll and its netpoll pipe; a second pipe is a leak
  EXPECT_EQ(why({fd(3, Kind::Epoll, "anon_inode:[eventpoll]"), fd(4, Kind::Pipe, "pipe:[9]"),
                 fd(5, Kind::Pipe, "pipe:[9]"), fd(6, Kind::Pipe, "pipe:[8]"), fd(7, Kind::Pipe, "pipe:[8]")}),
            (V{kOrdinaryPoller, kOrdinaryPollerWakeup, kOrdinaryPollerWakeup, "", ""}));
  // an eventfd wakeup; one poller only
  EXPECT_EQ(why({fd(3, Kind::Epoll, "e"), fd(4, Kind::Eventfd, "ev"), fd(5, Kind::Epoll, "e"), fd(6, Kind::Eventfd, "ev")}),
            (V{kOrdinaryPoller, kOrdinaryPollerWakeup, "", ""}));
  // without a poller a held pipe or eventfd is a leak
  EXPECT_EQ(why({fd(3, Kind::Pipe, "pipe:[9]"), fd(4, Kind::Pipe, "pipe:[9]"), fd(5, Kind::Eventfd, "ev")}),
            (V{"", "", ""}));
}

TEST(ExitLeaks, GateGroupsTheLeaksBySite) {
  ProcView p;
  p.exited = true;
  p.leaked_at_exit = {fd(1, Kind::File, "/tmp/out"), fd(3, Kind::File, "/etc/hostname"),
                      fd(4, Kind::File, "/etc/hostname"), fd(5, Kind::Socket, "tcp 127.0.0.1:9 (listen)")};
  const Text site(std::make_shared<const std::string>("open_config (x.c:3)"));
  for (auto& f : p.leaked_at_exit) f.site = site;
  p.leaked_at_exit[0].ordinary = kOrdinaryStdio;
  p.leaked_at_exit[3].ordinary = kOrdinaryListener;
  auto leaks = exit_leaks(p);
  ASSERT_EQ(leaks.size(), 1u);
  EXPECT_EQ(leaks[0].site, "open_config (x.c:3)");
  EXPECT_EQ(leaks[0].count, 2u);
  EXPECT_EQ(leaks[0].target, "/etc/hostname");
  for (auto& f : p.leaked_at_exit) f.ordinary = kOrdinaryStdio;
  EXPECT_TRUE(exit_leaks(p).empty());
}
