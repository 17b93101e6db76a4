// Stacks -> sites (user/stacks/): the runtime table and site choice, the hint
// table (user/core/hints.h), and what the aggregator makes of sites: one
// suspect per leak, target summaries, per-site growth and the verdict.  Pure;
// frames are built by hand as the Symbolizer would return them.
#include <gtest/gtest.h>

#include <cerrno>

#include "core/aggregator.h"
#include "core/hints.h"
#include "core/suspects.h"
#include "stacks/runtimes.h"
#include "stacks/sites.h"
#include "views/report.h"

using namespace fdw;

namespace {

constexpr uint64_t kS = 1'000'000'000ull;

Frame frame(std::string fn, std::string file, int line, std::string module, uint64_t off = 0) {
  Frame f;
  f.function = std::move(fn);
  f.file = std::move(file);
  f.line = line;
  f.module = std::move(module);
  f.module_offset = off;
  f.ip = 0x1000 + off;
  return f;
}

Frame go(std::string fn, std::string file, int line) {
  return frame(std::move(fn), "/usr/lib/go-1.19/src/" + file, line, "svc");
}

// A Go 1.19 net/http dial as the unwinder returns it (the transport's goroutine).
std::vector<Frame> go_dial() {
  return {go("runtime/internal/syscall.Syscall6", "runtime/internal/syscall/asm_linux_amd64.s", 36),
          go("syscall.RawSyscall6", "syscall/syscall_linux.go", 62),
          go("syscall.Syscall", "syscall/syscall_linux.go", 82),
          go("syscall.socket", "syscall/zsyscall_linux_amd64.go", 1710),
          go("syscall.Socket", "syscall/syscall_unix.go", 458),
          go("net.sysSocket", "net/sock_cloexec.go", 20),
          go("net.socket", "net/sock_posix.go", 25),
          go("net.internetSocket", "net/ipsock_posix.go", 142),
          go("net.(*sysDialer).doDialTCP", "net/tcpsock_posix.go", 74),
          go("net.(*sysDialer).dialTCP", "net/tcpsock_posix.go", 64),
          go("net.(*sysDialer).dialSingle", "net/dial.go", 582),
          go("net.(*sysDialer).dialSerial", "net/dial.go", 550),
          go("net.(*Dialer).DialContext", "net/dial.go", 427),
          go("net/http.(*Transport).dial", "net/http/transport.go", 1181),
          go("net/http.(*Transport).dialConn", "net/http/transport.go", 1619),
          go("net/http.(*Transport).dialConnFor", "net/http/transport.go", 1457),
          go("runtime.goexit", "runtime/asm_amd64.s", 1594)};
}

std::vector<std::string> texts(std::initializer_list<const char*> l) { return {l.begin(), l.end()}; }

}  // namespace

// ---- the runtime table and site choice --------------------------------------

TEST(Runtimes, OneRowPerRuntimeTheCRuntimeFirstAndAlwaysOn) {
  const auto& t = runtimes();
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].name, "c");
  EXPECT_TRUE(t[0].always);
  EXPECT_EQ(t[1].name, "go");
  EXPECT_EQ(t[2].name, "python");
  auto on = runtimes_on({frame("main", "a.c", 3, "app")});
  ASSERT_EQ(on.size(), 1u);
  EXPECT_EQ(on[0]->name, "c");
  on = runtimes_on(go_dial());
  ASSERT_EQ(on.size(), 2u);
  EXPECT_EQ(on[1]->name, "go");
  on = runtimes_on({frame("_PyEval_EvalFrameDefault", "", 0, "python3.11")});
  ASSERT_EQ(on.size(), 2u);
  EXPECT_EQ(on[1]->name, "python");
}

TEST(Runtimes, FrameRolesFollowTheTable) {
  auto on = runtimes_on(go_dial());
  EXPECT_EQ(frame_role(go("syscall.socket", "x.go", 1), on), FrameRole::Runtime);
  EXPECT_EQ(frame_role(go("os.OpenFile", "x.go", 1), on), FrameRole::Runtime);
  EXPECT_EQ(frame_role(go("internal/poll.(*FD).Init", "x.go", 1), on), FrameRole::Runtime);
  EXPECT_EQ(frame_role(go("net/http.(*Transport).dialConn", "x.go", 1), on), FrameRole::Entry);
  EXPECT_EQ(frame_role(go("main.openSegment", "main.go", 1), on), FrameRole::Program);
  EXPECT_EQ(frame_role(go("github.com/lib/pq.dial", "conn.go", 1), on), FrameRole::Program);
  EXPECT_EQ(frame_role(frame("__open", "", 0, "libc.so.6"), on), FrameRole::Runtime);
  EXPECT_EQ(frame_role(frame("", "", 0, ""), on), FrameRole::Runtime);
  // Go's prefixes mean nothing on a stack without the Go runtime.
  auto c = runtimes_on({frame("main", "a.c", 3, "app")});
  EXPECT_EQ(frame_role(frame("os.thing", "", 0, "app"), c), FrameRole::Program);
}

TEST(Sites, CSiteIsTheInnermostFrameOutsideTheRuntime) {
  std::vector<Frame> fs = {
      frame("__open", "../sysdeps/unix/sysv/linux/open64.c", 41, "libc.so.6"),
      frame("std::basic_filebuf<char>::open(char const*)", "", 0, "libstdc++.so.6"),
      frame("open_config.constprop.0", "/src/app/stk_leak.c", 20, "stk_leak"),
      frame("main", "/src/app/stk_leak.c", 55, "stk_leak"),
      frame("__libc_start_call_main", "", 0, "libc.so.6")};
  EXPECT_EQ(stack_site(fs), "open_config (stk_leak.c:20)");
  EXPECT_EQ(stack_texts(fs),
            (std::vector<std::string>{"__open (open64.c:41)", "std::basic_filebuf<char>::open(char const*)",
                                      "open_config (stk_leak.c:20)", "main (stk_leak.c:55)",
                                      "__libc_start_call_main"}));
}

TEST(Sites, AllRuntimeGivesTheInnermostNamedFrame) {
  std::vector<Frame> fs = {frame("", "", 0, "ld-linux-x86-64.so.2", 0x1234),
                           frame("_dl_map_object", "dl-load.c", 2000, "ld-linux-x86-64.so.2"),
                           frame("dlopen", "", 0, "libc.so.6")};
  EXPECT_EQ(stack_site(fs), "_dl_map_object (dl-load.c:2000)");
  EXPECT_EQ(stack_site({}), "");
}

TEST(Sites, StrippedCodeIsModulePlusOffsetAndClonesLoseTheirSuffix) {
  std::vector<Frame> fs = {frame("__socket", "", 0, "libc.so.6"), frame("", "", 0, "stk_stripped", 0x12c4),
                           frame("ns::Pool<int>::get(int) [clone .isra.0]", "pool.h", 7, "app")};
  EXPECT_EQ(stack_site(fs), "stk_stripped+0x12c4");
  EXPECT_EQ(stack_texts(fs)[2], "ns::Pool<int>::get(int) (pool.h:7)");
  for (const char* m : {"libpthread.so.0", "[vdso]", "libc.so.6", "libstdc++.so.6"})
    EXPECT_EQ(frame_role(frame("f", "", 0, m), runtimes_on({})), FrameRole::Runtime) << m;
  for (const char* m : {"libcurl.so.4", "stk_leak"})
    EXPECT_EQ(frame_role(frame("f", "", 0, m), runtimes_on({})), FrameRole::Program) << m;
}

TEST(Sites, GoHttpDialIsNamedByTheTransportEntry) {
  EXPECT_EQ(stack_site(go_dial()), "net/http.(*Transport).dialConn (transport.go:1619)");
}

TEST(Sites, GoSiteIsTheFirstFrameOutsideTheStandardLibrary) {
  std::vector<Frame> fs = {go("syscall.openat", "syscall/zsyscall_linux_amd64.go", 83),
                           go("syscall.Open", "syscall/syscall_linux.go", 272),
                           go("os.openFileNolog", "os/file_unix.go", 245),
                           go("os.OpenFile", "os/file.go", 339),
                           go("os.Open", "os/file.go", 319),
                           frame("main.openSegment", "/src/svc/main.go", 50, "svc"),
                           frame("main.main", "/src/svc/main.go", 70, "svc"),
                           go("runtime.main", "runtime/proc.go", 250)};
  EXPECT_EQ(stack_site(fs), "main.openSegment (main.go:50)");
}

TEST(Sites, PythonInterpreterFramesAreNeverTheSite) {
  // Without Python-level frames every frame is the interpreter's: the site
  // falls back to the innermost named one, as for any all-runtime stack.
  std::vector<Frame> fs = {frame("__open64", "", 0, "libc.so.6"), frame("", "", 0, "python3.11", 0x5acfe0),
                           frame("_PyEval_EvalFrameDefault", "", 0, "python3.11")};
  EXPECT_EQ(frame_role(fs[1], runtimes_on(fs)), FrameRole::Runtime);
  EXPECT_EQ(stack_site(fs), "__open64");
}

// ---- hints -----------------------------------------------------------------

TEST(Hints, EachRuleNamesItsFixAndUnknownStacksGetNone) {
  EXPECT_EQ(frame_function("dial (fdwatch_demo.c:275)"), "dial");
  EXPECT_EQ(frame_function("net/http.(*Transport).dialConn (transport.go:1619)"),
            "net/http.(*Transport).dialConn");
  EXPECT_EQ(frame_function("libc.so.6+0x1234"), "libc.so.6+0x1234");
  EXPECT_EQ(frame_function("(anonymous namespace)::f(int)"), "(anonymous namespace)::f(int)");
  EXPECT_NE(suspect_hint(Kind::Socket, stack_texts(go_dial())).find("defer resp.Body.Close()"), std::string::npos);
  EXPECT_NE(suspect_hint(Kind::File, texts({"syscall.openat (z.go:83)", "os.OpenFile (file.go:339)",
                                            "os.Open (file.go:319)", "main.openSegment (main.go:50)"}))
                .find("defer f.Close()"),
            std::string::npos);
  EXPECT_NE(suspect_hint(Kind::File, texts({"__libc_open64 (open64.c:41)", "_IO_file_open (fileops.c:188)",
                                            "__fopen_internal (iofopen.c:75)", "write_report (r.c:9)"}))
                .find("`fopen` without `fclose`"),
            std::string::npos);
  EXPECT_NE(suspect_hint(Kind::Socket, texts({"socket (syscall-template.S:120)", "dial (demo.c:275)"}))
                .find("`socket`/`accept` without `close`"),
            std::string::npos);
  // database/sql's pool dialing (here a driver opening a file through
  // os.OpenFile): the rows hint, not os.Open's.
  EXPECT_NE(suspect_hint(Kind::File, texts({"syscall.openat (z.go:68)", "os.OpenFile (file.go:338)",
                                            "main.(*fileDriver).Open (main.go:73)",
                                            "database/sql.(*DB).conn (sql.go:1393)",
                                            "database/sql.(*DB).Query (sql.go:1726)", "main.list (main.go:9)"}))
                .find("`defer rows.Close()`"),
            std::string::npos);
  // The wrong kind, or frames no rule knows: no hint.
  EXPECT_EQ(suspect_hint(Kind::Pipe, texts({"socket (syscall-template.S:120)"})), "");
  EXPECT_EQ(suspect_hint(Kind::File, texts({"__open64 (open64.c:41)", "open_config (a.c:3)"})), "");
  EXPECT_EQ(suspect_hint(Kind::File, {}), "");
  for (const HintRule& r : hint_rules()) {
    EXPECT_NE(r.frames.empty(), r.python_call.empty());  // keyed one way
    EXPECT_FALSE(r.kinds.empty());
    bool known = false;
    for (const Runtime& rt : runtimes()) known = known || rt.name == r.runtime;
    EXPECT_TRUE(known) << r.runtime;
  }
}

// ---- target summaries ----------------------------------------------------------

TEST(Targets, PatternIsTheCommonPrefixAndSuffixAroundAStar) {
  EXPECT_EQ(target_pattern({"/var/log/app/segment_1.log", "/var/log/app/segment_2.log",
                            "/var/log/app/segment_10.log"}),
            "/var/log/app/segment_*.log");
  EXPECT_EQ(target_pattern({"/etc/hostname"}), "/etc/hostname");
  EXPECT_EQ(target_pattern({"/etc/hostname", "/etc/hostname"}), "/etc/hostname");
  EXPECT_EQ(target_pattern({"tcp ->10.0.0.1:80", "tcp ->10.0.0.2:80"}), "tcp ->10.0.0.*:80");
  // The suffix never overlaps the prefix: "ab" and "abb" are "ab*", not "abb".
  EXPECT_EQ(target_pattern({"ab", "abb"}), "ab*");
  EXPECT_EQ(target_pattern({"x", "y"}), "*");
  EXPECT_EQ(target_pattern({}), "");
}

TEST(Targets, SummaryKeepsTheTopThreeMostCommonFirst) {
  auto s = summarize_targets({{"tcp ->a:1", 2}, {"tcp ->b:1", 9}, {"tcp ->c:1", 2}, {"tcp ->d:1", 1}});
  EXPECT_EQ(s.distinct, 4u);
  EXPECT_EQ(s.pattern, "tcp ->*:1");
  ASSERT_EQ(s.examples.size(), 3u);
  EXPECT_EQ(s.examples[0], std::make_pair(std::string("tcp ->b:1"), uint64_t(9)));
  EXPECT_EQ(s.examples[1].first, "tcp ->a:1");  // ties: first seen first
  EXPECT_EQ(s.examples[2].first, "tcp ->c:1");
}

// ---- suspects: grouping and verdicts ---------------------------------------------

namespace {

FdView fdv(int fd, Kind k, std::string target, double age, std::vector<std::string> stack = {}) {
  FdView v;
  v.fd = fd;
  v.kind = k;
  v.target = std::move(target);
  v.age_s = age;
  v.stack = std::move(stack);
  return v;
}

}  // namespace

TEST(Suspects, OneSitesDistinctFilesAreOneSuspect) {
  std::vector<FdView> fds;
  std::vector<std::string> sites;
  for (int i = 0; i < 300; ++i) {
    fds.push_back(fdv(3 + i, Kind::File, "/var/log/app/segment_" + std::to_string(i) + ".log", 300 - i,
                      {"__fopen_internal (iofopen.c:75)", "rotate (app.c:88)"}));
    sites.push_back("rotate (app.c:88)");
  }
  fds.push_back(fdv(400, Kind::Socket, "tcp 127.0.0.1:8080", 400));
  sites.push_back("listen_on (app.c:20)");
  SuspectContext c;
  c.growth = [](const std::string& site, Kind) { return SiteGrowthRate{site == "rotate (app.c:88)" ? 1.0 : 0.0}; };
  c.open_total = 301;
  auto sus = build_suspects(fds, sites, c);
  ASSERT_EQ(sus.size(), 2u);
  EXPECT_EQ(sus[0].site, "rotate (app.c:88)");
  EXPECT_EQ(sus[0].count, 300u);
  EXPECT_TRUE(sus[0].leaking);
  EXPECT_DOUBLE_EQ(sus[0].growth_per_s, 1.0);
  EXPECT_EQ(sus[0].targets.pattern, "/var/log/app/segment_*.log");
  EXPECT_EQ(sus[0].targets.distinct, 300u);
  EXPECT_EQ(sus[0].target, "/var/log/app/segment_0.log");  // all once: the first seen
  EXPECT_NE(sus[0].hint.find("fopen"), std::string::npos);
  EXPECT_DOUBLE_EQ(sus[0].oldest_age_s, 300);
  // The older, flat listener comes after the leak, held and without a hint.
  EXPECT_EQ(sus[1].site, "listen_on (app.c:20)");
  EXPECT_FALSE(sus[1].leaking);
  EXPECT_EQ(sus[1].hint, "");
  EXPECT_EQ(sus[1].target, "tcp 127.0.0.1:8080");
}

TEST(Suspects, WithoutASiteFdsGroupByTargetWithThoseOpenBeforeAttach) {
  std::vector<FdView> fds = {fdv(3, Kind::File, "/a", 1), fdv(4, Kind::File, "/b", 1), fdv(5, Kind::File, "/a", 1)};
  fds.push_back(fdv(6, Kind::File, "/a", 1));
  fds.back().seeded = true;
  auto sus = build_suspects(fds, {"", "", "", ""}, SuspectContext{});
  ASSERT_EQ(sus.size(), 2u);
  EXPECT_EQ(sus[0].target, "/a");
  EXPECT_EQ(sus[0].count, 3u);
  EXPECT_EQ(sus[0].before_attach, 1u);
  EXPECT_EQ(sus[0].unattributed, 0u);
  EXPECT_EQ(sus[1].target, "/b");
}

// Attached mid-leak: the fds opened before attach (and those opened before
// stacks were on) that go where a call site's leak goes are one suspect
// with it, labelled; the others are held groups "open before attach".  The
// counts add up to every fd.
TEST(Suspects, FdsOpenBeforeAttachJoinTheCallSiteOfTheirTarget) {
  std::vector<FdView> fds;
  std::vector<std::string> sites;
  auto add = [&](int fd, Kind k, std::string t, bool seeded, std::string site) {
    fds.push_back(fdv(fd, k, std::move(t), seeded ? 60 : 1));
    fds.back().seeded = seeded;
    sites.push_back(seeded ? "" : std::move(site));
  };
  add(0, Kind::File, "/dev/pts/0", true, "");
  add(1, Kind::File, "/dev/pts/0", true, "");
  int fd = 3;
  for (int i = 0; i < 867; ++i) add(fd++, Kind::Socket, "tcp 127.0.0.1:" + std::to_string(30000 + i) + "->127.0.0.1:8081", true, "");
  for (int i = 0; i < 5; ++i) add(fd++, Kind::Socket, "tcp 127.0.0.1:" + std::to_string(40000 + i) + "->127.0.0.1:8081", false, "");
  for (int i = 0; i < 17; ++i)
    add(fd++, Kind::Socket, "tcp 127.0.0.1:" + std::to_string(50000 + i) + "->127.0.0.1:8081", false, "main (leaker.c:8)");
  // distinct files: the seeded ones match the site's pattern, not another directory
  for (int i = 0; i < 3; ++i) add(fd++, Kind::File, "/var/log/app/seg_" + std::to_string(i) + ".log", false, "rotate (app.c:4)");
  for (int i = 3; i < 7; ++i) add(fd++, Kind::File, "/var/log/app/seg_" + std::to_string(i) + ".log", true, "");
  add(fd++, Kind::File, "/var/log/other/seg_9.log", true, "");
  SuspectContext c;
  c.growth = [](const std::string& site, Kind) { return SiteGrowthRate{site == "main (leaker.c:8)" ? 20.0 : 0.0}; };
  auto sus = build_suspects(fds, sites, c);
  ASSERT_EQ(sus.size(), 4u);
  EXPECT_EQ(sus[0].site, "main (leaker.c:8)");
  EXPECT_TRUE(sus[0].leaking);
  EXPECT_EQ(sus[0].count, 867u + 5 + 17);
  EXPECT_EQ(sus[0].before_attach, 867u);
  EXPECT_EQ(sus[0].unattributed, 867u + 5);
  EXPECT_EQ(sus[0].target, "tcp ->127.0.0.1:8081");
  EXPECT_EQ(suspect_unattributed_text(sus[0]),
            "+867 opened before attach, +5 without a call stack to the same endpoint");
  EXPECT_EQ(sus[1].site, "rotate (app.c:4)");
  EXPECT_EQ(sus[1].count, 7u);
  EXPECT_EQ(sus[1].before_attach, 4u);
  EXPECT_EQ(suspect_unattributed_text(sus[1]), "+4 opened before attach to the same target");
  // held, all open before attach, no growth seen
  EXPECT_EQ(sus[2].target, "/dev/pts/0");
  EXPECT_EQ(sus[2].count, 2u);
  EXPECT_EQ(suspect_site_text(sus[2]), "open before attach");
  EXPECT_EQ(sus[3].target, "/var/log/other/seg_9.log");
  EXPECT_EQ(sus[3].before_attach, 1u);
  uint64_t total = 0;
  for (auto& s : sus) total += s.count;
  EXPECT_EQ(total, fds.size());
}

TEST(Suspects, LimitFailuresMakeTheGroupHoldingMostFdsLeaking) {
  std::vector<FdView> fds;
  std::vector<std::string> sites;
  for (int i = 0; i < 6; ++i) {
    fds.push_back(fdv(3 + i, Kind::Socket, "tcp 1.1.1.1:1->2.2.2.2:80", 1));
    sites.push_back("dial (d.c:1)");
  }
  fds.push_back(fdv(20, Kind::Epoll, "anon_inode:[eventpoll]", 5));
  sites.push_back("loop (d.c:9)");
  SuspectContext c;  // no growth known at all
  c.limit_failures = true;
  c.open_total = 7;
  auto sus = build_suspects(fds, sites, c);
  ASSERT_EQ(sus.size(), 2u);
  EXPECT_TRUE(sus[0].leaking);
  EXPECT_EQ(sus[0].target, "tcp ->2.2.2.2:80");
  EXPECT_FALSE(sus[1].leaking);
  c.limit_failures = false;
  EXPECT_FALSE(build_suspects(fds, sites, c)[0].leaking);
}

// ---- the aggregator's per-site growth --------------------------------------------

namespace {

Event open_at(uint64_t ts, int fd, Kind k, std::string target, std::string site) {
  Event e;
  e.type = EvType::Open;
  e.ts_ns = ts;
  e.pid = 7;
  e.sys = 2;
  e.fd = fd;
  e.kind = k;
  e.target = std::move(target);
  e.site = std::move(site);
  e.stack = {e.site};
  return e;
}

Event close_at(uint64_t ts, int fd) {
  Event e;
  e.type = EvType::Close;
  e.ts_ns = ts;
  e.pid = 7;
  e.sys = 40;
  e.fd = fd;
  return e;
}

// A listener and a log opened at start, then a site leaking 10 files/s for
// 5 s, and a site that opens and closes (churn) all along; ticks every second.
Aggregator service() {
  Aggregator a;
  a.set_window_start(0);
  Event seed;
  seed.type = EvType::Snapshot;
  seed.pid = 7;
  a.apply(seed);
  a.apply(open_at(1'000'000, 3, Kind::Socket, "tcp 127.0.0.1:80", "listen_on (s.c:5)"));
  a.apply(open_at(2'000'000, 4, Kind::File, "/var/log/s.log", "open_log (s.c:9)"));
  int fd = 10;
  for (int i = 0; i < 50; ++i) {
    uint64_t t = kS / 10 * uint64_t(i + 1);
    a.apply(open_at(t, fd++, Kind::File, "/tmp/r_" + std::to_string(i), "report (s.c:20)"));
    a.apply(open_at(t + 1000, 5, Kind::Pipe, "pipe:[1]", "spawn (s.c:30)"));
    a.apply(close_at(t + 2000, 5));
    if (i % 10 == 9) a.tick(t + 3000);
  }
  return a;
}

}  // namespace

TEST(SiteGrowth, GrowingSiteLeaksFlatAndChurningSitesAreHeld) {
  Aggregator a = service();
  auto p = a.snapshot(5 * kS + kS / 2).processes.at(0);
  ASSERT_EQ(p.suspects.size(), 3u);  // the pipe is closed: no suspect
  EXPECT_EQ(p.suspects[0].site, "report (s.c:20)");
  EXPECT_TRUE(p.suspects[0].leaking);
  EXPECT_NEAR(p.suspects[0].growth_per_s, 10.0, 0.5);
  EXPECT_EQ(p.suspects[0].targets.pattern, "/tmp/r_*");
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_FALSE(p.suspects[i].leaking) << p.suspects[i].site;
    EXPECT_DOUBLE_EQ(p.suspects[i].growth_per_s, 0.0) << p.suspects[i].site;
  }
}

TEST(SiteGrowth, VerdictsSurviveExitAndClosedFdsLeaveTheCount) {
  Aggregator a = service();
  for (int fd = 10; fd < 60; ++fd) a.apply(close_at(5 * kS + 100, fd));  // the leak is fixed
  for (int s = 6; s <= 15; ++s) a.tick(uint64_t(s) * kS);
  a.apply(open_at(15 * kS + 10, 70, Kind::File, "/tmp/late", "report (s.c:20)"));
  Event x;
  x.type = EvType::Exit;
  x.ts_ns = 16 * kS;
  x.pid = 7;
  a.apply(x);
  auto p = a.snapshot(17 * kS).processes.at(0);
  ASSERT_TRUE(p.exited);
  ASSERT_EQ(p.suspects.size(), 3u);
  for (auto& s : p.suspects) EXPECT_FALSE(s.leaking) << s.site << " " << s.growth_per_s;
}

// ---- the report ------------------------------------------------------------------

TEST(SiteReport, JsonHasVerdictGrowthTargetsAndHintAndTextLeadsWithTheLeak) {
  Aggregator a = service();
  Event l;
  l.type = EvType::Limit;
  l.ts_ns = 1;
  l.pid = 7;
  l.value = 1024;
  a.apply(l);
  Event c;
  c.type = EvType::Comm;
  c.ts_ns = 1;
  c.pid = 7;
  c.comm = "svc";
  a.apply(c);
  Snapshot s = a.snapshot(5 * kS + kS / 2);
  auto j = report_json(s)["processes"][0]["suspects"];
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["verdict"], "leaking");
  EXPECT_NEAR(j[0]["growth_per_s"].get<double>(), 10.0, 0.5);
  EXPECT_EQ(j[0]["targets"]["pattern"], "/tmp/r_*");
  EXPECT_EQ(j[0]["targets"]["distinct"], 50);
  EXPECT_EQ(j[0]["targets"]["examples"], nlohmann::json({"/tmp/r_0", "/tmp/r_1", "/tmp/r_2"}));
  EXPECT_EQ(j[0]["targets"]["counts"], nlohmann::json({1, 1, 1}));
  EXPECT_EQ(j[0]["target"], "/tmp/r_0");
  EXPECT_FALSE(j[0].contains("hint"));  // report() calls no known function
  EXPECT_EQ(j[1]["verdict"], "held");
  std::string text = render_report_text(s);
  auto second = text.find('\n') + 1;
  EXPECT_EQ(text.substr(second, text.find('\n', second) - second),
            "LEAK svc: 50 files from report (s.c:20) -> /tmp/r_* (50 distinct), +10/s, limit in 1m37s")
      << text;
  EXPECT_NE(text.find("  leaks (still open, by call site):\n    50 file from report (s.c:20) -> /tmp/r_* "
                      "(50 distinct) (+10/s, oldest 5.4s)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  held (not growing):\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n    1 socket from listen_on (s.c:5) -> tcp 127.0.0.1:80\n"), std::string::npos) << text;
}
