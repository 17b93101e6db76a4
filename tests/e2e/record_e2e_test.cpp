// fdwatch record / report / the flight recorder on fixture programs: a log
// replayed must give the live report, and a postmortem bundle must replay.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <dirent.h>

#include <map>
#include <nlohmann/json.hpp>

#include "common/require_root.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"

using fdw::test::Subprocess;
using json = nlohmann::json;

namespace {

const std::string kFdwatch = FDWATCH_BIN;
const std::string kFixtures = FIXTURE_DIR;

const json* find_proc(const json& report, int pid) {
  for (auto& p : report["processes"])
    if (p["pid"] == pid) return &p;
  return nullptr;
}

// The parts of a process report that do not depend on when it was taken.
json stable(const json& p) {
  json fds = json::array();
  for (auto& f : p["fds"]) fds.push_back({{"fd", f["fd"]}, {"kind", f["kind"]}, {"target", f["target"]}});
  std::sort(fds.begin(), fds.end(), [](const json& a, const json& b) { return a["fd"] < b["fd"]; });
  return {{"pid", p["pid"]},       {"open_fds", p["open_fds"]}, {"opened", p["opened"]},
          {"closed", p["closed"]}, {"failed", p["failed"]},     {"fds", fds},
          {"comm", p["comm"]},     {"rlimit_nofile", p["rlimit_nofile"]}};
}

// Records and watches one fx_checkpoint run at the same time; returns the
// live report, the replayed one and the log path.
struct Pair {
  json live, replayed;
  int pid = 0;
};

Pair record_and_watch(const std::string& log) {
  Pair out;
  fdw::test::TempDir tmp;
  const std::string& dir = tmp.path();
  std::string cp = dir + "/cp";
  Subprocess fx({kFixtures + "/fx_checkpoint", "wait", "file:/etc/hostname", "dir:/etc", "pipe", "socketpair",
                 "tcp", "eventfd", "memfd", "dup:0", "close:2", "3*file:/dev/null", "close-last",
                 "checkpoint:" + cp, "wait"});
  out.pid = fx.pid();
  std::string pid = std::to_string(fx.pid());
  Subprocess rec({kFdwatch, "record", "-p", pid, "-o", log});
  Subprocess fw({kFdwatch, "-p", pid, "--json", "--interval", "0.2"});
  EXPECT_TRUE(rec.wait_stderr("attached", 20)) << rec.err();
  EXPECT_TRUE(fw.wait_stderr("attached", 20)) << fw.err();
  fx.signal(SIGUSR1);
  EXPECT_TRUE(fdw::test::wait_for_file(cp, 20));  // both drain the ring when they stop
  rec.signal(SIGINT);
  fw.signal(SIGINT);
  EXPECT_EQ(rec.wait(20), 0) << rec.err();
  EXPECT_EQ(fw.wait(20), 0) << fw.err();
  EXPECT_NE(rec.err().find("fdwatch: recorded "), std::string::npos) << rec.err();
  EXPECT_NE(rec.err().find(" 0 events lost"), std::string::npos) << rec.err();
  out.live = json::parse(fw.out());
  Subprocess rep({kFdwatch, "report", log, "--json"});
  EXPECT_EQ(rep.wait(20), 0) << rep.err();
  EXPECT_EQ(rep.err(), "");
  out.replayed = json::parse(rep.out());
  return out;
}

void expect_same(const Pair& r) {
  const json* live = find_proc(r.live, r.pid);
  const json* rep = find_proc(r.replayed, r.pid);
  ASSERT_NE(live, nullptr) << r.live.dump();
  ASSERT_NE(rep, nullptr) << r.replayed.dump();
  EXPECT_EQ(stable(*rep), stable(*live));
  // exact values too, so that "both wrong the same way" cannot pass:
  // 13 by the ops (pipe and socketpair 2 each) + 2 by the checkpoint
  EXPECT_EQ((*rep)["opened"], 15);
  EXPECT_EQ((*rep)["closed"], 4);
  EXPECT_EQ(r.replayed["schema"], "fdwatch.report.v1");
}

TEST(RecordE2E, ReplayEqualsLiveWatch) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  std::string log = tmp.file("run.jsonl");
  Pair r = record_and_watch(log);
  expect_same(r);
  // the first line is the header
  std::string text = fdw::test::slurp(log);
  auto header = json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(header["schema"], "fdwatch.events.v1");
  EXPECT_EQ(header["argv"][1], "record");
  EXPECT_GT(header["start_mono_ns"].get<uint64_t>(), 0u);
  EXPECT_FALSE(header["kernel"].get<std::string>().empty());
}

TEST(RecordE2E, CompressedLogReadsBack) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  std::string log = tmp.file("run.jsonl.zst");
  Pair r = record_and_watch(log);
  expect_same(r);
  std::string bytes = fdw::test::slurp(log);
  ASSERT_GE(bytes.size(), 4u);
  EXPECT_EQ(bytes.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));
}

TEST(RecordE2E, CorruptLogReportsLinesAndStillReports) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  const std::string& dir = tmp.path();
  std::string log = dir + "/run.jsonl";
  Pair r = record_and_watch(log);
  std::string text = fdw::test::slurp(log);
  std::vector<std::string> lines;
  for (size_t i = 0; i < text.size();) {
    size_t j = text.find('\n', i);
    lines.push_back(text.substr(i, j - i));
    i = j + 1;
  }
  ASSERT_GT(lines.size(), 10u);
  // garbage as line 3, and the last line cut in half
  std::string bad;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == 2) bad += "garbage {\n";
    if (i + 1 == lines.size()) bad += lines[i].substr(0, lines[i].size() / 2);
    else bad += lines[i] + "\n";
  }
  std::string corrupt = dir + "/corrupt.jsonl";
  FILE* f = fopen(corrupt.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fwrite(bad.data(), 1, bad.size(), f);
  fclose(f);
  Subprocess rep({kFdwatch, "report", corrupt});
  EXPECT_EQ(rep.wait(20), 0) << rep.err();
  EXPECT_NE(rep.err().find("fdwatch: " + corrupt + ":3: "), std::string::npos) << rep.err();
  EXPECT_NE(rep.err().find("fdwatch: " + corrupt + ":" + std::to_string(lines.size() + 1) + ": "),
            std::string::npos)
      << rep.err();
  EXPECT_NE(rep.out().find("fdwatch report: "), std::string::npos) << rep.out();
  EXPECT_NE(rep.out().find(std::to_string(r.pid)), std::string::npos) << rep.out();
}

TEST(RecordE2E, NotALogIsOneLineError) {
  fdw::test::TempDir tmp;
  const std::string& dir = tmp.path();
  std::string path = dir + "/notes.txt";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("hello\nworld\n", f);
  fclose(f);
  Subprocess rep({kFdwatch, "report", path});
  EXPECT_EQ(rep.wait(20), 1);
  EXPECT_EQ(rep.out(), "");
  EXPECT_EQ(std::count(rep.err().begin(), rep.err().end(), '\n'), 1) << rep.err();
  EXPECT_EQ(rep.err().rfind("fdwatch: " + path + ": ", 0), 0u) << rep.err();
}

TEST(RecordE2E, FlightRecorderWritesReplayableBundleOnEmfile) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  const std::string& dir = tmp.path();
  Subprocess fx({kFixtures + "/fx_emfile", "--wait", "--fails", "5", "--hold", "30", "32"});
  ASSERT_TRUE(fx.wait_stderr("waiting for SIGUSR1", 20));
  Subprocess rec({kFdwatch, "record", "-p", std::to_string(fx.pid()), "--ring", "10m", "--trigger", "emfile",
                  "-o", dir});
  ASSERT_TRUE(rec.wait_stderr("attached", 20)) << rec.err();
  fx.signal(SIGUSR1);
  ASSERT_TRUE(rec.wait_stderr("fdwatch: postmortem bundle " + dir + "/fdwatch-" + std::to_string(fx.pid()) + "-", 20))
      << rec.err();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (fx.out().find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline)
    fx.wait_stderr("\x01", 0.05);
  auto counts = json::parse(fx.out().substr(0, fx.out().find('\n')));
  rec.signal(SIGINT);
  ASSERT_EQ(rec.wait(20), 0) << rec.err();
  // one bundle: the other 4 EMFILEs fall within the same minute
  size_t at = rec.err().find("postmortem bundle ");
  std::string bundle = rec.err().substr(at + 18, rec.err().find('\n', at) - at - 18);
  EXPECT_EQ(rec.err().find("postmortem bundle ", at + 1), std::string::npos) << rec.err();
  for (const char* f : {"/events.jsonl", "/report.txt", "/report.json", "/report.html"})
    EXPECT_TRUE(fdw::test::wait_for_file(bundle + f, 0)) << bundle << f;
  auto report = json::parse(fdw::test::slurp(bundle + "/report.json"));
  const json* p = find_proc(report, fx.pid());
  ASSERT_NE(p, nullptr) << report.dump();
  // the bundle is written right after the first EMFILE reaches fdwatch; the
  // fixture's other failures may or may not be in it yet
  EXPECT_GE((*p)["failed"]["EMFILE"].get<int>(), 1);
  EXPECT_LE((*p)["failed"]["EMFILE"].get<int>(), counts["emfile"].get<int>());
  EXPECT_EQ((*p)["rlimit_nofile"], 32);
  EXPECT_EQ((*p)["opened"], counts["opened"]);
  EXPECT_EQ((*p)["open_fds"], 32);
  EXPECT_NE(fdw::test::slurp(bundle + "/report.html").find("class=\"emfile\""), std::string::npos);
  Subprocess rep({kFdwatch, "report", bundle + "/events.jsonl", "--json"});
  ASSERT_EQ(rep.wait(20), 0) << rep.err();
  auto replayed = json::parse(rep.out());
  const json* q = find_proc(replayed, fx.pid());
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(stable(*q), stable(*p));
}

}  // namespace
