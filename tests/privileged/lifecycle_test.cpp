// "Every fd, exactly": fdwatch's per-process fd table equals /proc/PID/fd for
// every way a process gains or loses an fd.  life_all (tests/e2e/fixtures)
// goes through all of them and checkpoints its own ground truth; the live
// harness compares at each checkpoint marker (tests/common/live.h).
#include <gtest/gtest.h>

#include "common/live.h"
#include "common/require_root.h"

namespace fdw::test {
namespace {

std::string fixture(const char* name) { return std::string(FIXTURE_DIR) + "/" + name; }

void expect_no_problems(const CheckpointVerifier& v) {
  for (auto& p : v.problems()) ADD_FAILURE() << p;
}

TEST(Lifecycle, EveryWayToGainOrLoseAnFd) {
  FDW_REQUIRE_ROOT();
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string err;
  auto live = Live::start({fixture("life_all"), dir.path()}, Live::Options{}, &err);
  ASSERT_TRUE(live) << err;
  CheckpointVerifier v(dir.path());
  live->set_hook([&](const Event& e) { v.on_event(e, live->agg()); });
  ASSERT_TRUE(live->run(60)) << "life_all did not finish";
  EXPECT_EQ(live->exit_status(), 0);
  expect_no_problems(v);
  // 9 in the parent, 2 in the forked child before exec, 3 after it
  EXPECT_EQ(v.written().size(), 14u);
  EXPECT_EQ(v.seen(), v.written()) << "a checkpoint file without its marker";
  for (auto& r : v.refused()) std::printf("note: this kernel refused %s\n", r.c_str());
  EXPECT_EQ(live->agg().lost_events(), 0u);
}

}  // namespace
}  // namespace fdw::test
