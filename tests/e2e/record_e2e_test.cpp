// fdwatch record / report / the flight recorder on fixture programs: a log
// replayed must give the live report, and a postmortem bundle must replay.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/fixture_source.h"
#include "common/require_root.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"

using fdw::test::marked_line;
using fdw::test::site_at;
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

// ---- call stacks in the log: the replay tells the live story ----------------


bool stopped(int pid) {
  std::string st = fdw::test::slurp("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = st.rfind(')');
  return paren != std::string::npos && paren + 2 < st.size() && st[paren + 2] == 'T';
}

// What two fdwatch runs that saw the same events may still disagree on:
//  - the growth figures, Theil-Sen slopes over samples taken at events and
//    at each fdwatch's own ticks (live: its poll loop; replay: every second
//    of event time): compared by sign only;
//  - ages, by a millisecond: each run's BPF program reads the clock itself,
//    so the two timestamps of one syscall differ by microseconds, which can
//    tip an age rounded to 1 ms;
//  - ages of fds open before attach (seeded; suspects holding them): lower
//    bounds counted from each run's own start, so not compared.
// tick_free() takes the growth figures out; ages() takes the ages out.
json tick_free(json p) {
  p.erase("leak_rate_per_s");
  p.erase("time_to_limit_s");
  for (auto& s : p["suspects"]) s.erase("growth_per_s");
  return p;
}

std::vector<double> ages(json& p) {
  std::vector<double> out;
  for (const char* list : {"fds", "leaked_at_exit"})
    for (auto& f : p[list]) {
      if (!f["seeded"].get<bool>()) out.push_back(f["age_s"].get<double>());
      f.erase("age_s");
    }
  for (auto& s : p["suspects"]) {
    if (!s.contains("before_attach")) out.push_back(s["oldest_age_s"].get<double>());
    s.erase("oldest_age_s");
  }
  return out;
}

void expect_same_growth_sign(const json& live, const json& rep) {
  ASSERT_EQ(live["suspects"].size(), rep["suspects"].size());
  for (size_t i = 0; i < live["suspects"].size(); ++i)
    EXPECT_EQ(live["suspects"][i]["growth_per_s"].get<double>() > 0,
              rep["suspects"][i]["growth_per_s"].get<double>() > 0) << i;
}

// Every other field equal; ages within the clock-reading skew.
void expect_same_story(const json& live, const json& rep) {
  json l = tick_free(live), r = tick_free(rep);
  std::vector<double> la = ages(l), ra = ages(r);
  EXPECT_EQ(r.dump(1), l.dump(1));
  ASSERT_EQ(la.size(), ra.size());
  for (size_t i = 0; i < la.size(); ++i) EXPECT_NEAR(ra[i], la[i], 0.0015) << i;
  expect_same_growth_sign(live, rep);
}

// One run of a real program watched live (--json) and recorded at the same
// time.  Both attach to a shell that has stopped itself; once both say
// "attached" it is continued and execs CMD, so the two see the very same
// syscalls from the same start, and both stop at its exit.  Replayed, the log must give the live process report field for field
// (expect_same_story says which two kinds of figure may differ, and how).
Pair watch_and_record(const std::string& log, const std::string& cmd) {
  Pair out;
  Subprocess sh({"/bin/sh", "-c", "kill -STOP $$; exec " + cmd});
  out.pid = sh.pid();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!stopped(sh.pid()) && std::chrono::steady_clock::now() < deadline) sh.wait_stderr("\x01", 0.02);
  EXPECT_TRUE(stopped(sh.pid()));
  std::string pid = std::to_string(sh.pid());
  Subprocess rec({kFdwatch, "record", "-p", pid, "-o", log});
  Subprocess fw({kFdwatch, "-p", pid, "--json"});
  EXPECT_TRUE(rec.wait_stderr("attached", 20)) << rec.err();
  EXPECT_TRUE(fw.wait_stderr("attached", 20)) << fw.err();
  sh.signal(SIGCONT);
  EXPECT_EQ(sh.wait(60), 0) << sh.err();
  EXPECT_EQ(rec.wait(30), 0) << rec.err();
  EXPECT_EQ(fw.wait(30), 0) << fw.err();
  EXPECT_NE(rec.err().find(" 0 events lost"), std::string::npos) << rec.err();
  EXPECT_EQ(rec.err().find("call-stack records lost"), std::string::npos) << rec.err();
  EXPECT_EQ(fw.err().find("call-stack records lost"), std::string::npos) << fw.err();
  out.live = json::parse(fw.out());
  Subprocess rep({kFdwatch, "report", log, "--json"});
  EXPECT_EQ(rep.wait(20), 0) << rep.err();
  EXPECT_EQ(rep.err(), "");
  out.replayed = json::parse(rep.out());
  return out;
}

// The replayed process equals the live one; returns it (null on failure).
const json* expect_replay_is_live(const Pair& r) {
  const json* live = find_proc(r.live, r.pid);
  const json* rep = find_proc(r.replayed, r.pid);
  EXPECT_NE(live, nullptr) << r.live.dump();
  EXPECT_NE(rep, nullptr) << r.replayed.dump();
  if (!live || !rep) return nullptr;
  expect_same_story(*live, *rep);
  EXPECT_EQ(r.replayed["lost_events"], 0);
  EXPECT_EQ(r.live["lost_events"], 0);
  return rep;
}

// The log holds each frame text once and refers to stacks by id.
void expect_interned(const std::string& log) {
  Subprocess cat({"/bin/sh", "-c", "zstdcat -f -- \"$0\"", log});
  ASSERT_EQ(cat.wait(20), 0) << cat.err();
  std::istringstream in(cat.out());
  std::set<std::string> texts;
  size_t frames = 0, refs = 0;
  for (std::string l; std::getline(in, l);) {
    auto j = json::parse(l);
    EXPECT_FALSE(j.contains("stack")) << l;  // no inline stacks
    if (j.value("type", "") == "frame") {
      ++frames;
      texts.insert(j["text"].get<std::string>());
    }
    refs += j.contains("stack_id");
  }
  EXPECT_GT(frames, 0u);
  EXPECT_EQ(frames, texts.size());
  EXPECT_GE(refs, 10u);  // 7 files and 3 sockets at least
}

void expect_stk_leak_sites(const json& p) {
  EXPECT_EQ(p["comm"], "stk_leak");
  EXPECT_TRUE(p["exited"].get<bool>());
  // its stdio, open before attach, are held groups of their own after these
  ASSERT_GE(p["suspects"].size(), 2u) << p.dump();
  for (size_t i = 2; i < p["suspects"].size(); ++i)
    EXPECT_EQ(p["suspects"][i]["before_attach"], p["suspects"][i]["count"]) << p["suspects"][i].dump();
  const json& files = p["suspects"][0];
  const json& socks = p["suspects"][1];
  EXPECT_EQ(files["site"], site_at("open_config", "stk_leak.c", "STK-SITE files"));
  EXPECT_EQ(files["count"], 7);
  EXPECT_EQ(files["target"], "/etc/hostname");
  EXPECT_EQ(files["verdict"], "leaking");
  EXPECT_EQ(socks["site"], site_at("connect_backend", "stk_leak.c", "STK-SITE sockets"));
  EXPECT_EQ(socks["count"], 3);
  size_t own = 0;
  for (auto& f : p["leaked_at_exit"]) own += !f["seeded"].get<bool>();
  ASSERT_EQ(own, 10u);
  for (auto& f : p["leaked_at_exit"]) {
    if (f["seeded"].get<bool>()) continue;
    const std::string main_line = site_at("main", "stk_leak.c", f["kind"] == "file" ? "STK-MAIN files" : "STK-MAIN sockets");
    EXPECT_NE(std::find(f["stack"].begin(), f["stack"].end(), main_line), f["stack"].end()) << f.dump();
  }
}

TEST(RecordE2E, ReplayedStacksAndSuspectsEqualTheLiveWatch) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  std::string log = tmp.file("stk.jsonl");
  Pair r = watch_and_record(log, kFixtures + "/stk_leak");
  if (const json* p = expect_replay_is_live(r)) expect_stk_leak_sites(*p);
  expect_interned(log);
  // the HTML page of the replay names the sites too
  std::string html = tmp.file("stk.html");
  Subprocess rep({kFdwatch, "report", log, "--html", html});
  ASSERT_EQ(rep.wait(20), 0) << rep.err();
  std::string page = fdw::test::slurp(html);
  EXPECT_NE(page.find(site_at("open_config", "stk_leak.c", "STK-SITE files")), std::string::npos);
  EXPECT_NE(page.find(site_at("connect_backend", "stk_leak.c", "STK-SITE sockets")), std::string::npos);
  EXPECT_EQ(page.find("<i>unknown</i>"), std::string::npos);
}

TEST(RecordE2E, CompressedLogReplaysTheSameStacks) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  std::string log = tmp.file("stk.jsonl.zst");
  Pair r = watch_and_record(log, kFixtures + "/stk_leak");
  if (const json* p = expect_replay_is_live(r)) expect_stk_leak_sites(*p);
  EXPECT_EQ(fdw::test::slurp(log).substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));
  expect_interned(log);
}

// The interpreter's own start-up (imports opened and closed) and a paced
// leak of 20 files from one Python function.
TEST(RecordE2E, PythonLeakReplaysAsWatchedLive) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  std::string log = tmp.file("py.jsonl.zst");
  Pair r = watch_and_record(log, "/usr/bin/python3 " + std::string(SOURCE_DIR) +
                                     "/tests/e2e/fixtures/py/fx_pyleak.py leak " + tmp.path() + " 20");
  const json* p = expect_replay_is_live(r);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ((*p)["comm"], "python3");
  ASSERT_FALSE((*p)["suspects"].empty()) << p->dump();
  const json& leak = (*p)["suspects"][0];
  EXPECT_EQ(leak["count"], 20);
  EXPECT_EQ(leak["targets"]["pattern"], tmp.path() + "/segment_*.log");
  EXPECT_NE(leak["site"], "");
  EXPECT_EQ(leak["verdict"], "leaking");
}

// Go: the runtime's own fds and threads, and a paced leak of 40 files whose
// suspect carries a hint.
TEST(RecordE2E, GoLeakReplaysAsWatchedLive) {
  FDW_REQUIRE_ROOT();
  const std::string go = kFixtures + "/fx_gohttp";
  if (access(go.c_str(), X_OK) != 0) {
    if (fdw::test::in_ci()) FAIL() << "no " << go << " (golang-go), and CI=true";
    GTEST_SKIP() << "no " << go << " (install golang-go)";
  }
  fdw::test::TempDir tmp;
  for (int i = 0; i < 40; ++i) std::ofstream(tmp.file("segment_" + std::to_string(i) + ".log")) << i;
  std::string log = tmp.file("go.jsonl.zst");
  Pair r = watch_and_record(log, go + " files " + tmp.path() + " 40");
  const json* p = expect_replay_is_live(r);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ((*p)["comm"], "fx_gohttp");
  ASSERT_FALSE((*p)["suspects"].empty()) << p->dump();
  const json& leak = (*p)["suspects"][0];
  EXPECT_EQ(leak["site"].get<std::string>().rfind("main.openSegment", 0), 0u) << leak.dump();
  EXPECT_EQ(leak["count"], 40);
  EXPECT_EQ(leak["verdict"], "leaking");
  EXPECT_NE(leak.value("hint", "").find("defer f.Close()"), std::string::npos) << leak.dump();
}

// A flight-recorder bundle written at the first EMFILE, beside a live watch
// of the same run.  The fixture makes no fd call after that EMFILE, so the
// bundle holds every fd event of the run: its replay must show the live fd
// table and suspects.  Besides the growth figures (see tick_free), the ages
// differ: the bundle reports the moment of its trigger, the watch the moment
// it stopped.
TEST(RecordE2E, FlightBundleHasTheLiveStacksAndSuspects) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  const std::string& dir = tmp.path();
  Subprocess fx({kFixtures + "/fx_emfile", "--wait", "--fails", "1", "--hold", "30", "32"});
  ASSERT_TRUE(fx.wait_stderr("waiting for SIGUSR1", 20));
  std::string pid = std::to_string(fx.pid());
  Subprocess rec({kFdwatch, "record", "-p", pid, "--ring", "10m", "-o", dir});
  Subprocess fw({kFdwatch, "-p", pid, "--json"});
  ASSERT_TRUE(rec.wait_stderr("attached", 20)) << rec.err();
  ASSERT_TRUE(fw.wait_stderr("attached", 20)) << fw.err();
  fx.signal(SIGUSR1);
  ASSERT_TRUE(rec.wait_stderr("fdwatch: postmortem bundle ", 20)) << rec.err();
  ASSERT_TRUE(fx.wait_stdout("\n", 20));  // its counts: every fd call is made
  fw.signal(SIGINT);
  rec.signal(SIGINT);
  ASSERT_EQ(fw.wait(20), 0) << fw.err();
  ASSERT_EQ(rec.wait(20), 0) << rec.err();
  size_t at_b = rec.err().find("postmortem bundle ");
  std::string bundle = rec.err().substr(at_b + 18, rec.err().find('\n', at_b) - at_b - 18);
  Subprocess rep({kFdwatch, "report", bundle + "/events.jsonl", "--json"});
  ASSERT_EQ(rep.wait(20), 0) << rep.err();
  json replayed = json::parse(rep.out());
  json written = json::parse(fdw::test::slurp(bundle + "/report.json"));
  json live = json::parse(fw.out());
  const json* q = find_proc(replayed, fx.pid());
  const json* w = find_proc(written, fx.pid());
  const json* l = find_proc(live, fx.pid());
  ASSERT_TRUE(q && w && l) << rep.out() << written.dump() << fw.out();
  // the bundle's log replays to the report the recorder wrote from memory
  EXPECT_EQ(q->dump(1), w->dump(1));
  json lt = tick_free(*l), qt = tick_free(*q);
  (void)ages(lt), (void)ages(qt);  // the watch is older: it reports when it stopped
  EXPECT_EQ(qt.dump(1), lt.dump(1));
  expect_same_growth_sign(*l, *q);
  auto counts = json::parse(fx.out().substr(0, fx.out().find('\n')));
  // the leak, which its stdin /dev/null (open before attach) joins by target,
  // and the stdout/stderr pipes, held
  ASSERT_EQ((*q)["suspects"].size(), 2u) << q->dump();
  const json& s = (*q)["suspects"][0];
  EXPECT_EQ(s["count"].get<int>() - s.value("unattributed", 0), counts["opened"]);
  EXPECT_EQ((*q)["suspects"][1]["before_attach"], (*q)["suspects"][1]["count"]);
  EXPECT_EQ(s["target"], "/dev/null");
  EXPECT_EQ(s["verdict"], "leaking");
  EXPECT_EQ(s["site"].get<std::string>().rfind("main (fx_emfile.c:", 0), 0u) << s.dump();
  int with_stack = 0;
  for (auto& f : (*q)["fds"]) with_stack += !f["stack"].empty();
  EXPECT_EQ(with_stack, counts["opened"].get<int>());
}

}  // namespace
