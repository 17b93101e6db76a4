// run_top_screen on a real terminal: tmux runs this test binary again with
// the disabled child test below, which drives the screen with a fake source.
// Checks drawing, keys, resize, detail hooks, and that 'q' and Ctrl-C both
// leave the terminal restored with exit status 0.
#include "views/top_screen.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/tmux.h"

namespace fdw {
namespace {

class FakeSource : public TopSource {
 public:
  Snapshot next(double) override {
    ++calls;
    Snapshot s;
    s.elapsed_s = calls;  // the header's clock shows that frames keep coming
    s.events_per_s = 100;
    for (uint32_t i = 1; i <= 30; ++i) {
      ProcView p;
      p.pid = 1000 + i;
      p.comm = "proc-" + std::to_string(i);
      p.uid = 0;
      p.open_fds = 10 * i;
      p.rlimit_nofile = 1024;
      s.processes.push_back(p);
    }
    ProcView& leaker = s.processes.back();
    leaker.comm = "leaker";
    leaker.open_fds = 900;
    leaker.leak_rate_per_s = 50;
    leaker.time_to_limit_s = 2.4;
    FdView fd;
    fd.fd = 7;
    fd.kind = Kind::Socket;
    fd.target = "tcp ->127.0.0.1:8081";
    fd.age_s = 3;
    leaker.fds = {fd};
    return s;
  }
  void on_detail(uint32_t pid) override { detail = pid; }
  void on_detail_closed(uint32_t pid) override { closed = pid; }

  int calls = 0;
  uint32_t detail = 0, closed = 0;
};

// Only runs when the test below starts it inside tmux.
TEST(TopScreenChild, DISABLED_Run) {
  FakeSource src;
  int rc = run_top_screen(src, TopState{}, 0.2) ? 0 : 1;
  std::printf("screen-rc=%d detail=%u closed=%u\n", rc, src.detail, src.closed);
  std::fflush(stdout);
}

std::string child_command() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return {};
  return std::string(exe, static_cast<size_t>(n)) +
         " --gtest_also_run_disabled_tests --gtest_filter=TopScreenChild.DISABLED_Run";
}

#define REQUIRE_TMUX() \
  if (!test::tmux_available()) GTEST_SKIP() << "tmux is not installed"

TEST(TopScreen, DrawsNavigatesAndQuitsWithQ) {
  REQUIRE_TMUX();
  test::TmuxSession s("top", 100, 20, child_command());
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.wait_for("fdwatch top  elapsed")) << s.capture();
  ASSERT_TRUE(s.wait_for("CLOSE/s")) << s.capture();  // 100 columns: every column
  // FDS descending: the leaker (900 fds) is first and selected.
  ASSERT_TRUE(s.wait_for("   1030 root         900    1024   87")) << s.capture();
  // Frames keep coming: the clock moves past the first seconds.
  ASSERT_TRUE(s.wait_for("elapsed 5.0s")) << s.capture();

  ASSERT_TRUE(s.send_keys({"Enter"}));
  ASSERT_TRUE(s.wait_for("PID 1030  leaker  user root")) << s.capture();
  ASSERT_TRUE(s.wait_for("tcp ->127.0.0.1:8081")) << s.capture();
  ASSERT_TRUE(s.send_keys({"Escape"}));
  ASSERT_TRUE(s.wait_for("    PID USER")) << s.capture();

  // Pause freezes the clock (the frozen frame is shown).
  ASSERT_TRUE(s.send_keys({"p"}));
  ASSERT_TRUE(s.wait_for("[paused]")) << s.capture();

  ASSERT_TRUE(s.resize(60, 15));
  ASSERT_TRUE(s.wait_until([](const std::string& screen) {
    return screen.find("CLOSE/s") == std::string::npos &&
           screen.find("    PID     FDS %LIM  NET/s    ETA   ERR OLDEST COMM") != std::string::npos;
  })) << s.capture();

  ASSERT_TRUE(s.send_keys({"q"}));
  ASSERT_TRUE(s.wait_exit()) << s.capture();
  EXPECT_EQ(s.exit_status(), 0);
  std::string after = s.capture_all();
  EXPECT_NE(after.find("screen-rc=0 detail=1030 closed=1030"), std::string::npos) << after;
  // The alternate screen is gone: the list is not left on the terminal.
  EXPECT_EQ(s.capture().find("    PID "), std::string::npos) << s.capture();
}

TEST(TopScreen, CtrlCRestoresTheTerminal) {
  REQUIRE_TMUX();
  test::TmuxSession s("top-int", 80, 12, child_command());
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.wait_for("fdwatch top  elapsed")) << s.capture();
  ASSERT_TRUE(s.send_keys({"C-c"}));
  ASSERT_TRUE(s.wait_exit()) << s.capture();
  EXPECT_EQ(s.exit_status(), 0);
  EXPECT_NE(s.capture_all().find("screen-rc=0 detail=0 closed=0"), std::string::npos)
      << s.capture_all();
  EXPECT_EQ(s.capture().find("fdwatch top  elapsed"), std::string::npos) << s.capture();
}

}  // namespace
}  // namespace fdw
