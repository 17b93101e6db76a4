// fdwatch top on a real terminal (tmux): what a person would see.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "common/require_root.h"
#include "common/subprocess.h"
#include "common/tmux.h"

using fdw::test::Subprocess;

namespace {

// A fixture that leaks /dev/null steadily (20/s for ~40 s: still leaking
// when fdwatch attaches after a 20 s load, as under qemu TCG), then waits.
std::vector<std::string> leaker_argv() {
  std::vector<std::string> a = {std::string(FIXTURE_DIR) + "/fx_checkpoint"};
  for (int i = 0; i < 800; ++i) {
    a.push_back("file:/dev/null");
    a.push_back("sleep:0.05");
  }
  a.push_back("wait");
  return a;
}

// First process row under the column header.
std::string first_row(const std::string& screen) {
  auto h = screen.find("PID USER");
  if (h == std::string::npos) return "";
  auto s = screen.find('\n', h);
  if (s == std::string::npos) return "";
  auto e = screen.find('\n', s + 1);
  return screen.substr(s + 1, e == std::string::npos ? std::string::npos : e - s - 1);
}

}  // namespace

TEST(TopE2E, LeakerRisesToTopDetailShowsFdsAndQExits) {
  FDW_REQUIRE_ROOT();
  if (!fdw::test::tmux_available()) {
    if (fdw::test::in_ci()) FAIL() << "tmux missing";
    GTEST_SKIP() << "tmux missing";
  }
  Subprocess leaker(leaker_argv());
  fdw::test::TmuxSession tm("fdwatch-top-e2e", 160, 45,
                            std::string(FDWATCH_BIN) + " top -d 0.5 --sort net/s");
  ASSERT_TRUE(tm.ok()) << tm.error();
  ASSERT_TRUE(tm.wait_for("PID USER", 20)) << tm.capture();
  // The selection follows its process as rows reorder (as in htop), so go
  // to the top of the list before each look.
  bool top = false;
  for (int i = 0; i < 15 && !top; ++i) {
    ASSERT_TRUE(tm.send_keys({"Home"}));
    top = tm.wait_until(
        [](const std::string& s) { return first_row(s).find("fx_checkpoint") != std::string::npos; }, 1);
  }
  EXPECT_TRUE(top) << tm.capture();
  // narrow to the leaker (by pid: other fx_checkpoints may run) and open its detail
  ASSERT_TRUE(tm.send_keys({"/"}));
  ASSERT_TRUE(tm.send_text(std::to_string(leaker.pid())));
  ASSERT_TRUE(tm.send_keys({"Enter"}));
  ASSERT_TRUE(tm.wait_until(
      [&](const std::string& s) { return first_row(s).find(std::to_string(leaker.pid())) != std::string::npos; },
      10))
      << tm.capture();
  ASSERT_TRUE(tm.send_keys({"Enter"}));
  ASSERT_TRUE(tm.wait_for("/dev/null", 10)) << tm.capture();
  std::string detail = tm.capture();
  EXPECT_NE(detail.find(std::to_string(leaker.pid())), std::string::npos) << detail;
  EXPECT_NE(detail.find("file"), std::string::npos) << detail;
  // stacks are off system-wide but on for the process in the detail view:
  // fds it opens from now on name their call site
  EXPECT_TRUE(tm.wait_for("open_one (fx_checkpoint.c:", 10)) << tm.capture();
  ASSERT_TRUE(tm.send_keys({"Escape"}));
  ASSERT_TRUE(tm.wait_for("PID USER", 10)) << tm.capture();
  ASSERT_TRUE(tm.send_keys({"q"}));
  ASSERT_TRUE(tm.wait_until([&](const std::string&) { return tm.exit_status().has_value(); }, 10));
  EXPECT_EQ(*tm.exit_status(), 0);
  // the terminal is restored: no alternate screen or leftovers of the view
  EXPECT_EQ(tm.capture().find("PID USER"), std::string::npos) << tm.capture();
}

TEST(TopE2E, BatchJsonFramesCarryTheLeaker) {
  FDW_REQUIRE_ROOT();
  Subprocess leaker(leaker_argv());
  Subprocess top({FDWATCH_BIN, "top", "--json", "-n", "3", "-d", "1", "--sort", "net/s"});
  ASSERT_EQ(top.wait(60), 0) << top.err();
  std::istringstream in(top.out());
  std::string line;
  int frames = 0;
  nlohmann::json last;
  while (std::getline(in, line)) {
    last = nlohmann::json::parse(line);
    EXPECT_EQ(last["schema"], "fdwatch.top.v1");
    ++frames;
  }
  EXPECT_EQ(frames, 3);
  bool found = false;
  for (auto& r : last["rows"]) {
    if (r["pid"] != leaker.pid()) continue;
    found = true;
    EXPECT_EQ(r["comm"], "fx_checkpoint");
    EXPECT_GT(r["fds"].get<int>(), 3);
    EXPECT_GT(r["net_per_s"].get<double>(), 5.0);
  }
  EXPECT_TRUE(found) << top.out().substr(0, 2000);
}

TEST(TopE2E, BatchRejectsUnknownSortKey) {
  FDW_REQUIRE_ROOT();
  Subprocess top({FDWATCH_BIN, "top", "-b", "-n", "1", "--sort", "bogus"});
  EXPECT_EQ(top.wait(20), 2);
  EXPECT_EQ(top.err().rfind("fdwatch: unknown sort column 'bogus'", 0), 0u) << top.err();
}
