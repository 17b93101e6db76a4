// "Every fd, exactly": fdwatch's per-process fd table equals /proc/PID/fd for
// every way a process gains or loses an fd.  life_all (tests/e2e/fixtures)
// goes through all of them and checkpoints its own ground truth; the live
// harness compares at each checkpoint marker (tests/common/live.h).
#include <gtest/gtest.h>

#include <sys/syscall.h>

#include "common/live.h"
#include "fdwatch_abi.h"
#include "probe/decoder.h"
#include "probe/probe.h"
#include "common/require_root.h"

namespace fdw::test {
namespace {

std::string fixture(const char* name) { return std::string(FIXTURE_DIR) + "/" + name; }

void expect_no_problems(const CheckpointVerifier& v) {
  for (auto& p : v.problems()) ADD_FAILURE() << p;
}

// DIR/<pid>.leaks (life_common.h): the fds each process should be reported
// to have leaked at exit; compares them with fdwatch's leaked_at_exit.
void expect_leaks(const std::string& dir, const Aggregator& agg, size_t want_files) {
  size_t files = 0;
  for (auto& de : std::filesystem::directory_iterator(dir)) {
    std::string name = de.path().filename();
    if (name.size() < 7 || name.substr(name.size() - 6) != ".leaks") continue;
    ++files;
    uint32_t pid = uint32_t(std::stoul(name));
    std::set<int> want, got;
    std::ifstream in(de.path());
    for (int fd; in >> fd;) want.insert(fd);
    SnapshotOptions so;
    so.pid = pid;
    Snapshot s = agg.snapshot(agg.window_start(), so);
    ASSERT_EQ(s.processes.size(), 1u) << "no process " << pid;
    const ProcView& v = s.processes[0];
    EXPECT_TRUE(v.exited) << pid;
    for (auto& f : v.leaked_at_exit) got.insert(f.fd);
    EXPECT_EQ(got, want) << "leaked_at_exit of " << pid;
  }
  EXPECT_EQ(files, want_files);
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
  // 10 in the parent, 2 in the forked child before exec, 3 after it
  EXPECT_EQ(v.written().size(), 15u);
  EXPECT_EQ(v.seen(), v.written()) << "a checkpoint file without its marker";
  for (auto& r : v.refused()) std::printf("note: this kernel refused %s\n", r.c_str());
  EXPECT_EQ(live->agg().lost_events(), 0u);
  // the parent, the exec'ed child, the CLONE_FILES child (which leaks nothing:
  // its table stays with the parent)
  expect_leaks(dir.path(), live->agg(), 3);
}

// io_uring opens, accepts, closes... without syscalls: paired from the
// io_uring_submit_req and io_uring_complete tracepoints.
TEST(Lifecycle, IoUringOperations) {
  FDW_REQUIRE_ROOT();
  TempDir dir;
  std::string err;
  auto live = Live::start({fixture("life_uring"), dir.path()}, Live::Options{}, &err);
  ASSERT_TRUE(live) << err;
  CheckpointVerifier v(dir.path());
  // io_uring closes reach the aggregator with their submission time (which
  // tells a reused fd number from the closed one): after the process's first
  // record, no later than the completion.
  int uring_closes = 0;
  uint64_t first_ts = 0;
  live->set_hook([&](const Event& e) {
    if (e.pid == uint32_t(live->pid()) && !first_ts) first_ts = e.ts_ns;
    if (e.type == EvType::Close && e.sys == FDW_SYS_IO_URING_CLOSE && e.pid == uint32_t(live->pid())) {
      ++uring_closes;
      EXPECT_GT(e.value, int64_t(first_ts)) << "close of fd " << e.fd;
      EXPECT_LE(e.value, int64_t(e.ts_ns)) << "close of fd " << e.fd;
    }
    v.on_event(e, live->agg());
  });
  ASSERT_TRUE(live->run(60)) << "life_uring did not finish";
  EXPECT_EQ(live->exit_status(), 0);
  EXPECT_GT(uring_closes, 0);
  expect_no_problems(v);
  EXPECT_EQ(v.written().size(), 6u);
  EXPECT_EQ(v.seen(), v.written());
  for (auto& r : v.refused()) std::printf("note: this kernel refused %s\n", r.c_str());
  EXPECT_FALSE(live->agg().inexact(uint32_t(live->pid())));
}

// A close with IOSQE_CQE_SKIP_SUCCESS posts no completion: fdwatch cannot
// see it, marks the process inexact and re-reads it from /proc.
TEST(Lifecycle, IoUringSkipSuccessResyncs) {
  FDW_REQUIRE_ROOT();
  TempDir dir;
  std::string err;
  Live::Options o;
  o.pipe_stdio = true;
  auto live = Live::start({fixture("life_uring"), dir.path(), "skip"}, o, &err);
  ASSERT_TRUE(live) << err;
  CheckpointVerifier v(dir.path(), /*allow_inexact=*/true);
  live->set_hook([&](const Event& e) { v.on_event(e, live->agg()); });
  ASSERT_TRUE(live->pump_until_readable(live->stdout_fd()));
  char buf[16] = {};
  ASSERT_EQ(read(live->stdout_fd(), buf, 8), 8);
  EXPECT_STREQ(buf, "skipped\n");
  ASSERT_TRUE(live->pump());  // what it did before it wrote
  const uint32_t pid = uint32_t(live->pid());
  EXPECT_FALSE(live->agg().inexact(pid));
  auto fds_of = [&] {
    SnapshotOptions so;
    so.pid = pid;
    std::map<int, FdView> out;
    Snapshot snap = live->agg().snapshot(monotonic_ns(), so);
    for (auto& f : snap.processes.at(0).fds) out[f.fd] = f;
    return out;
  };
  auto before = fds_of();
  live->session().tick();  // untracked -> inexact -> re-synced from /proc
  EXPECT_TRUE(live->agg().inexact(pid));
  // The re-sync changed only what /proc contradicts: the fd closed unseen is
  // gone, every other fd keeps its history (opened in the window or not).
  auto after = fds_of();
  EXPECT_EQ(after.size() + 1, before.size());
  for (auto& [fd, f] : after) {
    ASSERT_TRUE(before.count(fd)) << fd;
    EXPECT_EQ(f.seeded, before[fd].seeded) << fd;
    EXPECT_EQ(f.target, before[fd].target) << fd;
  }
  ASSERT_EQ(write(live->stdin_fd(), "g", 1), 1);
  ASSERT_TRUE(live->run(60));
  EXPECT_EQ(live->exit_status(), 0);
  expect_no_problems(v);  // the last checkpoint: the table equals the fixture's again
  EXPECT_EQ(v.inexact_seen(), 1);
  EXPECT_EQ(v.seen(), v.written());
  EXPECT_EQ(v.written().size(), 7u);
  EXPECT_EQ(live->agg().lost_events(), 0u) << "an untracked change is not a lost record";
}

// Lost events (a one-page ring, not drained while the fixture churns) mark
// the process inexact; the next tick re-syncs it from /proc.
TEST(Lifecycle, LostEventsMarkInexactAndResync) {
  FDW_REQUIRE_ROOT();
  TempDir dir;
  std::string err;
  Live::Options o;
  o.pipe_stdio = true;
  o.ring_bytes = uint64_t(sysconf(_SC_PAGESIZE));
  auto live = Live::start({fixture("life_churn"), dir.path(), "2", "500", "wait"}, o, &err);
  ASSERT_TRUE(live) << err;
  CheckpointVerifier v(dir.path(), /*allow_inexact=*/true);
  live->set_hook([&](const Event& e) { v.on_event(e, live->agg()); });
  char buf[16] = {};
  ASSERT_EQ(read(live->stdout_fd(), buf, 8), 8) << "no handshake from life_churn";  // not draining meanwhile
  EXPECT_STREQ(buf, "churned\n");
  ASSERT_TRUE(live->pump());
  const uint32_t pid = uint32_t(live->pid());
  live->session().tick();
  EXPECT_GT(live->agg().lost_events(), 0u);
  EXPECT_TRUE(live->agg().inexact(pid));
  ASSERT_EQ(write(live->stdin_fd(), "g", 1), 1);
  ASSERT_TRUE(live->run(60));
  EXPECT_EQ(live->exit_status(), 0);
  // The first checkpoint's marker may have been lost with the rest; the
  // last one comes after the re-sync and must match exactly.
  expect_no_problems(v);
  ASSERT_EQ(v.written().size(), 2u);
  EXPECT_TRUE(v.seen().count(std::to_string(pid) + ".2")) << "last checkpoint not seen";
  EXPECT_GE(v.inexact_seen(), 1);
}

// A tick that finds a watched process dead must not invent its exit while
// the real exit record (with the exit code) is still in the ring.
TEST(Lifecycle, ExitCodeSurvivesATickBeforeTheDrain) {
  FDW_REQUIRE_ROOT();
  std::string err;
  auto live = Live::start({"/bin/sh", "-c", "exit 3"}, Live::Options{}, &err);
  ASSERT_TRUE(live) << err;
  siginfo_t si{};
  // exited, not reaped (a zombie), and nothing drained yet
  ASSERT_EQ(waitid(P_PID, id_t(live->pid()), &si, WEXITED | WNOWAIT), 0);
  live->session().tick();
  ASSERT_TRUE(live->run(30));
  EXPECT_EQ(live->exit_status(), 3);
  SnapshotOptions so;
  so.pid = uint32_t(live->pid());
  Snapshot s = live->agg().snapshot(monotonic_ns(), so);
  ASSERT_EQ(s.processes.size(), 1u);
  EXPECT_TRUE(s.processes[0].exited);
  EXPECT_EQ(s.processes[0].exit_code, 3);
  EXPECT_FALSE(s.processes[0].inexact);
}

// Records are written when calls return.  With threads, a close's record can
// come after the record of another thread's open or dup that got the freed
// number (life_all's threads hit this now and then; this pins it down).
TEST(LifecycleOrder, CloseRecordAfterAnotherThreadReusedTheFd) {
  Aggregator agg;
  auto ev = [](EvType t, uint64_t ts, int fd) {
    Event e;
    e.type = t;
    e.ts_ns = ts;
    e.pid = 100;
    e.tid = 100;
    e.fd = fd;
    e.kind = Kind::File;
    e.target = "/f" + std::to_string(fd);
    e.sys = t == EvType::Close ? FDW_SYS_CLOSE : FDW_SYS_OPENAT;
    return e;
  };
  agg.apply(ev(EvType::Open, 5, 3));
  agg.apply(ev(EvType::Open, 10, 7));
  // thread A: close(7) enters at 20 and frees 7; thread B: dup(3) gets 7
  // and returns first (30); A's close returns at 31.
  Event dup = ev(EvType::Dup, 30, 7);
  dup.fd2 = 3;
  dup.sys = FDW_SYS_DUP;
  agg.apply(dup);
  Event close_a = ev(EvType::Close, 31, 7);
  close_a.flags = kCloseFdReused;  // the kernel saw 7 taken again when close returned
  agg.apply(close_a);
  // same with an open, for an io_uring close, which carries its submission
  // time: close(8) submitted at 50, another thread's open gets 8 at 60
  agg.apply(ev(EvType::Open, 40, 8));
  agg.apply(ev(EvType::Open, 60, 8));
  Event close_b = ev(EvType::Close, 61, 8);
  close_b.value = 50;
  agg.apply(close_b);
  // an ordinary close
  Event close_c = ev(EvType::Close, 71, 3);
  agg.apply(close_c);
  // the flagged close applied before the other thread's open record: the old
  // entry stays until that open replaces it
  agg.apply(ev(EvType::Open, 72, 9));
  Event close_d = ev(EvType::Close, 74, 9);
  close_d.flags = kCloseFdReused;
  agg.apply(close_d);
  Event open_9 = ev(EvType::Open, 73, 9);
  open_9.target = "/new9";
  agg.apply(open_9);
  // dup2 onto an open fd does close it
  Event dup2 = ev(EvType::Dup, 80, 8);
  dup2.fd2 = 7;
  dup2.sys = FDW_SYS_DUP2;
  agg.apply(dup2);

  Snapshot s = agg.snapshot(100);
  ASSERT_EQ(s.processes.size(), 1u);
  const ProcView& v = s.processes[0];
  std::set<int> fds;
  for (auto& f : v.fds) fds.insert(f.fd);
  EXPECT_EQ(fds, (std::set<int>{7, 8, 9}));
  for (auto& f : v.fds) {
    if (f.fd == 9) {
      EXPECT_EQ(f.target, "/new9");
    }
  }
  EXPECT_EQ(v.opened, 8u);  // 3, 7, dup->7, 8, 8, 9, 9 again, dup2->8
  EXPECT_EQ(v.closed, 5u);  // close(7), close(8), close(3), close(9), dup2's implicit close of 8
}

}  // namespace
}  // namespace fdw::test
