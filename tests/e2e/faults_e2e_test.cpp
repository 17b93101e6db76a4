// Faults (docs/reliability.md, one row per test): the fdwatch binary killed,
// starved of disk, cut off from its reader, given bad arguments, denied what
// it reads.  Each asserts what the user sees: exit status, the exact message,
// what stays on disk, and counts against /proc.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/bpf_progs.h"
#include "common/require_root.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "log/reader.h"
#include "log/writer.h"

using fdw::test::slurp;
using fdw::test::Subprocess;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kFdwatch = FDWATCH_BIN;
const std::string kFixtures = FIXTURE_DIR;
// Deadline for anything that loads the BPF object (seconds on a quiet
// machine, a minute on a busy one); every wait returns as soon as it can.
constexpr double kLoad = 300;
const std::vector<std::string> kNobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                          "--clear-groups"};

const json* find_proc(const json& report, int pid) {
  for (auto& p : report["processes"])
    if (p["pid"] == pid) return &p;
  return nullptr;
}

size_t proc_fd_count(int pid) {
  size_t n = 0;
  for (auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) (void)e, ++n;
  return n;
}

size_t lines_of(const std::string& path) {
  std::string s = slurp(path);
  return size_t(std::count(s.begin(), s.end(), '\n'));
}

// Complete lines of `path` that are stack-table records (frames, stacks).
size_t table_lines_of(const std::string& path) {
  std::istringstream in(slurp(path));
  size_t n = 0;
  for (std::string l; std::getline(in, l) && !in.eof();)
    n += l.rfind("{\"type\":\"frame\"", 0) == 0 || l.rfind("{\"type\":\"stack\"", 0) == 0;
  return n;
}

// Waits until `path` holds at least n complete lines.
bool wait_lines(const std::string& path, size_t n, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (lines_of(path) < n && std::chrono::steady_clock::now() < end) usleep(20 * 1000);
  return lines_of(path) >= n;
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// fx_checkpoint holding `n` files open, then waiting; the checkpoint is the
// kernel's own fd map.
struct Holder {
  fdw::test::TempDir dir;
  std::unique_ptr<Subprocess> fx;
  explicit Holder(int n, std::vector<std::string> prefix = {}) {
    chmod(dir.path().c_str(), 0777);  // the fixture may run as nobody
    std::string cp = dir.file("cp");
    fx = std::make_unique<Subprocess>(cat(prefix, {kFixtures + "/fx_checkpoint", std::to_string(n) + "*file:/dev/null",
                                                   "checkpoint:" + cp, "wait"}));
    EXPECT_TRUE(fdw::test::wait_for_file(cp, 20));
  }
  int pid() const { return fx->pid(); }
  std::string spid() const { return std::to_string(fx->pid()); }
};

// ---- the event log ----------------------------------------------------------

TEST(FaultsE2E, SigkillDuringRecordLeavesACutLogThatReplays) {
  FDW_REQUIRE_ROOT();
  Holder h(20);
  fdw::test::TempDir tmp;
  std::string killed = tmp.file("killed.jsonl"), clean = tmp.file("clean.jsonl");
  Subprocess rec({kFdwatch, "record", "-p", h.spid(), "-o", killed});
  Subprocess rec2({kFdwatch, "record", "-p", h.spid(), "-o", clean});
  ASSERT_TRUE(rec.wait_stderr("attached", kLoad)) << rec.err();
  ASSERT_TRUE(rec2.wait_stderr("attached", kLoad)) << rec2.err();
  ASSERT_TRUE(wait_lines(killed, 2, 20));  // header + the seeding snapshot, flushed
  rec.signal(SIGKILL);
  EXPECT_EQ(rec.wait(kLoad), 128 + SIGKILL);
  rec2.signal(SIGINT);
  EXPECT_EQ(rec2.wait(kLoad), 0) << rec2.err();

  Subprocess rep({kFdwatch, "report", killed, "--json"});
  EXPECT_EQ(rep.wait(kLoad), 0);
  EXPECT_EQ(rep.err(), "fdwatch: " + killed + ": the log ends without its closing record (recording killed, "
                       "disk full, or still running); replayed up to its last complete record\n");
  json cut = json::parse(rep.out());
  EXPECT_EQ(cut["log"]["complete"], false);
  const json* p = find_proc(cut, h.pid());
  ASSERT_NE(p, nullptr) << rep.out();
  EXPECT_EQ((*p)["open_fds"], proc_fd_count(h.pid()));

  Subprocess rep2({kFdwatch, "report", clean, "--json"});
  EXPECT_EQ(rep2.wait(kLoad), 0);
  EXPECT_EQ(rep2.err(), "");
  json whole = json::parse(rep2.out());
  EXPECT_EQ(whole["log"]["complete"], true);
  // the same state (ages differ: the whole log's window ends at its stop)
  for (const char* k : {"open_fds", "opened", "closed", "by_kind", "exited"})
    EXPECT_EQ((*find_proc(whole, h.pid()))[k], (*p)[k]) << k;
  std::string last = slurp(clean).substr(slurp(clean).rfind('\n', slurp(clean).size() - 2) + 1);
  EXPECT_EQ(last.rfind("{\"type\":\"end\",", 0), 0u) << last;
  EXPECT_NE(last.find("\"lost\":0"), std::string::npos) << last;
}

TEST(FaultsE2E, FailedRecordStartLeavesTheOldLogUntouched) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  std::string old = tmp.file("old.jsonl");
  std::ofstream(old) << "precious\n";
  {  // a dead pid
    Subprocess rec({kFdwatch, "record", "-o", old, "-p", "4194000"});
    EXPECT_EQ(rec.wait(kLoad), 1);
    EXPECT_EQ(rec.err(), "fdwatch: no such process: 4194000\n");
  }
  {  // nobody, in a directory of its own: the staging file goes again
    ASSERT_EQ(chown(tmp.path().c_str(), 65534, 65534), 0);
    ASSERT_EQ(chown(old.c_str(), 65534, 65534), 0);
    Subprocess rec(cat(kNobody, {"--inh-caps=-all", "--bounding-set=-all", kFdwatch, "record", "-o", old, "-p", "1"}));
    EXPECT_EQ(rec.wait(kLoad), 1);
    EXPECT_EQ(rec.err().rfind("fdwatch: tracing needs root", 0), 0u) << rec.err();
  }
  EXPECT_EQ(slurp(old), "precious\n");
  size_t entries = 0;
  for (auto& e : fs::directory_iterator(tmp.path())) (void)e, ++entries;
  EXPECT_EQ(entries, 1u);  // nothing left behind
}

TEST(FaultsE2E, DiskFullDuringRecordStopsWithOneLineAndKeepsWhatWasWritten) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  ASSERT_EQ(mount("tmpfs", tmp.path().c_str(), "tmpfs", 0, "size=256k,mode=0700"), 0) << strerror(errno);
  struct Unmount {
    std::string p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{tmp.path()};
  // a shell opening and closing an fd as fast as it can: ~100 bytes a line
  Subprocess churn({"/bin/sh", "-c", "while :; do exec 4</dev/null; exec 4<&-; done"});
  std::string log = tmp.file("full.jsonl");
  Subprocess rec({kFdwatch, "record", "-p", std::to_string(churn.pid()), "-o", log});
  EXPECT_EQ(rec.wait(kLoad), 1);
  EXPECT_EQ(rec.err().substr(rec.err().find("fdwatch: recording")),
            "fdwatch: recording stopped: write " + log + ": No space left on device\n"
            "hint: what was written before replays: fdwatch report " + log + "\n");
  Subprocess rep({kFdwatch, "report", log, "--json"});
  EXPECT_EQ(rep.wait(kLoad), 0) << rep.err();
  json r = json::parse(rep.out());
  EXPECT_EQ(r["log"]["complete"], false);
  const json* p = find_proc(r, churn.pid());
  ASSERT_NE(p, nullptr);
  EXPECT_GT((*p)["opened"].get<uint64_t>(), 1000u);
  // the events that replay are every complete line on disk (minus the header
  // and the stack table)
  fdw::LogReader rd;
  ASSERT_TRUE(rd.open(log).ok());
  uint64_t n = 0;
  for (auto got = rd.next(); got && *got; got = rd.next()) ++n;
  EXPECT_EQ(n, lines_of(log) - 1 - table_lines_of(log));
}

// ---- stdout and signals -----------------------------------------------------

TEST(FaultsE2E, TopBatchIntoAClosedPipeExitsQuietly) {
  FDW_REQUIRE_ROOT();
  Subprocess top({kFdwatch, "top", "-b", "-d", "0.2"});
  ASSERT_TRUE(top.wait_stdout("PID", kLoad)) << top.err();
  top.close_out();  // `| head -3` has read its lines and exited
  EXPECT_EQ(top.wait(kLoad), 128 + SIGPIPE);
  EXPECT_EQ(top.err(), "");
}

// SIGHUP ends the watch like Ctrl-C; a SIGTERM while the report is being
// written (here: into a full pipe) does not cut the document.
TEST(FaultsE2E, SignalsDuringTheFinalReportNeverCutTheJson) {
  FDW_REQUIRE_ROOT();
  Holder h(900);
  Subprocess fw({kFdwatch, "-p", h.spid(), "--json", "--no-stacks"});
  ASSERT_TRUE(fw.wait_stderr("attached", kLoad)) << fw.err();
  fw.signal(SIGHUP);
  int cap = fcntl(fw.out_fd(), F_GETPIPE_SZ);
  int avail = 0;
  for (int i = 0; i < 2000 && avail < cap; ++i) {
    usleep(10 * 1000);
    ioctl(fw.out_fd(), FIONREAD, &avail);
  }
  ASSERT_EQ(avail, cap) << "the report is shorter than the pipe";
  fw.signal(SIGTERM);
  EXPECT_EQ(fw.wait(kLoad), 0) << fw.err();
  json r = json::parse(fw.out());  // whole
  EXPECT_EQ((*find_proc(r, h.pid()))["open_fds"], proc_fd_count(h.pid()));
}

// ---- report -----------------------------------------------------------------

std::string small_log(const std::string& path) {
  fdw::LogWriter w;
  fdw::LogHeader hd;
  hd.start_mono_ns = 1'000'000'000;
  EXPECT_TRUE(w.open(path).ok());
  EXPECT_TRUE(w.write_header(hd).ok());
  fdw::Event s;
  s.type = fdw::EvType::Snapshot;
  s.ts_ns = 1'000'000'000;
  s.pid = 42;
  s.fds = {{0, fdw::Kind::File, "/dev/null", false}};
  EXPECT_TRUE(w.write(s).ok());
  fdw::Event o;
  o.type = fdw::EvType::Open;
  o.ts_ns = 6'000'000'000;
  o.pid = 42;
  o.fd = 3;
  o.kind = fdw::Kind::File;
  o.target = "/etc/hosts";
  EXPECT_TRUE(w.write(o).ok());
  EXPECT_TRUE(w.write_end(6'000'000'000, 0).ok());
  EXPECT_TRUE(w.close().ok());
  return path;
}

namespace {

// Whether pid catches SIGINT (its stop handler is installed).
bool catches_sigint(pid_t pid) {
  std::string st = slurp("/proc/" + std::to_string(pid) + "/status");
  auto at = st.find("SigCgt:\t");
  return at != std::string::npos && (std::stoull(st.substr(at + 8, 16), nullptr, 16) & (1ull << (SIGINT - 1)));
}

}  // namespace

// Ctrl-C while the BPF object loads ends fdwatch at once (130, no report)
// and leaves nothing attached.  The signal is sent as soon as the stop
// handler is in place, right before the load, which verifies dozens of
// programs: far longer than the millisecond the test takes to notice.
TEST(FaultsE2E, CtrlCWhileLoadingExitsAtOnceAndLeavesNothingAttached) {
  FDW_REQUIRE_ROOT();
  const std::set<uint32_t> before = fdw::test::session_prog_ids();
  Subprocess sleeper({"/bin/sleep", "30"});
  Subprocess fw({kFdwatch, "-p", std::to_string(sleeper.pid())});
  for (int i = 0; i < 60000 && !catches_sigint(fw.pid()); ++i) usleep(1000);
  ASSERT_TRUE(catches_sigint(fw.pid())) << fw.err();
  fw.signal(SIGINT);
  int status = fw.wait(60);
  EXPECT_EQ(status, 130) << fw.err();
  EXPECT_EQ(fw.out(), "");
  EXPECT_EQ(fw.err(), "");  // not even "attached"
  for (;;) {  // freeing is deferred (RCU): poll until it happened
    auto now = fdw::test::session_prog_ids();
    if (std::all_of(now.begin(), now.end(), [&](uint32_t id) { return before.count(id); })) break;
    usleep(20 * 1000);
  }
}

TEST(FaultsE2E, ReportRefusesAPidNotInTheLogAndATimePastItsEnd) {
  fdw::test::TempDir tmp;
  std::string log = small_log(tmp.file("small.jsonl"));
  {
    Subprocess rep({kFdwatch, "report", log, "-p", "999"});
    EXPECT_EQ(rep.wait(kLoad), 1);
    EXPECT_EQ(rep.err(), "fdwatch: pid 999: not in " + log + "\n");
    EXPECT_EQ(rep.out(), "");
  }
  {
    Subprocess rep({kFdwatch, "report", log, "--until", "100"});
    EXPECT_EQ(rep.wait(kLoad), 1);
    EXPECT_EQ(rep.err(), "fdwatch: --until 100: past the end of " + log + " (it covers 5.0 s)\n");
    EXPECT_EQ(rep.out(), "");
  }
  Subprocess rep({kFdwatch, "report", log, "-p", "42", "--until", "5", "--json"});
  EXPECT_EQ(rep.wait(kLoad), 0) << rep.err();
  EXPECT_EQ(json::parse(rep.out())["processes"][0]["open_fds"], 2);
}

TEST(FaultsE2E, ReportNeedsNoRootAndKeepsNoCapabilities) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  chmod(tmp.path().c_str(), 0755);
  std::string log = small_log(tmp.file("small.jsonl"));
  chmod(log.c_str(), 0644);
  {
    Subprocess rep(cat(kNobody, {"--inh-caps=-all", "--bounding-set=-all", kFdwatch, "report", log, "--json"}));
    EXPECT_EQ(rep.wait(kLoad), 0) << rep.err();
    EXPECT_EQ(json::parse(rep.out())["processes"][0]["pid"], 42);
  }
  // As root: the capabilities are gone before the file is opened (a FIFO
  // here, so the test can look while report waits for it).
  std::string fifo = tmp.file("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Subprocess rep({kFdwatch, "report", fifo, "--json"});
  std::string status, want = "CapEff:\t0000000000000000";
  for (int i = 0; i < 2000 && status.find(want) == std::string::npos; ++i) {
    usleep(10 * 1000);
    status = slurp("/proc/" + std::to_string(rep.pid()) + "/status");
  }
  EXPECT_NE(status.find(want), std::string::npos) << status;
  EXPECT_NE(status.find("CapPrm:\t0000000000000000"), std::string::npos) << status;
  EXPECT_NE(status.find("NoNewPrivs:\t1"), std::string::npos) << status;
  std::ofstream(fifo) << slurp(log);
  EXPECT_EQ(rep.wait(kLoad), 0) << rep.err();
  EXPECT_EQ(json::parse(rep.out())["processes"][0]["pid"], 42);
}

TEST(FaultsE2E, OutputsArePrivateAndPlantedSymlinksRefused) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  std::string log = small_log(tmp.file("small.jsonl"));
  std::string victim = tmp.file("victim"), html = tmp.file("report.html");
  std::ofstream(victim) << "victim";
  ASSERT_EQ(symlink(victim.c_str(), html.c_str()), 0);
  {
    Subprocess rep({kFdwatch, "report", log, "--html", html});
    EXPECT_EQ(rep.wait(kLoad), 1);
    EXPECT_EQ(rep.err(), "fdwatch: open " + html + ": is a symbolic link; refusing to follow it\n");
    EXPECT_EQ(slurp(victim), "victim");
  }
  ASSERT_EQ(unlink(html.c_str()), 0);
  Subprocess rep({kFdwatch, "report", log, "--html", html});
  EXPECT_EQ(rep.wait(kLoad), 0) << rep.err();
  struct stat st {};
  ASSERT_EQ(stat(html.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // record: the same refusal, before anything is attached
  std::string planted = tmp.file("planted.jsonl");
  ASSERT_EQ(symlink(victim.c_str(), planted.c_str()), 0);
  Subprocess rec({kFdwatch, "record", "-o", planted, "-p", "1"});
  EXPECT_EQ(rec.wait(kLoad), 1);
  EXPECT_EQ(rec.err(), "fdwatch: open " + planted + ": is a symbolic link; refusing to follow it\n");
  EXPECT_EQ(slurp(victim), "victim");
  // the flight recorder's directory
  std::string ring = tmp.file("ring");
  ASSERT_EQ(symlink(tmp.path().c_str(), ring.c_str()), 0);
  Subprocess fl({kFdwatch, "record", "--ring", "1m", "-o", ring, "-p", "1"});
  EXPECT_EQ(fl.wait(kLoad), 1);
  EXPECT_EQ(fl.err(), "fdwatch: " + ring + ": is a symbolic link; refusing to follow it\n");
}

// ---- several instances --------------------------------------------------------

// watch, top and record at once, all attached before the fixture acts: each
// sees every fd it should (BPF programs, maps and ring buffers are per
// instance).
TEST(FaultsE2E, WatchTopAndRecordAtOnceEachSeeEverything) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  std::string cp = tmp.file("cp"), log = tmp.file("rec.jsonl");
  Subprocess fx({kFixtures + "/fx_checkpoint", "wait", "40*file:/dev/null", "pipe", "close:0",
                 "checkpoint:" + cp, "wait"});
  std::string pid = std::to_string(fx.pid());
  Subprocess fw({kFdwatch, "-p", pid, "--json", "--no-stacks"});
  Subprocess rec({kFdwatch, "record", "-p", pid, "-o", log});
  Subprocess top({kFdwatch, "top", "--json", "-d", "0.3"});
  ASSERT_TRUE(fw.wait_stderr("attached", kLoad)) << fw.err();
  ASSERT_TRUE(rec.wait_stderr("attached", kLoad)) << rec.err();
  ASSERT_TRUE(top.wait_stdout("\"schema\"", kLoad)) << top.err();
  fx.signal(SIGUSR1);
  ASSERT_TRUE(fdw::test::wait_for_file(cp, 20));
  const size_t truth = proc_fd_count(fx.pid());
  ASSERT_EQ(truth, 3u + 40 + 2 - 1);
  // top: frames until one shows the process as /proc does
  json row;
  for (int i = 0; i < 100 && !(row.is_object() && row["fds"] == truth); ++i) {
    top.read_for(0.1);
    const std::string& o = top.out();
    size_t end = o.rfind('\n');
    if (end == std::string::npos || end == 0) continue;
    size_t begin = o.rfind('\n', end - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    json frame = json::parse(o.substr(begin, end - begin), nullptr, false);
    if (!frame.is_object() || !frame["rows"].is_array()) continue;
    for (auto& r : frame["rows"])
      if (r["pid"] == fx.pid()) row = r;
  }
  ASSERT_TRUE(row.is_object()) << top.err() << top.out().substr(top.out().size() > 2000 ? top.out().size() - 2000 : 0);
  EXPECT_EQ(row["fds"], truth) << row.dump();
  for (Subprocess* p : {&fw, &rec, &top}) p->signal(SIGINT);
  EXPECT_EQ(fw.wait(kLoad), 0) << fw.err();
  EXPECT_EQ(rec.wait(kLoad), 0) << rec.err();
  EXPECT_EQ(top.wait(kLoad), 0) << top.err();
  const json live_report = json::parse(fw.out());
  const json* live = find_proc(live_report, fx.pid());
  ASSERT_NE(live, nullptr);
  EXPECT_EQ((*live)["open_fds"], truth);
  EXPECT_EQ((*live)["opened"], 40 + 2 + 2);  // + the checkpoint's own two
  EXPECT_EQ((*live)["closed"], 1 + 2);
  Subprocess rep({kFdwatch, "report", log, "--json"});
  EXPECT_EQ(rep.wait(kLoad), 0) << rep.err();
  const json replay_report = json::parse(rep.out());
  const json* replayed = find_proc(replay_report, fx.pid());
  ASSERT_NE(replayed, nullptr);
  for (const char* k : {"open_fds", "opened", "closed", "by_kind"}) EXPECT_EQ((*replayed)[k], (*live)[k]) << k;
}

// ---- what /proc will not say ------------------------------------------------

// fdwatch without CAP_SYS_PTRACE on another user's process: /proc lists its
// fds but readlink gives EACCES.  Every listed fd counts, kind unknown, and
// the process says why it is inexact.
TEST(FaultsE2E, UnreadableFdLinksAreCountedAndMarked) {
  FDW_REQUIRE_ROOT();
  Holder h(52, kNobody);
  size_t truth = proc_fd_count(h.pid());
  ASSERT_EQ(truth, 55u);  // stdio + 52
  Subprocess fw({"/usr/bin/setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace", kFdwatch, "-p",
                 h.spid(), "--json", "--no-stacks"});
  ASSERT_TRUE(fw.wait_stderr("attached", kLoad)) << fw.err();
  fw.signal(SIGINT);
  EXPECT_EQ(fw.wait(kLoad), 0) << fw.err();
  json r = json::parse(fw.out());
  const json* p = find_proc(r, h.pid());
  ASSERT_NE(p, nullptr) << fw.out();
  EXPECT_EQ((*p)["open_fds"], truth);
  EXPECT_EQ((*p)["by_kind"]["other"], truth);
  EXPECT_EQ((*p)["inexact"], true);
  EXPECT_EQ((*p)["inexact_reason"], "links_unreadable");
}

}  // namespace
