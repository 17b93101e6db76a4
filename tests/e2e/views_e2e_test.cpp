// Every view tells the same story about one run: names after prctl renames,
// rates that are unknown rather than wild for short-lived processes.
#include <gtest/gtest.h>

#include <signal.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <nlohmann/json.hpp>

#include "common/require_root.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"

using fdw::test::Subprocess;
using json = nlohmann::json;

namespace {

const std::string kFdwatch = FDWATCH_BIN;
const std::string kFixtures = FIXTURE_DIR;
const std::string kDemo = std::string(DEMO_DIR) + "/fdwatch_demo";

struct DemoPids {
  uint32_t facade = 0, backend = 0;
};

// Starts nothing: reads the demo's "facade: pid N, backend pid M" line, which
// it prints once both processes have renamed themselves and the backend listens.
std::optional<DemoPids> demo_pids(Subprocess& demo) {
  if (!demo.wait_stderr(" on 127.0.0.1:", 20)) return std::nullopt;
  std::smatch m;
  std::string err = demo.err();
  if (!std::regex_search(err, m, std::regex("facade: pid (\\d+), backend pid (\\d+)"))) return std::nullopt;
  return DemoPids{uint32_t(std::stoul(m[1])), uint32_t(std::stoul(m[2]))};
}

std::map<uint32_t, std::string> comms(const json& report) {
  std::map<uint32_t, std::string> out;
  for (auto& p : report["processes"]) out[p["pid"].get<uint32_t>()] = p["comm"].get<std::string>();
  return out;
}

// The fdwatch.top.v1 frames printed so far, one per line.
std::vector<json> top_frames(const std::string& out) {
  std::vector<json> frames;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && !in.eof()) frames.push_back(json::parse(line));  // not a line still being written
  return frames;
}

}  // namespace

// The demo execs as fdwatch_demo, renames itself "facade" and forks a child
// that renames itself "backend".  System-wide watch, record + report and top
// all name each process by its own name, not its parent's or its binary's.
TEST(ViewsE2E, DemoProcessesCarryTheirOwnNamesInEveryView) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  const std::string log = tmp.path() + "/demo.jsonl";
  Subprocess watch({kFdwatch, "-a", "--json", "--no-stacks", "-i", "0.5"});
  Subprocess record({kFdwatch, "record", "-a", "-o", log});
  Subprocess top({kFdwatch, "top", "--json", "-b", "-n", "0", "-d", "0.5"});
  ASSERT_TRUE(watch.wait_stderr("attached", 30)) << watch.err();
  ASSERT_TRUE(record.wait_stderr("attached", 30)) << record.err();
  ASSERT_TRUE(top.wait_stdout("\"schema\"", 30)) << top.err();

  Subprocess demo({kDemo, "--rate", "20", "--limit", "4000", "--duration", "60"});
  auto pids = demo_pids(demo);
  ASSERT_TRUE(pids) << demo.err();

  // top: a frame that lists both processes by their own names.
  bool named = false;
  for (int i = 0; i < 40 && !named; ++i) {
    top.read_for(0.5);
    auto frames = top_frames(top.out());
    if (frames.empty()) continue;
    std::map<uint32_t, std::string> rows;
    for (auto& r : frames.back()["rows"]) rows[r["pid"].get<uint32_t>()] = r["comm"].get<std::string>();
    named = rows[pids->facade] == "facade" && rows[pids->backend] == "backend";
  }
  EXPECT_TRUE(named) << top.out().substr(top.out().rfind('\n', top.out().size() - 2));
  top.signal(SIGINT);
  EXPECT_EQ(top.wait(30), 0) << top.err();

  watch.signal(SIGINT);
  record.signal(SIGINT);
  ASSERT_EQ(watch.wait(60), 0) << watch.err();
  ASSERT_EQ(record.wait(60), 0) << record.err();
  auto live = comms(json::parse(watch.out()));
  EXPECT_EQ(live[pids->facade], "facade");
  EXPECT_EQ(live[pids->backend], "backend");

  Subprocess replay({kFdwatch, "report", log, "--json"});
  ASSERT_EQ(replay.wait(60), 0) << replay.err();
  auto replayed = comms(json::parse(replay.out()));
  EXPECT_EQ(replayed[pids->facade], "facade");
  EXPECT_EQ(replayed[pids->backend], "backend");
  Subprocess text({kFdwatch, "report", log, "-p", std::to_string(pids->backend)});
  ASSERT_EQ(text.wait(60), 0) << text.err();
  EXPECT_NE(text.out().find("\n" + std::to_string(pids->backend) + " backend\n"), std::string::npos) << text.out();
}

// Short-lived shell commands beside a steady 20/s leaker: no short-lived
// process shows a rate, and nothing they do ranks above the leaker by NET/s.
TEST(ViewsE2E, ShortLivedProcessesShowNoRateAndTheLeakerSortsFirst) {
  FDW_REQUIRE_ROOT();
  Subprocess top({kFdwatch, "top", "--json", "-b", "-n", "0", "-d", "0.5", "--sort", "net/s"});
  ASSERT_TRUE(top.wait_stdout("\"schema\"", 30)) << top.err();
  std::vector<std::string> leak = {kFixtures + "/fx_checkpoint"};
  for (int i = 0; i < 1200; ++i) {  // 20 fds/s for a minute
    leak.push_back("file:/dev/null");
    leak.push_back("sleep:0.05");
  }
  Subprocess leaker(leak);
  Subprocess storm({"/bin/sh", "-c",
                    "while :; do x=$(ls /etc | grep -c a); sh -c 'cat /etc/hostname' >/dev/null; done"});
  const uint32_t lpid = uint32_t(leaker.pid());
  auto leaker_row = [&](const json& frame) {
    const json& rows = frame["rows"];
    return std::find_if(rows.begin(), rows.end(), [&](const json& r) { return r["pid"] == lpid; });
  };
  // Frames until the leaker's rate is known (2 s of watching), and five more.
  std::vector<json> frames;
  size_t known = SIZE_MAX;
  for (int i = 0; i < 120 && (known == SIZE_MAX || frames.size() < known + 5); ++i) {
    top.read_for(0.5);
    frames = top_frames(top.out());
    for (size_t f = 0; f < frames.size() && known == SIZE_MAX; ++f)
      if (auto it = leaker_row(frames[f]); it != frames[f]["rows"].end() && !(*it)["net_per_s"].is_null()) known = f;
  }
  ASSERT_NE(known, SIZE_MAX) << "leaker " << lpid << " never got a rate";
  ASSERT_GE(frames.size(), known + 5);
  for (size_t f = known; f < known + 5; ++f) {
    const json& rows = frames[f]["rows"];
    auto it = leaker_row(frames[f]);
    ASSERT_NE(it, rows.end()) << frames[f].dump();
    EXPECT_NEAR((*it)["net_per_s"].get<double>(), 20.0, 6.0) << it->dump();
    for (auto r = rows.begin(); r != rows.end(); ++r) {
      std::string comm = (*r)["comm"];
      bool storm_comm = comm == "sh" || comm == "ls" || comm == "grep" || comm == "cat";
      if ((*r)["exited"] == true && storm_comm) {
        EXPECT_TRUE((*r)["net_per_s"].is_null()) << r->dump();
      }
      // Whatever ranks above the leaker has a known rate (another test's
      // leaker, live or just exited, say), never one of the storm's commands.
      if (r < it) {
        EXPECT_FALSE((*r)["net_per_s"].is_null()) << r->dump();
        EXPECT_FALSE(storm_comm && (*r)["pid"] != storm.pid()) << r->dump();
      }
    }
  }
  top.signal(SIGINT);
  EXPECT_EQ(top.wait(30), 0) << top.err();
}

// The leak gate on real shells and interpreters: what they hold at exit on
// purpose (stdio after redirections, bash's script fd, a subshell's pipe, a
// listening socket, asyncio's poller) passes; a real leak exits 3 and names
// its call site on stderr.
TEST(ViewsE2E, LeakGateIsQuietOnOrdinaryProgramsAndLoudOnLeaks) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  const std::string script = tmp.path() + "/sub.sh";
  {
    FILE* f = fopen(script.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("#!/bin/bash\nx=$(echo hi)\necho \"$x\" >/dev/null\nexec 2>/dev/null\ncat /etc/hostname | wc -l\n", f);
    fclose(f);
    chmod(script.c_str(), 0755);
  }
  const std::vector<std::vector<std::string>> quiet = {
      {script},
      {"/bin/sh", "-c", "exec </etc/hostname; read x"},
      {"/bin/bash", "-c", "exec 3</etc/hostname; exec 3<&-; ls / >/dev/null"},
      {"/usr/bin/python3", "-c",
       "import asyncio, socket\n"
       "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
       "asyncio.run(asyncio.sleep(0.01))\n"
       "import os; os._exit(0)"},
      {kFixtures + "/fx_checkpoint", "tcp", "epoll", "eventfd"},
  };
  for (auto& cmd : quiet) {
    std::vector<std::string> args = {kFdwatch, "-q", "--fail-on-leak", "--"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    Subprocess fw(args);
    EXPECT_EQ(fw.wait(60), 0) << cmd[0] << " " << (cmd.size() > 1 ? cmd.back() : "") << "\n" << fw.err() << fw.out();
    EXPECT_EQ(fw.err().find("fdwatch: leak:"), std::string::npos) << fw.err();
  }
  // the same fixture leaking three files beside its listener and poller
  Subprocess leak({kFdwatch, "-q", "--fail-on-leak", "--", kFixtures + "/fx_checkpoint", "tcp", "epoll", "eventfd",
                   "3*file:/etc/hostname"});
  EXPECT_EQ(leak.wait(60), 3) << leak.err();
  std::regex line(
      "fdwatch: leak: fx_checkpoint \\(pid \\d+\\) exited holding 3 file from open_one \\(fx_checkpoint\\.c:\\d+\\) -> "
      "/etc/hostname\n");
  EXPECT_TRUE(std::regex_search(leak.err(), line)) << leak.err();
  // the attached line (-q keeps it), then the one leak line
  EXPECT_NE(leak.err().rfind("fdwatch: attached;", 0), std::string::npos) << leak.err();
  EXPECT_EQ(std::count(leak.err().begin(), leak.err().end(), '\n'), 2) << leak.err();
}

// fdwatch -a: the report leads with a summary and the leaking processes; a
// kernel thread (no fds, ever) gets no section.
TEST(ViewsE2E, SystemWideReportLeadsWithTheLeaker) {
  FDW_REQUIRE_ROOT();
  Subprocess fw({kFdwatch, "-a", "--no-stacks", "-i", "3600"});
  ASSERT_TRUE(fw.wait_stderr("attached", 30)) << fw.err();
  std::vector<std::string> leak = {kFixtures + "/fx_checkpoint"};
  for (int i = 0; i < 1200; ++i) {
    leak.push_back("file:/dev/null");
    leak.push_back("sleep:0.05");
  }
  Subprocess leaker(leak);
  // ground truth: the leaker has 60 fds of its own open (3 s at 20/s)
  const std::string fd_dir = "/proc/" + std::to_string(leaker.pid()) + "/fd";
  auto count_fds = [&] {
    size_t n = 0;
    if (DIR* d = opendir(fd_dir.c_str())) {
      while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
      closedir(d);
    }
    return n;
  };
  for (int i = 0; i < 600 && count_fds() < 63; ++i) usleep(20'000);
  ASSERT_GE(count_fds(), 63u);
  fw.signal(SIGINT);
  ASSERT_EQ(fw.wait(60), 0) << fw.err();
  const std::string& t = fw.out();
  EXPECT_TRUE(std::regex_search(t, std::regex("\n  [1-9]\\d* leaking, .*\\d+ process(es)? without fds not shown\n"))) << t.substr(0, 400);
  EXPECT_EQ(t.find("\n2 kthreadd"), std::string::npos);
  // Sections: "\nPID COMM..." after a blank line.  Every one before the
  // leaker's is leaking too (another user's leak may be bigger).
  const std::string head = "\n\n" + std::to_string(leaker.pid()) + " fx_checkpoint\n";
  size_t at = t.find(head);
  ASSERT_NE(at, std::string::npos) << t.substr(0, 2000);
  size_t end = t.find("\n\n", at + 2);
  EXPECT_NE(t.substr(at, end - at).find("  leaks (still open"), std::string::npos) << t.substr(at, end - at);
  for (size_t s = t.find("\n\n"); s < at; s = t.find("\n\n", s + 2)) {
    size_t e = t.find("\n\n", s + 2);
    EXPECT_NE(t.substr(s, e - s).find("leaks ("), std::string::npos) << t.substr(s, e - s);
  }
}

namespace {

// readlink of every fd of pid: the kernel's ground truth.
std::map<int, std::string> proc_fds(pid_t pid) {
  std::map<int, std::string> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char buf[512];
      ssize_t n = readlink((dir + "/" + e->d_name).c_str(), buf, sizeof buf);
      out[std::atoi(e->d_name)] = std::string(buf, n > 0 ? size_t(n) : 0);
    }
    closedir(d);
  }
  return out;
}

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

}  // namespace

// Attached to a process that has been leaking for a while: every leaked fd
// is in its suspect, the part open before attach labelled, and the counts
// add up to open_fds minus what is held.
TEST(ViewsE2E, AttachMidLeakCountsTheFdsOpenBeforeAttach) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  const std::string before = tmp.path() + "/before", after = tmp.path() + "/after";
  // 40 leaked before attach, then (after SIGUSR1) 30 more at 20/s
  std::vector<std::string> cmd = {kFixtures + "/fx_checkpoint", "40*file:/etc/hostname", "checkpoint:" + before,
                                  "wait"};
  for (int i = 0; i < 30; ++i) {
    cmd.push_back("file:/etc/hostname");
    cmd.push_back("sleep:0.05");
  }
  cmd.insert(cmd.end(), {"checkpoint:" + after, "wait"});
  Subprocess fx(cmd);
  for (int i = 0; i < 500 && !exists(before); ++i) usleep(20'000);
  ASSERT_TRUE(exists(before)) << fx.err();
  Subprocess fw({kFdwatch, "-p", std::to_string(fx.pid()), "--json", "-i", "3600"});
  Subprocess fwt({kFdwatch, "-p", std::to_string(fx.pid()), "-i", "3600"});
  ASSERT_TRUE(fw.wait_stderr("attached", 30)) << fw.err();
  ASSERT_TRUE(fwt.wait_stderr("attached", 30)) << fwt.err();
  fx.signal(SIGUSR1);
  for (int i = 0; i < 1000 && !exists(after); ++i) usleep(20'000);
  ASSERT_TRUE(exists(after)) << fx.err();
  const auto truth = proc_fds(fx.pid());
  fw.signal(SIGINT);
  fwt.signal(SIGINT);
  ASSERT_EQ(fw.wait(60), 0) << fw.err();
  json r = json::parse(fw.out());
  ASSERT_EQ(r["processes"].size(), 1u);
  const json& p = r["processes"][0];
  EXPECT_EQ(p["open_fds"], truth.size());
  size_t hostname = 0;
  for (auto& [fd, link] : truth) hostname += link == "/etc/hostname";
  ASSERT_EQ(hostname, 70u);
  // one leaking suspect with its call site holds all 70, 40 of them open before attach
  const json& sus = p["suspects"];
  ASSERT_GE(sus.size(), 1u) << p.dump(1);
  EXPECT_EQ(sus[0]["verdict"], "leaking") << sus.dump(1);
  EXPECT_EQ(sus[0]["site"].get<std::string>().rfind("open_one (fx_checkpoint.c:", 0), 0u) << sus.dump(1);
  EXPECT_EQ(sus[0]["target"], "/etc/hostname");
  EXPECT_EQ(sus[0]["count"], 70);
  EXPECT_EQ(sus[0]["before_attach"], 40);
  EXPECT_EQ(sus[0]["unattributed"], 40);
  // the rest are held (stdio), and every fd is in exactly one suspect
  uint64_t held = 0;
  for (size_t i = 1; i < sus.size(); ++i) {
    EXPECT_EQ(sus[i]["verdict"], "held") << sus[i].dump();
    held += sus[i]["count"].get<uint64_t>();
  }
  EXPECT_EQ(sus[0]["count"].get<uint64_t>(), p["open_fds"].get<uint64_t>() - held);
  EXPECT_EQ(held, truth.size() - 70);

  // the text report, watching alongside, says so in its LEAK line
  ASSERT_EQ(fwt.wait(60), 0) << fwt.err();
  EXPECT_TRUE(std::regex_search(fwt.out(), std::regex("\nLEAK fx_checkpoint: 30 files from open_one \\(fx_checkpoint\\.c:\\d+\\) "
                                                      "-> /etc/hostname \\(\\+40 opened before attach to the same "
                                                      "target\\), \\+\\d+/s\n")))
      << fwt.out();
}

// The same after the process exits: what it held at exit, open before
// attach included, is in leaked_at_exit and in its suspect.
TEST(ViewsE2E, AttachedProcessThatExitsLeakedWhatItHeld) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  const std::string before = tmp.path() + "/before";
  std::vector<std::string> cmd = {kFixtures + "/fx_checkpoint", "40*file:/etc/hostname", "checkpoint:" + before,
                                  "wait"};
  for (int i = 0; i < 10; ++i) {
    cmd.push_back("file:/etc/hostname");
    cmd.push_back("sleep:0.05");
  }
  Subprocess fx(cmd);
  for (int i = 0; i < 500 && !exists(before); ++i) usleep(20'000);
  ASSERT_TRUE(exists(before)) << fx.err();
  const size_t at_attach = proc_fds(fx.pid()).size();
  Subprocess fw({kFdwatch, "-p", std::to_string(fx.pid()), "--json", "-i", "3600"});
  ASSERT_TRUE(fw.wait_stderr("attached", 30)) << fw.err();
  fx.signal(SIGUSR1);
  ASSERT_EQ(fx.wait(30), 0) << fx.err();
  ASSERT_EQ(fw.wait(60), 0) << fw.err();  // ends when its target has exited
  json r = json::parse(fw.out());
  ASSERT_EQ(r["processes"].size(), 1u);
  const json& p = r["processes"][0];
  EXPECT_EQ(p["exited"], true);
  EXPECT_EQ(p["open_at_exit"], at_attach + 10);
  ASSERT_EQ(p["leaked_at_exit"].size(), at_attach + 10);
  size_t seeded = 0;
  for (auto& f : p["leaked_at_exit"]) seeded += f["seeded"].get<bool>();
  EXPECT_EQ(seeded, at_attach);
  const json& leak = p["suspects"][0];
  EXPECT_EQ(leak["site"].get<std::string>().rfind("open_one (fx_checkpoint.c:", 0), 0u) << leak.dump();
  EXPECT_EQ(leak["count"], 50);
  EXPECT_EQ(leak["before_attach"], 40);
  uint64_t total = 0;
  for (auto& s : p["suspects"]) total += s["count"].get<uint64_t>();
  EXPECT_EQ(total, at_attach + 10);
}
