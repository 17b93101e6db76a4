// The aggregator driven by event tables: every expectation is exact.
#include <gtest/gtest.h>

#include <cerrno>

#include "core/aggregator.h"
#include "fdwatch_abi.h"

using namespace fdw;

namespace {

constexpr uint64_t kS = 1'000'000'000ull;

Event ev(EvType t, uint64_t ts, uint32_t pid) {
  Event e;
  e.type = t;
  e.ts_ns = ts;
  e.pid = pid;
  return e;
}

Event open_ev(uint64_t ts, uint32_t pid, int fd, Kind k = Kind::File, std::string target = "/f",
              bool cloexec = false) {
  Event e = ev(EvType::Open, ts, pid);
  e.sys = 2;  // openat
  e.fd = fd;
  e.kind = k;
  e.target = std::move(target);
  e.cloexec = cloexec;
  return e;
}

Event fail_ev(uint64_t ts, uint32_t pid, int err) {
  Event e = ev(EvType::Open, ts, pid);
  e.sys = 6;  // socket
  e.err = err;
  e.kind = Kind::Socket;
  return e;
}

Event close_ev(uint64_t ts, uint32_t pid, int fd, int err = 0) {
  Event e = ev(EvType::Close, ts, pid);
  e.sys = 40;
  e.fd = fd;
  e.err = err;
  return e;
}

Event seed_ev(uint64_t ts, uint32_t pid, std::vector<SeedFd> fds) {
  Event e = ev(EvType::Snapshot, ts, pid);
  e.fds = std::move(fds);
  e.comm = "svc";
  return e;
}

std::vector<int> fds_of(const ProcView& p) {
  std::vector<int> out;
  for (auto& f : p.fds) out.push_back(f.fd);
  std::sort(out.begin(), out.end());
  return out;
}

ProcView only(const Snapshot& s) {
  EXPECT_EQ(s.processes.size(), 1u);
  return s.processes.at(0);
}

}  // namespace

TEST(Aggregator, SeedThenOpenCloseCountsOnlyTheWindow) {
  Aggregator a;
  a.set_window_start(0);
  a.apply(seed_ev(0, 10, {{0, Kind::File, "/dev/null", false}, {1, Kind::Pipe, "pipe:[5]", false}}));
  a.apply(open_ev(1 * kS, 10, 3));
  a.apply(open_ev(2 * kS, 10, 4, Kind::Socket, "tcp 1.2.3.4:5->6.7.8.9:80"));
  a.apply(close_ev(3 * kS, 10, 3));
  auto p = only(a.snapshot(4 * kS));
  EXPECT_EQ(p.open_fds, 3u);
  EXPECT_EQ(fds_of(p), (std::vector<int>{0, 1, 4}));
  EXPECT_EQ(p.opened, 2u);
  EXPECT_EQ(p.closed, 1u);
  EXPECT_EQ(p.by_kind.at("socket"), 1u);
  EXPECT_EQ(p.by_kind.at("pipe"), 1u);
  EXPECT_EQ(p.by_kind.at("file"), 1u);
  EXPECT_EQ(p.comm, "svc");
  EXPECT_FALSE(p.inexact);
  // oldest first: seeded fds are as old as the window, then fd 4 (2 s)
  EXPECT_EQ(p.fds.front().fd, 0);
  EXPECT_TRUE(p.fds.front().seeded);
  EXPECT_EQ(p.fds.back().fd, 4);
  EXPECT_DOUBLE_EQ(p.fds.back().age_s, 2.0);
  EXPECT_EQ(p.syscalls.at("openat"), 2u);
  EXPECT_EQ(p.syscalls.at("close"), 1u);
}

TEST(Aggregator, FailuresByErrnoAndRestartCodesIgnored) {
  Aggregator a;
  a.apply(seed_ev(0, 7, {}));
  for (int i = 0; i < 31; ++i) a.apply(fail_ev(kS, 7, EMFILE));
  a.apply(fail_ev(kS, 7, ENFILE));
  a.apply(fail_ev(kS, 7, 512));  // ERESTARTSYS: a signal, not a failure
  auto p = only(a.snapshot(2 * kS));
  EXPECT_EQ(p.failed.size(), 2u);
  EXPECT_EQ(p.failed.at("EMFILE"), 31u);
  EXPECT_EQ(p.failed.at("ENFILE"), 1u);
  EXPECT_EQ(p.opened, 0u);
}

// Failed calls count in `syscalls` and change nothing; a restart code is
// not a return (the kernel runs the call again).
TEST(Aggregator, FailedCallsCountAndChangeNothing) {
  Aggregator a;
  a.apply(seed_ev(0, 7, {{5, Kind::File, "/a", false}}));
  Event r = ev(EvType::CloseRange, kS, 7);
  r.sys = FDW_SYS_CLOSE_RANGE;
  r.fd = 0;
  r.value = 100;
  r.err = EINVAL;
  a.apply(r);
  Event x = ev(EvType::Cloexec, kS, 7);
  x.sys = FDW_SYS_FCNTL;
  x.fd = 5;
  x.value = 1;
  x.err = EBADF;
  a.apply(x);
  Event b = ev(EvType::SockAddr, kS, 7);
  b.sys = FDW_SYS_BIND;
  b.fd = 5;
  b.err = EADDRINUSE;
  b.target = "tcp 127.0.0.1:80";
  a.apply(b);
  Event c = ev(EvType::Call, kS, 7);
  c.sys = FDW_SYS_SIGNALFD4;
  c.fd = 5;
  a.apply(c);
  Event restarted = b;
  restarted.sys = FDW_SYS_CONNECT;
  restarted.err = 512;  // ERESTARTSYS
  a.apply(restarted);
  auto p = only(a.snapshot(2 * kS));
  EXPECT_EQ(fds_of(p), (std::vector<int>{5}));
  EXPECT_EQ(p.fds[0].kind, Kind::File);
  EXPECT_EQ(p.fds[0].target, "/a");
  EXPECT_FALSE(p.fds[0].cloexec);
  EXPECT_EQ(p.closed, 0u);
  EXPECT_EQ(p.opened, 0u);
  EXPECT_TRUE(p.failed.empty());
  EXPECT_EQ(p.syscalls, (std::map<std::string, uint64_t>{
                            {"close_range", 1}, {"fcntl", 1}, {"bind", 1}, {"signalfd4", 1}}));
}

TEST(Aggregator, CloseEbadfChangesNothingButEintrStillCloses) {
  Aggregator a;
  a.apply(seed_ev(0, 7, {{5, Kind::File, "/a", false}, {6, Kind::File, "/b", false}}));
  a.apply(close_ev(kS, 7, 5, EBADF));
  a.apply(close_ev(kS, 7, 6, EINTR));
  auto p = only(a.snapshot(2 * kS));
  EXPECT_EQ(fds_of(p), (std::vector<int>{5}));
  EXPECT_EQ(p.closed, 1u);
}

TEST(Aggregator, Dup2OntoOpenFdClosesItAndCopiesTheSource) {
  Aggregator a;
  a.apply(seed_ev(0, 3, {{1, Kind::File, "/dev/pts/0", false}}));
  a.apply(open_ev(kS, 3, 4, Kind::File, "/var/log/x"));
  Event d = ev(EvType::Dup, 2 * kS, 3);
  d.sys = 11;
  d.fd = 1;
  d.fd2 = 4;
  a.apply(d);
  auto p = only(a.snapshot(3 * kS));
  EXPECT_EQ(fds_of(p), (std::vector<int>{1, 4}));
  auto it = std::find_if(p.fds.begin(), p.fds.end(), [](auto& f) { return f.fd == 1; });
  EXPECT_EQ(it->target, "/var/log/x");
  EXPECT_FALSE(it->seeded);
  EXPECT_EQ(p.opened, 2u);
  EXPECT_EQ(p.closed, 1u);
}

TEST(Aggregator, ExecClosesOnlyCloseOnExecFds) {
  Aggregator a;
  a.apply(seed_ev(0, 3, {{0, Kind::File, "/dev/null", false}}));
  a.apply(open_ev(kS, 3, 3, Kind::File, "/a", true));
  a.apply(open_ev(kS, 3, 4, Kind::File, "/b", false));
  Event c = ev(EvType::Cloexec, kS, 3);
  c.fd = 4;
  c.value = 1;
  a.apply(c);
  a.apply(open_ev(kS, 3, 5, Kind::File, "/c", true));
  c.fd = 5;
  c.value = 0;  // FIONCLEX
  a.apply(c);
  Event x = ev(EvType::Exec, 2 * kS, 3);
  x.comm = "newprog";
  a.apply(x);
  auto p = only(a.snapshot(3 * kS));
  EXPECT_EQ(fds_of(p), (std::vector<int>{0, 5}));
  EXPECT_EQ(p.comm, "newprog");
}

TEST(Aggregator, CloseRangeClosesOrMarks) {
  Aggregator a;
  a.apply(seed_ev(0, 3, {}));
  for (int fd = 3; fd <= 9; ++fd) a.apply(open_ev(kS, 3, fd));
  Event r = ev(EvType::CloseRange, 2 * kS, 3);
  r.fd = 5;
  r.value = 7;
  a.apply(r);
  r.fd = 8;
  r.value = 0xffffffffll;  // ~0U: to the end
  r.flags = kCloseRangeCloexec;
  a.apply(r);
  a.apply(ev(EvType::Exec, 3 * kS, 3));
  auto p = only(a.snapshot(4 * kS));
  EXPECT_EQ(fds_of(p), (std::vector<int>{3, 4}));
  EXPECT_EQ(p.closed, 5u);  // 5,6,7 by close_range, 8,9 at exec
}

TEST(Aggregator, ForkCopiesTableAndSharedFilesShareIt) {
  Aggregator a;
  a.apply(seed_ev(0, 100, {{0, Kind::File, "/dev/null", false}}));
  a.apply(open_ev(kS, 100, 3));
  Event f = ev(EvType::Fork, 2 * kS, 100);
  f.child = 101;
  a.apply(f);
  f.child = 102;
  f.shared_files = true;
  a.apply(f);
  a.apply(open_ev(3 * kS, 101, 4));      // only the copy
  a.apply(open_ev(3 * kS, 102, 5));      // shared with the parent
  a.apply(close_ev(4 * kS, 100, 0));     // parent closes: shared sees it, copy does not
  auto s = a.snapshot(5 * kS);
  ASSERT_EQ(s.processes.size(), 3u);
  EXPECT_EQ(fds_of(s.processes[0]), (std::vector<int>{3, 5}));
  EXPECT_EQ(fds_of(s.processes[1]), (std::vector<int>{0, 3, 4}));
  EXPECT_EQ(fds_of(s.processes[2]), (std::vector<int>{3, 5}));
  EXPECT_EQ(s.processes[1].ppid, 100u);
}

TEST(Aggregator, ExitKeepsWhatItOpenedItselfAsLeaked) {
  Aggregator a;
  a.apply(seed_ev(0, 100, {{0, Kind::File, "/dev/null", false}}));
  a.apply(open_ev(kS, 100, 3));  // inherited by the child
  Event f = ev(EvType::Fork, 2 * kS, 100);
  f.child = 101;
  a.apply(f);
  Event s1 = open_ev(3 * kS, 101, 4, Kind::Socket, "tcp 10.0.0.1:40000->10.0.0.2:443");
  s1.site = "main.callBackend";
  a.apply(s1);
  Event s2 = open_ev(4 * kS, 101, 5, Kind::Socket, "tcp 10.0.0.1:40001->10.0.0.2:443");
  s2.site = "main.callBackend";
  a.apply(s2);
  Event x = ev(EvType::Exit, 5 * kS, 101);
  x.value = 0;
  a.apply(x);
  auto s = a.snapshot(6 * kS, SnapshotOptions{true, false, 101u});
  auto p = only(s);
  EXPECT_TRUE(p.exited);
  EXPECT_EQ(p.open_fds, 0u);
  EXPECT_TRUE(p.fds.empty());
  EXPECT_EQ(p.open_at_exit, 4u);
  ASSERT_EQ(p.leaked_at_exit.size(), 2u);
  ASSERT_EQ(p.suspects.size(), 1u);
  EXPECT_EQ(p.suspects[0].site, "main.callBackend");
  EXPECT_EQ(p.suspects[0].target, "tcp ->10.0.0.2:443");
  EXPECT_EQ(p.suspects[0].count, 2u);
  EXPECT_DOUBLE_EQ(p.suspects[0].oldest_age_s, 2.0);
  EXPECT_EQ(p.exit_code, 0);
}

TEST(Aggregator, LeakRateAndTimeToLimit) {
  Aggregator a;
  a.set_window_start(0);
  a.apply(seed_ev(0, 9, {}));
  Event l = ev(EvType::Limit, 0, 9);
  l.value = 1024;
  a.apply(l);
  // 50 fds/s for 10 s, one every 20 ms
  for (int i = 0; i < 500; ++i) a.apply(open_ev(uint64_t(i + 1) * 20'000'000ull, 9, 3 + i));
  a.tick(10 * kS);
  auto p = only(a.snapshot(10 * kS));
  ASSERT_TRUE(p.leak_rate_per_s.has_value());
  EXPECT_NEAR(*p.leak_rate_per_s, 50.0, 0.5);
  ASSERT_TRUE(p.time_to_limit_s.has_value());
  EXPECT_NEAR(*p.time_to_limit_s, (1024.0 - 500.0) / 50.0, 0.2);
}

// A process that lived half a second "grew" by thousands per second; its
// rate is unknown however long it stays listed, and it has no ETA.
TEST(Aggregator, ShortLivedProcessHasNoRate) {
  Aggregator a;
  a.set_window_start(0);
  a.apply(seed_ev(0, 9, {}));
  Event l = ev(EvType::Limit, 0, 9);
  l.value = 1024;
  a.apply(l);
  for (int i = 0; i < 40; ++i) a.apply(open_ev(kS + uint64_t(i) * 10'000'000ull, 9, 3 + i));
  a.tick(kS + 500'000'000);
  Event x = ev(EvType::Exit, kS + 600'000'000, 9);
  a.apply(x);
  for (uint64_t t = 2; t <= 6; ++t) a.tick(t * kS);
  auto p = only(a.snapshot(6 * kS));
  EXPECT_FALSE(p.leak_rate_per_s.has_value());
  EXPECT_FALSE(p.time_to_limit_s.has_value());
}

// A process seen for a moment: one fd it held at exit is no leak, a burst of
// them from one site is (a program that leaks and exits quickly).
TEST(Aggregator, BrieflySeenSiteLeaksOnlyAsABurst) {
  auto run = [](int fds) {
    Aggregator a;
    a.set_window_start(0);
    a.apply(seed_ev(0, 9, {}));
    for (int i = 0; i < fds; ++i) {
      Event o = open_ev(kS + uint64_t(i) * 1'000'000ull, 9, 3 + i);
      o.site = "leak (app.c:8)";
      a.apply(o);
    }
    a.apply(ev(EvType::Exit, kS + 200'000'000ull, 9));
    auto p = only(a.snapshot(2 * kS));
    EXPECT_EQ(p.suspects.size(), 1u);
    return p.suspects.empty() ? false : p.suspects[0].leaking;
  };
  EXPECT_FALSE(run(1));
  EXPECT_FALSE(run(4));
  EXPECT_TRUE(run(5));
}

// The rate becomes known once the samples span 2 s: not before.
TEST(Aggregator, RateIsKnownAfterTwoSecondsOfSamples) {
  Aggregator a;
  a.set_window_start(0);
  a.apply(seed_ev(0, 9, {}));
  int fd = 3;
  uint64_t t = 0;
  auto run_until = [&](uint64_t end) {
    for (; t < end; t += 50'000'000ull) {  // 20 fds/s
      a.apply(open_ev(t, 9, fd++));
      if (t % kS == 0) a.tick(t);
    }
  };
  run_until(1'900'000'000ull);
  EXPECT_FALSE(only(a.snapshot(t)).leak_rate_per_s.has_value());
  run_until(4 * kS + 1);
  auto p = only(a.snapshot(t));
  ASSERT_TRUE(p.leak_rate_per_s.has_value());
  EXPECT_NEAR(*p.leak_rate_per_s, 20.0, 0.5);
}

TEST(Aggregator, ChurnHasNoLeakRateAndNoEta) {
  Aggregator a;
  a.set_window_start(0);
  a.apply(seed_ev(0, 9, {{0, Kind::File, "/dev/null", false}}));
  Event l = ev(EvType::Limit, 0, 9);
  l.value = 1024;
  a.apply(l);
  uint64_t t = 0;
  for (int i = 0; i < 5000; ++i) {
    t += 1'000'000;  // 1000 open+close per second
    a.apply(open_ev(t, 9, 3));
    a.apply(close_ev(t + 500'000, 9, 3));
    if (i % 1000 == 999) a.tick(t + 600'000);
  }
  auto p = only(a.snapshot(t + kS));
  ASSERT_TRUE(p.leak_rate_per_s.has_value());
  EXPECT_NEAR(*p.leak_rate_per_s, 0.0, 0.01);
  EXPECT_FALSE(p.time_to_limit_s.has_value());
  EXPECT_EQ(p.opened, 5000u);
  EXPECT_EQ(p.closed, 5000u);
  EXPECT_NEAR(p.open_per_s, 1000.0, 1.0);
}

TEST(Aggregator, LostEventsMarkInexactAndResyncReplacesTable) {
  Aggregator a;
  a.apply(seed_ev(0, 5, {{0, Kind::File, "/dev/null", false}}));
  a.apply(open_ev(kS, 5, 3));
  Event lost = ev(EvType::Lost, 2 * kS, 5);
  lost.value = 12;
  a.apply(lost);
  EXPECT_TRUE(a.inexact(5));
  EXPECT_EQ(a.inexact_live_pids(), (std::vector<uint32_t>{5}));
  a.apply(seed_ev(3 * kS, 5, {{0, Kind::File, "/dev/null", false}, {7, Kind::Pipe, "pipe:[1]", false}}));
  auto p = only(a.snapshot(4 * kS));
  EXPECT_EQ(fds_of(p), (std::vector<int>{0, 7}));
  EXPECT_TRUE(p.inexact);  // stays marked: counts may be short
  EXPECT_EQ(p.inexact_reason, "lost_events");
}

// /proc listed the fds but readlink gave EACCES: every listed fd counts, of
// unknown kind, and the process says why it is inexact.
TEST(Aggregator, UnreadableLinksCountTheListingAndMarkTheReason) {
  Aggregator a;
  Event s = seed_ev(0, 5, {{0, Kind::Other, "", false}, {1, Kind::Other, "", false}, {7, Kind::Other, "", false}});
  s.flags = kSnapshotLinksUnreadable;
  a.apply(s);
  a.apply(open_ev(kS, 5, 8));  // new fds still come exact from the kernel
  a.apply(ev(EvType::Lost, 2 * kS, 5));  // a later cause does not replace the first
  auto p = only(a.snapshot(3 * kS));
  EXPECT_EQ(p.open_fds, 4u);
  EXPECT_EQ(fds_of(p), (std::vector<int>{0, 1, 7, 8}));
  EXPECT_EQ(p.by_kind.at("other"), 3u);
  EXPECT_TRUE(p.inexact);
  EXPECT_EQ(p.inexact_reason, "links_unreadable");
  EXPECT_EQ(a.inexact_live_pids(), (std::vector<uint32_t>{5}));  // re-read from /proc each tick
}

TEST(Aggregator, PidReuseStartsFresh) {
  Aggregator a;
  a.apply(seed_ev(0, 5, {{0, Kind::File, "/dev/null", false}}));
  a.apply(open_ev(kS, 5, 3));
  a.apply(ev(EvType::Exit, 2 * kS, 5));
  a.apply(open_ev(3 * kS, 5, 9));  // a new process with the same pid
  auto p = only(a.snapshot(4 * kS));
  EXPECT_FALSE(p.exited);
  EXPECT_TRUE(p.inexact);  // we did not see it start
  EXPECT_EQ(p.inexact_reason, "unseen_start");
  EXPECT_EQ(fds_of(p), (std::vector<int>{9}));
  EXPECT_EQ(p.opened, 1u);
}

TEST(Aggregator, WithoutExitDetailAnExitedProcessKeepsItsCountersOnly) {
  AggOptions o;
  o.exit_detail = false;
  Aggregator a(o);
  a.set_window_start(0);
  a.apply(seed_ev(0, 100, {}));
  for (int fd = 3; fd < 6; ++fd) {
    Event e = open_ev(kS + uint64_t(fd), 100, fd);
    e.site = "main.leak";
    a.apply(e);
  }
  a.apply(close_ev(2 * kS, 100, 3));
  a.apply(fail_ev(2 * kS, 100, EMFILE));
  a.apply(ev(EvType::Exit, 3 * kS, 100));
  auto p = only(a.snapshot(4 * kS, SnapshotOptions{true, false, 100u}));
  EXPECT_TRUE(p.exited);
  EXPECT_EQ(p.open_fds, 0u);
  EXPECT_EQ(p.open_at_exit, 2u);
  EXPECT_TRUE(p.leaked_at_exit.empty());
  EXPECT_TRUE(p.suspects.empty());
  EXPECT_EQ(p.opened, 3u);
  EXPECT_EQ(p.closed, 1u);
  EXPECT_EQ(p.failed.at("EMFILE"), 1u);
}

TEST(Aggregator, ExitedProcessesExpireAfterTtl) {
  AggOptions o;
  o.exited_ttl_s = 5;
  Aggregator a(o);
  for (uint32_t pid = 1; pid <= 1000; ++pid) {
    a.apply(seed_ev(0, pid, {}));
    a.apply(ev(EvType::Exit, kS, pid));
  }
  a.apply(seed_ev(0, 5000, {}));
  a.tick(3 * kS);
  EXPECT_EQ(a.process_count(), 1001u);
  a.tick(7 * kS);
  EXPECT_EQ(a.process_count(), 1u);
}
