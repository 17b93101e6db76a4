// --cgroup PATH (watch, record, top, exporter): only processes in a cgroup
// v2 and below are traced, filtered in the kernel.  The tests make their own
// namespaces: a child cgroup under the test's own (named like a systemd
// service, so it reads as a container), a fixture moved into it before it
// execs, one of them in a new pid namespace (`unshare --pid --fork`), and a
// leaker outside that must not show up.  No container runtime.
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/http.h"
#include "common/require_root.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "core/container.h"

using fdw::test::Subprocess;
using fdw::test::TempDir;

namespace {

constexpr double kAttach = 120;  // loading the BPF object takes seconds

std::string cgroup2_mount() {
  return fdw::parse_cgroup2_mount(fdw::test::slurp("/proc/self/mountinfo")).value_or(fdw::Cgroup2Mount{}).dir;
}

std::string proc_cgroup(pid_t pid) {
  return fdw::parse_cgroup_v2(fdw::test::slurp("/proc/" + std::to_string(pid) + "/cgroup")).value_or("");
}

std::set<int> proc_fds(pid_t pid) {
  std::set<int> out;
  if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') out.insert(std::atoi(e->d_name));
    closedir(d);
  }
  return out;
}

// A child cgroup of the test's own, removed (after its processes) at the end.
class ChildCgroup {
 public:
  ChildCgroup() {
    static int n = 0;
    std::string own = proc_cgroup(getpid());
    name_ = "fdwatch-test-" + std::to_string(getpid()) + "-" + std::to_string(++n) + ".service";
    path_ = (own == "/" ? "" : own) + "/" + name_;
    std::string mnt = cgroup2_mount();
    if (mnt.empty()) return;
    dir_ = mnt + path_;
    if (mkdir(dir_.c_str(), 0755) != 0) dir_.clear();
  }
  ~ChildCgroup() {
    if (dir_.empty()) return;
    // what is left in it was started by the test (a pid namespace's init
    // ignores anything but SIGKILL)
    for (int i = 0; i < 250 && rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i) {
      std::istringstream procs(fdw::test::slurp(dir_ + "/cgroup.procs"));
      for (pid_t pid; procs >> pid;) kill(pid, SIGKILL);
      usleep(20000);
    }
  }
  bool ok() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }    // /sys/fs/cgroup[/unified]/...
  const std::string& path() const { return path_; }  // as /proc/PID/cgroup spells it
  const std::string& name() const { return name_; }
  // argv that joins this cgroup, then execs `argv`.
  std::vector<std::string> inside(const std::vector<std::string>& argv) const {
    std::vector<std::string> out = {"/bin/sh", "-c", "echo $$ > '" + dir_ + "/cgroup.procs' && exec \"$@\"", "sh"};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

 private:
  std::string name_, path_, dir_;
};

// fx_checkpoint holding 3 fds, then (on SIGUSR1) opening 4 more: a leak
// during the window.  Checkpoint files ready/done in dir.
std::vector<std::string> leaker(const TempDir& dir) {
  return {std::string(FIXTURE_DIR) + "/fx_checkpoint", "3*file:/dev/null", "checkpoint:" + dir.file("ready"),
          "wait", "4*file:/dev/null", "checkpoint:" + dir.file("done"), "wait"};
}

// The host pid of the only child of `pid` (unshare --fork's child).
pid_t only_child(pid_t pid) {
  std::string kids = fdw::test::slurp("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  return pid_t(std::atoi(kids.c_str()));
}

const nlohmann::json* process(const nlohmann::json& report, pid_t pid) {
  for (auto& p : report["processes"])
    if (p["pid"] == pid) return &p;
  return nullptr;
}

std::set<int> fds_of(const nlohmann::json& p) {
  std::set<int> out;
  for (auto& f : p["fds"]) out.insert(f["fd"].get<int>());
  return out;
}

}  // namespace

TEST(CgroupE2E, WatchReportsOnlyTheCgroupWithNamespaceFields) {
  FDW_REQUIRE_ROOT();
  ChildCgroup cg;
  ASSERT_TRUE(cg.ok()) << "cannot create a cgroup under " << cgroup2_mount();
  TempDir in_dir, out_dir;
  Subprocess in(cg.inside([&] {
    std::vector<std::string> a = {"/usr/bin/unshare", "--pid", "--fork", "--kill-child"};
    for (auto& s : leaker(in_dir)) a.push_back(s);
    return a;
  }()));
  Subprocess out(leaker(out_dir));
  ASSERT_TRUE(fdw::test::wait_for_file(in_dir.file("ready"), 30)) << in.err();
  ASSERT_TRUE(fdw::test::wait_for_file(out_dir.file("ready"), 30)) << out.err();
  pid_t unshare_pid = in.pid(), fx = only_child(in.pid());
  ASSERT_GT(fx, 0);
  ASSERT_EQ(proc_cgroup(fx), cg.path());

  Subprocess w({FDWATCH_BIN, "--cgroup", cg.path(), "--json", "-i", "60"});
  ASSERT_TRUE(w.wait_stderr("fdwatch: attached; watching cgroup " + cg.path() + ";", kAttach)) << w.err();
  // both leak 4 fds in the window; only the one inside may be reported
  kill(fx, SIGUSR1);
  out.signal(SIGUSR1);
  ASSERT_TRUE(fdw::test::wait_for_file(in_dir.file("done"), 30));
  ASSERT_TRUE(fdw::test::wait_for_file(out_dir.file("done"), 30));
  std::set<int> want_fds = proc_fds(fx);
  w.signal(SIGINT);
  ASSERT_EQ(w.wait(60), 0) << w.err();
  auto report = nlohmann::json::parse(w.out());

  std::set<pid_t> pids;
  for (auto& p : report["processes"]) pids.insert(p["pid"].get<pid_t>());
  EXPECT_EQ(pids, (std::set<pid_t>{unshare_pid, fx})) << "only the cgroup's processes: unshare and its child";
  EXPECT_FALSE(process(report, out.pid())) << "the leaker outside the cgroup";
  const nlohmann::json* p = process(report, fx);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->at("open_fds"), want_fds.size());
  EXPECT_EQ(fds_of(*p), want_fds);
  EXPECT_EQ(want_fds.size(), 3u + 3 + 4);  // stdio, then the fixture's
  EXPECT_EQ(p->at("opened"), 4 + 2);       // the leak and the done checkpoint's two
  EXPECT_EQ(p->at("closed"), 2);
  EXPECT_EQ(p->at("ns_pid"), 1) << "pid 1 of its own pid namespace";
  EXPECT_EQ(p->at("cgroup"), cg.path());
  EXPECT_EQ(p->at("container"), cg.name()) << "a cgroup named like a systemd service";
  const nlohmann::json* u = process(report, unshare_pid);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->at("ns_pid"), unshare_pid) << "unshare itself stays in the host's pid namespace";
  EXPECT_EQ(u->at("opened"), 0);
}

TEST(CgroupE2E, ExporterLabelsAndOnlyTheCgroupsSeries) {
  FDW_REQUIRE_ROOT();
  ChildCgroup cg;
  ASSERT_TRUE(cg.ok()) << "cannot create a cgroup under " << cgroup2_mount();
  TempDir in_dir, out_dir;
  Subprocess in(cg.inside(leaker(in_dir)));
  Subprocess out(leaker(out_dir));
  ASSERT_TRUE(fdw::test::wait_for_file(in_dir.file("ready"), 30)) << in.err();
  ASSERT_TRUE(fdw::test::wait_for_file(out_dir.file("ready"), 30)) << out.err();
  int port = fdw::test::free_port();
  // relative to the cgroup v2 mount, as a user would type it
  Subprocess ex({FDWATCH_BIN, "exporter", "--listen", "127.0.0.1:" + std::to_string(port), "--cgroup",
                 cg.path().substr(1), "-i", "0.1"});
  ASSERT_TRUE(ex.wait_stderr("(every process of cgroup " + cg.path() + ")", kAttach)) << ex.err();
  in.signal(SIGUSR1);
  out.signal(SIGUSR1);
  ASSERT_TRUE(fdw::test::wait_for_file(in_dir.file("done"), 30));
  ASSERT_TRUE(fdw::test::wait_for_file(out_dir.file("done"), 30));
  const std::string labels = "{pid=\"" + std::to_string(in.pid()) + "\",comm=\"fx_checkpoint\",container=\"" +
                             cg.name() + "\",cgroup=\"" + cg.path() + "\"}";
  const std::string want = "fdwatch_process_fds_opened_total" + labels + " 6";
  std::string body;
  for (int i = 0; i < 300 && body.find(want) == std::string::npos; ++i) {  // published every 0.1 s
    auto r = fdw::test::http_get(port, "/metrics");
    ASSERT_TRUE(r);
    body = r->body;
    if (body.find(want) == std::string::npos) usleep(20000);
  }
  EXPECT_NE(body.find(want), std::string::npos) << body;
  EXPECT_NE(body.find("fdwatch_process_open_fds" + labels + " " + std::to_string(proc_fds(in.pid()).size())),
            std::string::npos)
      << body;
  EXPECT_EQ(body.find("pid=\"" + std::to_string(out.pid()) + "\""), std::string::npos) << "outside the cgroup";
  EXPECT_NE(body.find("fdwatch_container_open_fds{container=\"" + cg.name() + "\"}"), std::string::npos) << body;
  ex.signal(SIGINT);
  EXPECT_EQ(ex.wait(30), 0) << ex.err();
}

// A bad --cgroup is one line (and a hint) before anything is loaded, for
// every subcommand that takes it; record leaves no file behind.
TEST(CgroupE2E, BadPathsFailAtOnce) {
  FDW_REQUIRE_ROOT();
  TempDir dir;
  const std::string log = dir.file("x.jsonl");
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string line;
  };
  const std::string mnt = cgroup2_mount();
  const std::vector<Case> cases = {
      {{"--cgroup", "no-such-cgroup-fdw", "-d", "1"}, 1,
       "fdwatch: --cgroup no-such-cgroup-fdw: no such cgroup (" + mnt + "/no-such-cgroup-fdw)"},
      {{"top", "-b", "-n", "1", "--cgroup", "/no-such-cgroup-fdw"}, 1,
       "fdwatch: --cgroup /no-such-cgroup-fdw: no such cgroup (" + mnt + "/no-such-cgroup-fdw)"},
      {{"record", "-o", log, "--cgroup", mnt + "/cgroup.procs"}, 1,
       "fdwatch: --cgroup " + mnt + "/cgroup.procs: " + mnt + "/cgroup.procs is not a cgroup v2 directory"},
      {{"exporter", "--listen", "127.0.0.1:" + std::to_string(fdw::test::free_port()), "--cgroup", "a/../b"}, 2,
       "fdwatch: --cgroup a/../b: '..' in a cgroup path"},
      {{"--cgroup", "/", "--", "true"}, 2, "fdwatch: --cgroup and -- CMD are exclusive"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {FDWATCH_BIN};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    Subprocess p(argv);
    EXPECT_EQ(p.wait(30), c.status) << c.args[0];
    std::string first = p.err().substr(0, p.err().find('\n'));
    EXPECT_EQ(first, c.line);
    EXPECT_NE(p.err().find("\nhint: "), std::string::npos) << p.err();
    EXPECT_EQ(p.err().find("attached"), std::string::npos);
    EXPECT_EQ(p.out(), "");
  }
  EXPECT_FALSE(std::filesystem::exists(log));
  // -p of a process outside the cgroup: it would never be traced
  ChildCgroup cg;
  ASSERT_TRUE(cg.ok());
  Subprocess p({FDWATCH_BIN, "--cgroup", cg.path(), "-p", std::to_string(getpid())});
  EXPECT_EQ(p.wait(30), 2);
  EXPECT_EQ(p.err().substr(0, p.err().find('\n')), "fdwatch: process " + std::to_string(getpid()) +
                                                      " is not in cgroup " + cg.path() + " (it is in " +
                                                      proc_cgroup(getpid()) + ")");
}
