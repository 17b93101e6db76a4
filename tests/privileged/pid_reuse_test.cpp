// A watched process whose exit record is lost (ring buffer full) and whose
// pid is handed out again before fdwatch looks: the newcomer must not be
// merged into the old process's table.  The start time in /proc/PID/stat
// tells the two apart.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "pipeline/session.h"
#include "common/require_root.h"

using namespace fdw;

namespace {

// Forks a child that waits for one byte on `go`, then runs `body` and exits.
template <class F>
pid_t child(int go, F body) {
  pid_t p = fork();
  if (p == 0) {
    char c;
    if (read(go, &c, 1) != 1) _exit(1);
    body();
    _exit(0);
  }
  return p;
}

// Makes the next fork get `pid` (ns_last_pid of the host's pid namespace);
// returns the child holding 7 fds until it is killed, or -1.
pid_t fork_as(pid_t pid, int ready) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    FILE* f = fopen("/proc/sys/kernel/ns_last_pid", "w");
    if (!f) return -1;
    fprintf(f, "%d", pid - 1);
    fclose(f);
    pid_t b = fork();
    if (b == 0) {
      if (getpid() != pid) _exit(0);  // another fork got there first
      for (int i = 0; i < 7; ++i) open("/dev/null", O_RDONLY);
      (void)!write(ready, "r", 1);
      for (;;) pause();
    }
    if (b == pid) return b;
    waitpid(b, nullptr, 0);
  }
  return -1;
}

}  // namespace

TEST(PidReuse, LostExitAndReusedPidIsNeverMerged) {
  FDW_REQUIRE_ROOT();
  int go[2], ready[2];
  ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  // A churns far more than the ring holds, then exits: its exit record is lost
  pid_t a = child(go[0], [] {
    for (int i = 0; i < 200000; ++i) close(open("/dev/null", O_RDONLY));
  });
  ASSERT_GT(a, 0);
  Aggregator agg;
  SessionOptions so;
  so.pids = {uint32_t(a)};
  so.ring_bytes = 64 * 1024;
  auto s = Session::open(so, agg);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE((*s)->start());
  const uint64_t seeded = agg.table(uint32_t(a))->size();
  ASSERT_EQ(write(go[1], "g", 1), 1);
  ASSERT_EQ(waitpid(a, nullptr, 0), a);  // nobody drains meanwhile

  pid_t b = fork_as(a, ready[1]);
  ASSERT_EQ(b, a) << "could not get pid " << a << " handed out again";
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);

  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*s)->poll());
  (*s)->tick();
  ASSERT_GT((*s)->stats().drops, 0u);
  Snapshot snap = agg.snapshot(monotonic_ns());
  ASSERT_EQ(snap.processes.size(), 1u);
  const ProcView& p = snap.processes[0];
  EXPECT_EQ(p.pid, uint32_t(a));
  EXPECT_TRUE(p.exited);  // the old process is over...
  EXPECT_EQ(p.open_fds, 0u);
  EXPECT_TRUE(p.inexact);
  EXPECT_EQ(p.inexact_reason, "lost_events");
  // ...holding what it held (give or take the open whose close was lost),
  // not B's 7 more
  EXPECT_LE(p.open_at_exit, seeded + 1);
  EXPECT_TRUE((*s)->all_exited());
  kill(b, SIGKILL);
  waitpid(b, nullptr, 0);
}

// The first target is matched in the kernel before the targets map is looked
// up; once it has exited, a newcomer given its pid is not traced at all.
TEST(PidReuse, NewcomerOnAnExitedTargetsPidIsNotTraced) {
  FDW_REQUIRE_ROOT();
  int go[2], ready[2];
  ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  pid_t a = child(go[0], [] { close(open("/dev/null", O_RDONLY)); });
  ASSERT_GT(a, 0);
  Aggregator agg;
  SessionOptions so;
  so.pids = {uint32_t(a)};
  auto s = Session::open(so, agg);
  ASSERT_TRUE(s) << s.error().message;
  bool exited = false;
  int opens = 0, after_exit = 0;
  (*s)->set_sink([&](const Event& e) {
    if (e.pid != uint32_t(a)) return;
    if (exited) ++after_exit;
    if (e.type == EvType::Open) ++opens;
    if (e.type == EvType::Exit) exited = true;
  });
  ASSERT_TRUE((*s)->start());
  ASSERT_EQ(write(go[1], "g", 1), 1);
  ASSERT_EQ(waitpid(a, nullptr, 0), a);
  for (int i = 0; i < 1000 && !exited; ++i) ASSERT_TRUE((*s)->poll());
  ASSERT_TRUE(exited);
  EXPECT_EQ(opens, 1);

  pid_t b = fork_as(a, ready[1]);
  ASSERT_EQ(b, a) << "could not get pid " << a << " handed out again";
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);  // its 7 opens are done
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*s)->poll());
  EXPECT_EQ(after_exit, 0) << "records of the process that got pid " << a;
  kill(b, SIGKILL);
  waitpid(b, nullptr, 0);
}
