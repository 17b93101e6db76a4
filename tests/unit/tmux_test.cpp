// tests/common/tmux.h on trivial shell programs: the driver later screen
// tests of `fdwatch top` stand on.
#include "common/tmux.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace fdw::test {
namespace {

std::vector<std::string> lines(const std::string& screen) {
  std::vector<std::string> out;
  std::istringstream in(screen);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

#define REQUIRE_TMUX() \
  if (!tmux_available()) GTEST_SKIP() << "tmux is not installed"

TEST(Tmux, TypesTextReadsTheScreenAndCleansUp) {
  REQUIRE_TMUX();
  std::string sock, path;
  {
    TmuxSession s("echo", 40, 6, "echo ready; read x; echo got:$x; sleep 30");
    ASSERT_TRUE(s.ok()) << s.error();
    sock = s.socket_name();
    path = s.socket_path();
    ASSERT_FALSE(path.empty());
    ASSERT_TRUE(s.wait_for("ready"));
    EXPECT_EQ(s.capture().find("got:"), std::string::npos);  // read still waits
    ASSERT_TRUE(s.send_text("hello world"));
    ASSERT_TRUE(s.send_keys({"Enter"}));
    ASSERT_TRUE(s.wait_for("got:hello world"));
    auto rows = lines(s.capture());
    EXPECT_EQ(rows.size(), 6u);
    EXPECT_EQ(rows[0], "ready");
    EXPECT_EQ(rows[1], "hello world");  // the terminal's echo of what was typed
    EXPECT_EQ(rows[2], "got:hello world");
    EXPECT_FALSE(s.exited());
    EXPECT_EQ(s.exit_status(), std::nullopt);
  }
  // The destructor took the private server and its socket away.
  EXPECT_NE(run_command({"tmux", "-L", sock, "has-session"}).status, 0);
  struct stat st;
  EXPECT_NE(stat(path.c_str(), &st), 0);
}

TEST(Tmux, ExitStatusAndLastScreenStayReadable) {
  REQUIRE_TMUX();
  TmuxSession s("exit", 30, 4, "echo bye; exit 7");
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.wait_exit());
  EXPECT_EQ(s.exit_status(), 7);
  EXPECT_EQ(lines(s.capture())[0], "bye");  // output right before the exit is kept
}

TEST(Tmux, KeyNamesDeliverCtrlC) {
  REQUIRE_TMUX();
  TmuxSession s("sigint", 40, 5,
                "trap 'echo caught; exit 4' INT; echo armed; while :; do sleep 0.05; done");
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.wait_for("armed"));
  EXPECT_FALSE(s.exited());
  ASSERT_TRUE(s.send_keys({"C-c"}));
  ASSERT_TRUE(s.wait_exit());
  EXPECT_EQ(s.exit_status(), 4);
  EXPECT_NE(s.capture().find("caught"), std::string::npos);
}

TEST(Tmux, KilledBySignalReportsShellStatus) {
  REQUIRE_TMUX();
  TmuxSession s("killed", 30, 4, "kill -9 $$");
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.wait_exit());
  EXPECT_EQ(s.exit_status(), 128 + 9);
}

TEST(Tmux, SizeIsTheRequestedOneAndResizes) {
  REQUIRE_TMUX();
  TmuxSession s("size", 50, 8, "while :; do stty size; sleep 0.05; done");
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.wait_for("8 50"));
  ASSERT_TRUE(s.resize(70, 12));
  ASSERT_TRUE(s.wait_for("12 70"));
  ASSERT_TRUE(s.wait_until([](const std::string& screen) { return lines(screen).size() == 12; }));
  for (const auto& l : lines(s.capture())) EXPECT_LE(l.size(), 70u);
}

}  // namespace
}  // namespace fdw::test
