// The fdwatch binary on fixture programs whose behaviour the test controls:
// its JSON report must equal the fixture's own /proc/self/fd map and counts.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "common/bpf_progs.h"
#include "common/require_root.h"
#include "common/tracefs.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"

using fdw::test::Subprocess;
using json = nlohmann::json;

namespace {

const std::string kFdwatch = FDWATCH_BIN;
const std::string kFixtures = FIXTURE_DIR;

struct ProcFd {
  int fd;
  std::string link;
};

std::vector<ProcFd> read_checkpoint(const std::string& path) {
  std::vector<ProcFd> out;
  std::istringstream in(fdw::test::slurp(path));
  std::string line;
  while (std::getline(in, line)) {
    auto j = json::parse(line);
    out.push_back({j["fd"].get<int>(), j["link"].get<std::string>()});
  }
  return out;
}

// The kind a /proc link means, written out independently of fdwatch's code.
std::string expected_kind(const std::string& link) {
  static const std::map<std::string, std::string> anon = {
      {"anon_inode:[eventfd]", "eventfd"}, {"anon_inode:[eventpoll]", "epoll"},
      {"anon_inode:[timerfd]", "timerfd"}, {"anon_inode:[signalfd]", "signalfd"},
      {"anon_inode:inotify", "inotify"}};
  if (link.rfind("socket:", 0) == 0) return "socket";
  if (link.rfind("pipe:", 0) == 0) return "pipe";
  if (link.rfind("/memfd:", 0) == 0) return "memfd";
  if (auto it = anon.find(link); it != anon.end()) return it->second;
  struct stat st;
  if (stat(link.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return "dir";
  return "file";
}

const json* find_proc(const json& report, int pid) {
  for (auto& p : report["processes"])
    if (p["pid"] == pid) return &p;
  return nullptr;
}

}  // namespace

TEST(WatchE2E, LiveTableEqualsProcAtCheckpoint) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  const std::string& dir = tmp.path();
  std::string cp = dir + "/cp1";
  Subprocess fx({kFixtures + "/fx_checkpoint", "wait", "file:/etc/hostname", "dir:/etc", "pipe",
                 "socketpair", "tcp", "udp", "eventfd", "epoll", "timerfd", "signalfd", "inotify",
                 "memfd", "dup:0", "close:2", "3*file:/dev/null", "close-last",
                 "checkpoint:" + cp, "wait"});
  Subprocess fw({kFdwatch, "-p", std::to_string(fx.pid()), "--json", "--interval", "0.2"});
  ASSERT_TRUE(fw.wait_stderr("attached", 20)) << fw.err();
  fx.signal(SIGUSR1);
  // The checkpoint's close returned before the file appeared, so its record
  // is in the ring buffer: fdwatch drains the ring when it stops.
  ASSERT_TRUE(fdw::test::wait_for_file(cp, 20));
  fw.signal(SIGINT);
  ASSERT_EQ(fw.wait(20), 0) << fw.err();
  auto report = json::parse(fw.out());
  EXPECT_EQ(report["schema"], "fdwatch.report.v1");
  EXPECT_EQ(report["lost_events"], 0);
  const json* p = find_proc(report, fx.pid());
  ASSERT_NE(p, nullptr) << fw.out();
  auto truth = read_checkpoint(cp);
  ASSERT_EQ((*p)["open_fds"].get<size_t>(), truth.size()) << fw.out();
  std::map<int, json> ours;
  for (auto& f : (*p)["fds"]) ours[f["fd"].get<int>()] = f;
  ASSERT_EQ(ours.size(), truth.size());
  for (auto& t : truth) {
    ASSERT_TRUE(ours.count(t.fd)) << "fd " << t.fd << " (" << t.link << ") missing";
    const json& f = ours[t.fd];
    EXPECT_EQ(f["kind"], expected_kind(t.link)) << "fd " << t.fd << " " << t.link;
    std::string target = f["target"];
    std::string kind = expected_kind(t.link);
    if (kind == "socket") {
      EXPECT_TRUE(target.rfind("tcp 127.0.0.1:", 0) == 0 || target.rfind("udp 127.0.0.1:", 0) == 0 ||
                  target == "unix")
          << target;
    } else {
      EXPECT_EQ(target, t.link) << "fd " << t.fd;
    }
  }
  // created: 18 by the ops (pipe, socketpair: 2 each), 2 by the checkpoint;
  // closed: close:2, close-last, and the checkpoint's 2
  EXPECT_EQ((*p)["opened"], 20);
  EXPECT_EQ((*p)["closed"], 4);
  EXPECT_TRUE((*p)["failed"].empty()) << (*p)["failed"].dump();
  EXPECT_EQ((*p)["exited"], false);
  EXPECT_EQ((*p)["inexact"], false);
  EXPECT_EQ((*p)["by_kind"]["socket"], 4);
}

// Call sites of a process that is still running, on every kernel: where the
// kernel cannot send the mappings (no bpf_iter_task_vma), they come from /proc.
TEST(WatchE2E, LiveProcessLeakSitesOnEveryKernel) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  std::string cp = tmp.path() + "/cp1";
  Subprocess fx({kFixtures + "/fx_checkpoint", "wait", "3*file:/dev/null", "checkpoint:" + cp, "wait"});
  Subprocess fw({kFdwatch, "-p", std::to_string(fx.pid()), "--json"});
  ASSERT_TRUE(fw.wait_stderr("attached", 60)) << fw.err();
  fx.signal(SIGUSR1);
  ASSERT_TRUE(fdw::test::wait_for_file(cp, 60));
  fw.signal(SIGINT);
  ASSERT_EQ(fw.wait(60), 0) << fw.err();
  auto report = json::parse(fw.out());
  const json* p = find_proc(report, fx.pid());
  ASSERT_NE(p, nullptr) << fw.out();
  int with_site = 0;
  for (auto& f : (*p)["fds"]) {
    if (f["target"] != "/dev/null" || f["seeded"].get<bool>()) continue;
    bool found = false;
    for (auto& fr : f["stack"]) found |= fr.get<std::string>().rfind("open_one (fx_checkpoint.c:", 0) == 0;
    with_site += found;
    EXPECT_TRUE(found) << f.dump();
  }
  EXPECT_EQ(with_site, 3) << fw.out();
  // 3 from the site; a /dev/null open before attach (stdin) joins them, labelled
  bool suspect = false;
  for (auto& su : (*p)["suspects"])
    suspect |= su["count"].get<int>() - su.value("unattributed", 0) == 3 &&
               su["site"].get<std::string>().rfind("open_one (fx_checkpoint.c:", 0) == 0;
  EXPECT_TRUE(suspect) << (*p)["suspects"].dump();
}

TEST(WatchE2E, EmfileCountsAndLimitAreExact) {
  FDW_REQUIRE_ROOT();
  Subprocess fx({kFixtures + "/fx_emfile", "--wait", "--fails", "7", "--hold", "30", "64"});
  ASSERT_TRUE(fx.wait_stderr("waiting for SIGUSR1", 20));
  Subprocess fw({kFdwatch, "-p", std::to_string(fx.pid()), "--json", "--interval", "0.2"});
  ASSERT_TRUE(fw.wait_stderr("attached", 20)) << fw.err();
  fx.signal(SIGUSR1);
  // the fixture prints its counts once it is done
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (fx.out().find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline)
    fx.wait_stderr("\x01", 0.05);
  auto counts = json::parse(fx.out().substr(0, fx.out().find('\n')));
  fw.signal(SIGINT);  // every call returned before the counts were printed
  ASSERT_EQ(fw.wait(20), 0) << fw.err();
  auto report = json::parse(fw.out());
  const json* p = find_proc(report, fx.pid());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ((*p)["opened"], counts["opened"]);
  EXPECT_EQ((*p)["failed"]["EMFILE"], counts["emfile"]);
  EXPECT_EQ((*p)["failed"].size(), 1u);
  EXPECT_EQ((*p)["rlimit_nofile"], 64);
  EXPECT_EQ((*p)["open_fds"], 64);
  EXPECT_EQ((*p)["time_to_limit_s"].is_null() || (*p)["time_to_limit_s"] == 0, true);
}

TEST(WatchE2E, CommandModeReportsLeaksAndExitsWithStatus) {
  FDW_REQUIRE_ROOT();
  // leaks 3 files and a pipe; the exit status is CMD's unless --fail-on-leak
  std::vector<std::string> cmd = {kFixtures + "/fx_checkpoint", "3*file:/etc/hostname", "pipe",
                                  "file:/dev/null", "close-last", "exit:5"};
  std::vector<std::string> args = {kFdwatch, "--json", "-q", "--"};
  args.insert(args.end(), cmd.begin(), cmd.end());
  Subprocess fw(args);
  ASSERT_EQ(fw.wait(30), 5) << fw.err();
  auto report = json::parse(fw.out());
  ASSERT_GE(report["processes"].size(), 1u);
  const json& p = report["processes"][0];
  EXPECT_EQ(p["exited"], true);
  EXPECT_EQ(p["open_fds"], 0);
  EXPECT_TRUE(p["fds"].empty());
  EXPECT_EQ(p["exit_code"], 5);
  std::map<std::string, int> leaked;
  for (auto& f : p["leaked_at_exit"]) leaked[f["kind"].get<std::string>() + " " + f["target"].get<std::string>()]++;
  EXPECT_EQ(leaked["file /etc/hostname"], 3);
  EXPECT_EQ(leaked["pipe " + p["leaked_at_exit"].back()["target"].get<std::string>()] +
                leaked.count("file /dev/null"),
            leaked["pipe " + p["leaked_at_exit"].back()["target"].get<std::string>()]);
  int pipes = 0;
  for (auto& f : p["leaked_at_exit"]) pipes += f["kind"] == "pipe";
  EXPECT_EQ(pipes, 2);
  EXPECT_EQ(p["leaked_at_exit"].size(), 5u);
  // inherited stdin/stdout/stderr are open at exit but not leaks of its own
  EXPECT_EQ(p["open_at_exit"], 8);
  // opened/closed are what the command itself did, loader included: the same
  // command under strace (an independent counter) says how many
  fdw::test::TempDir tmp;
  const std::string& dir = tmp.path();
  std::vector<std::string> st = {"/usr/bin/strace", "-qq", "-e", "trace=openat,close,pipe2",
                                 "-o", dir + "/strace.txt"};
  st.insert(st.end(), cmd.begin(), cmd.end());
  Subprocess strace(st);
  ASSERT_EQ(strace.wait(30), 5);
  int closes = 0, opens = 0;
  std::istringstream lines(fdw::test::slurp(dir + "/strace.txt"));
  for (std::string l; std::getline(lines, l);) {
    bool failed = l.find("= -1") != std::string::npos;
    if (l.rfind("close(", 0) == 0 && !failed) ++closes;
    if (l.rfind("openat(", 0) == 0 && !failed) ++opens;
    if (l.rfind("pipe2(", 0) == 0 && !failed) opens += 2;
  }
  EXPECT_EQ(p["closed"], closes);
  EXPECT_EQ(p["opened"], opens);

  args.insert(args.begin() + 1, "--fail-on-leak");
  Subprocess gate(args);
  EXPECT_EQ(gate.wait(30), 3) << gate.err();
}

TEST(WatchE2E, BadInputGetsOneLineErrors) {
  FDW_REQUIRE_ROOT();
  {
    Subprocess fw({kFdwatch, "-p", "4194303"});
    EXPECT_EQ(fw.wait(20), 1);
    EXPECT_EQ(fw.err(), "fdwatch: no such process: 4194303\n");
  }
  {
    Subprocess fw({kFdwatch});
    EXPECT_EQ(fw.wait(20), 2);
    EXPECT_EQ(fw.err().rfind("fdwatch: nothing to watch", 0), 0u) << fw.err();
  }
  {
    Subprocess fw({kFdwatch, "-p", "12", "--interval", "abc"});
    EXPECT_EQ(fw.wait(20), 2);
    EXPECT_EQ(fw.err().rfind("fdwatch: ", 0), 0u) << fw.err();
  }
  {
    Subprocess fw({kFdwatch, "--", "/nonexistent/program"});
    EXPECT_EQ(fw.wait(20), 127);
    EXPECT_NE(fw.err().find("fdwatch: cannot run '/nonexistent/program': No such file or directory"),
              std::string::npos)
        << fw.err();
  }
}

TEST(WatchE2E, WithoutPrivilegesSaysSoAndHowToFix) {
  FDW_REQUIRE_ROOT();
  // drop to nobody with setpriv (util-linux), clearing every capability
  Subprocess fw({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", kFdwatch, "-p", "1"});
  EXPECT_EQ(fw.wait(20), 1);
  EXPECT_EQ(fw.err(),
            "fdwatch: tracing needs root (or CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH)\n"
            "hint: run it with sudo\n");
}

// Raw tracepoints need no tracefs: fdwatch runs without it and mounts nothing.
TEST(WatchE2E, NeedsNoTracefs) {
  FDW_REQUIRE_ROOT();
  struct stat st;
  bool was_mounted = stat("/sys/kernel/tracing/events", &st) == 0;
  // detach tracefs wherever it is mounted (lazily: other tracers keep their links)
  for (const char* m : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"})
    while (umount2(m, MNT_DETACH) == 0) {
    }
  ASSERT_NE(stat("/sys/kernel/tracing/events", &st), 0) << "tracefs still visible";
  Subprocess sleeper({"/bin/sleep", "30"});
  Subprocess fw({kFdwatch, "-p", std::to_string(sleeper.pid()), "--duration", "0.5", "--json"});
  EXPECT_EQ(fw.wait(60), 0) << fw.err();
  EXPECT_NE(stat("/sys/kernel/tracing/events", &st), 0) << "fdwatch mounted tracefs";
  EXPECT_EQ(json::parse(fw.out())["processes"][0]["pid"], sleeper.pid());
  if (was_mounted) {
    std::string err;
    EXPECT_TRUE(fdw::test::ensure_tracefs(&err)) << err;
  }
}

// After the report, none of fdwatch's programs stays loaded (links and
// programs go with the process); checked as long as it takes.
TEST(WatchE2E, NothingStaysAttachedAfterExit) {
  FDW_REQUIRE_ROOT();
  using fdw::test::session_prog_ids;
  const std::set<uint32_t> before = session_prog_ids();
  Subprocess sleeper({"/bin/sleep", "30"});
  Subprocess fw({kFdwatch, "-p", std::to_string(sleeper.pid())});
  ASSERT_TRUE(fw.wait_stderr("attached", 60)) << fw.err();
  std::set<uint32_t> mine;
  for (uint32_t id : session_prog_ids())
    if (!before.count(id)) mine.insert(id);
  EXPECT_EQ(mine.size(), 3u);
  fw.signal(SIGINT);
  ASSERT_EQ(fw.wait(60), 0) << fw.err();
  for (;;) {
    auto now = session_prog_ids();
    bool gone = std::none_of(mine.begin(), mine.end(), [&](uint32_t id) { return now.count(id); });
    if (gone) break;
    usleep(20 * 1000);  // freeing is deferred (RCU): poll until it happened
  }
}
