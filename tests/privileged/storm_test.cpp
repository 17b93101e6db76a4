// System-wide following under a storm of short-lived processes: every exit
// is seen, exited processes leave after the grace period, memory shrinks back.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include "pipeline/session.h"
#include "common/require_root.h"

using namespace fdw;

TEST(Storm, ThousandsOfShortLivedProcessesComeAndGo) {
  FDW_REQUIRE_ROOT();
  AggOptions ao;
  ao.exited_ttl_s = 1;
  Aggregator agg(ao);
  SessionOptions so;
  so.all = true;
  auto s = Session::open(so, agg);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE((*s)->start());
  const size_t baseline = agg.process_count();
  // The storm comes from a shell, not from this process: fdwatch never
  // traces its own tgid, so children of the test would fork unseen.
  constexpr int kChildren = 3000;
  pid_t sh = fork();
  if (sh == 0) {
    execl("/bin/sh", "sh", "-c",
          "i=0; while [ $i -lt 3000 ]; do /bin/true; i=$((i+1)); done", (char*)nullptr);
    _exit(127);
  }
  ASSERT_GT(sh, 0);
  size_t peak = 0;
  int status = 0;
  while (waitpid(sh, &status, WNOHANG) == 0) {
    ASSERT_TRUE((*s)->poll());
    peak = std::max(peak, agg.process_count());
  }
  ASSERT_EQ(status, 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*s)->poll());
  peak = std::max(peak, agg.process_count());
  size_t exited = 0;
  for (auto& p : agg.snapshot(monotonic_ns(), SnapshotOptions{false, false, {}}).processes)
    exited += p.exited;
  EXPECT_GE(peak, baseline + kChildren * 9 / 10);
  EXPECT_GE(exited, size_t(kChildren));  // every /bin/true, seen exiting (and the shell)
  // after the grace period the table shrinks back
  usleep(1200 * 1000);
  ASSERT_TRUE((*s)->poll());
  (*s)->tick();
  EXPECT_LE(agg.process_count(), baseline + 50) << "peak " << peak;
  // (Drops depend on what else the host does meanwhile, this being
  // system-wide; lost-event handling has its own test.)
}
