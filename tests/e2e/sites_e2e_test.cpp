// End to end: call sites people can act on (user/stacks/), one suspect per
// leak with its targets summarized, a verdict and a hint, on real programs
// built by the test setup: a Go net/http client and a Go file leaker
// (tests/e2e/fixtures/go/fx_gohttp.go), a threaded C service
// (fixtures/sites_c.c) and the demo.  Expected lines come from markers in
// the fixtures' sources.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/fixture_source.h"
#include "common/require_root.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"

using nlohmann::json;
using fdw::test::marked_line;
using fdw::test::site_at;
using fdw::test::Subprocess;
using fdw::test::TempDir;

namespace {

const std::string kFdwatch = FDWATCH_BIN;
const std::string kFixtures = FIXTURE_DIR;
const std::string kGo = kFixtures + "/fx_gohttp";


struct Traced {
  int status = -1;
  std::string out, err;
  json report;
};

Traced fdwatch(std::vector<std::string> args, bool as_json = true) {
  std::vector<std::string> argv = {kFdwatch, "-q"};
  if (as_json) argv.push_back("--json");
  argv.push_back("--");
  argv.insert(argv.end(), args.begin(), args.end());
  Subprocess p(argv);
  Traced r;
  r.status = p.wait(120);
  r.out = p.out();
  r.err = p.err();
  if (as_json) {
    try {
      r.report = json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "): " << r.out.substr(0, 400) << "\nstderr: " << r.err;
    }
  }
  return r;
}

const json* process_named(const json& rep, const std::string& comm) {
  if (!rep.contains("processes")) return nullptr;
  for (auto& p : rep["processes"])
    if (p["comm"] == comm) return &p;
  return nullptr;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// The Go fixture's HTTP server, untraced: its port once it listens.
struct GoServer {
  Subprocess proc{{kGo, "serve"}};
  std::string port;
  GoServer() {
    if (proc.wait_stdout("\n", 30)) port = proc.out().substr(0, proc.out().find('\n'));
  }
};

bool have_go_fixture() { return access(kGo.c_str(), X_OK) == 0; }

#define FDW_REQUIRE_GO()                                                        \
  do {                                                                          \
    if (!have_go_fixture()) {                                                   \
      if (::fdw::test::in_ci()) FAIL() << "no " << kGo << " (golang-go), and CI=true"; \
      GTEST_SKIP() << "no " << kGo << " (install golang-go)";                   \
    }                                                                           \
  } while (0)

}  // namespace

TEST(SitesE2E, GoClientNeverClosingBodiesLeaksFromTheTransportDial) {
  FDW_REQUIRE_ROOT();
  FDW_REQUIRE_GO();
  GoServer srv;
  ASSERT_FALSE(srv.port.empty()) << srv.proc.err();
  Traced r = fdwatch({kGo, "leak", srv.port, "60"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json* p = process_named(r.report, "fx_gohttp");
  ASSERT_NE(p, nullptr) << r.out;
  ASSERT_FALSE((*p)["suspects"].empty()) << p->dump();
  const json& top = (*p)["suspects"][0];
  EXPECT_EQ(top["kind"], "socket");
  // The transport's own dial, with its line in Go's net/http.
  EXPECT_TRUE(std::regex_match(top["site"].get<std::string>(),
                               std::regex(R"(net/http\.\(\*Transport\)\.dialConn \(transport\.go:[1-9][0-9]*\))")))
      << top.dump();
  EXPECT_EQ(top["target"], "tcp ->127.0.0.1:" + srv.port) << top.dump();
  EXPECT_EQ(top["verdict"], "leaking") << top.dump();
  EXPECT_GT(top["growth_per_s"].get<double>(), 0) << top.dump();
  EXPECT_EQ(top["targets"]["distinct"], 1) << top.dump();
  EXPECT_NE(top.value("hint", "").find("defer resp.Body.Close()"), std::string::npos) << top.dump();
  // All 60 connections are still open at exit; each one that got a stack
  // (calls made while the reader lags get none) runs from a syscall wrapper
  // through the dial, and is counted in the top suspect.
  int sockets = 0, with_stack = 0;
  for (auto& f : (*p)["leaked_at_exit"]) {
    if (f["target"].get<std::string>().find("->127.0.0.1:" + srv.port) == std::string::npos) continue;
    ++sockets;
    if (f["stack"].empty()) continue;
    ++with_stack;
    bool dial = false, sys = false;
    for (auto& fr : f["stack"]) {
      dial = dial || starts_with(fr, "net.(*sysDialer).dialSingle");
      sys = sys || starts_with(fr, "syscall.");
    }
    EXPECT_TRUE(dial && sys) << f["stack"].dump();
  }
  EXPECT_EQ(sockets, 60);
  EXPECT_EQ(top["count"], with_stack);
  EXPECT_GT(with_stack, 0);
}

TEST(SitesE2E, GoClientClosingBodiesHasNoLeak) {
  FDW_REQUIRE_ROOT();
  FDW_REQUIRE_GO();
  GoServer srv;
  ASSERT_FALSE(srv.port.empty()) << srv.proc.err();
  Traced r = fdwatch({kGo, "close", srv.port, "60"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json* p = process_named(r.report, "fx_gohttp");
  ASSERT_NE(p, nullptr) << r.out;
  for (auto& s : (*p)["suspects"]) {
    EXPECT_EQ(s["verdict"], "held") << s.dump();
    EXPECT_FALSE(s.contains("hint")) << s.dump();
  }
}

TEST(SitesE2E, GoFileLeakIsNamedByTheProgramsOwnFunction) {
  FDW_REQUIRE_ROOT();
  FDW_REQUIRE_GO();
  TempDir d;
  for (int i = 0; i < 40; ++i) std::ofstream(d.file("segment_" + std::to_string(i) + ".log")) << i;
  Traced r = fdwatch({kGo, "files", d.path(), "40"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json* p = process_named(r.report, "fx_gohttp");
  ASSERT_NE(p, nullptr) << r.out;
  ASSERT_FALSE((*p)["suspects"].empty()) << p->dump();
  const json& top = (*p)["suspects"][0];
  // The site is the program's function and the line of its os.Open call
  // (inlined os.Open and os.OpenFile are frames of their own inside it).
  EXPECT_EQ(top["site"], site_at("main.openSegment", "go/fx_gohttp.go", "GO-SITE open")) << top.dump();
  EXPECT_EQ(top["kind"], "file");
  EXPECT_EQ(top["count"], 40);
  EXPECT_EQ(top["verdict"], "leaking");
  EXPECT_EQ(top["targets"]["pattern"], d.path() + "/segment_*.log") << top.dump();
  EXPECT_EQ(top["targets"]["distinct"], 40);
  EXPECT_EQ(top["targets"]["examples"].size(), 3u);
  EXPECT_NE(top.value("hint", "").find("defer f.Close()"), std::string::npos) << top.dump();
}

// database/sql with a driver whose connections are files (in the fixture):
// queries whose rows are never closed each hold a connection, so the pool
// opens one per query, named by the driver's open and hinted at rows.Close;
// closed rows reuse one connection, held.
TEST(SitesE2E, GoSqlRowsNeverClosedLeakConnectionsWithTheRowsHint) {
  FDW_REQUIRE_ROOT();
  FDW_REQUIRE_GO();
  for (std::string mode : {"rows", "rowsclosed"}) {
    SCOPED_TRACE(mode);
    TempDir d;
    Traced r = fdwatch({kGo, mode, d.path(), "40"});
    ASSERT_EQ(r.status, 0) << r.err;
    const json* p = process_named(r.report, "fx_gohttp");
    ASSERT_NE(p, nullptr) << r.out;
    std::vector<const json*> conns;
    for (auto& s : (*p)["suspects"])
      if (starts_with(s["targets"]["pattern"], d.path() + "/conn_")) conns.push_back(&s);
    ASSERT_EQ(conns.size(), 1u) << (*p)["suspects"].dump(1);
    const json& s = *conns[0];
    EXPECT_EQ(s["site"], site_at("main.(*fileDriver).Open", "go/fx_gohttp.go", "GO-SITE sql")) << s.dump();
    if (mode == "rowsclosed") {
      EXPECT_EQ(s["count"], 1);
      EXPECT_EQ(s["verdict"], "held");
      EXPECT_FALSE(s.contains("hint")) << s.dump();
      continue;
    }
    EXPECT_EQ(s["count"], 40);
    EXPECT_EQ(s["targets"]["pattern"], d.path() + "/conn_*.db");
    EXPECT_EQ(s["verdict"], "leaking");
    EXPECT_NE(s.value("hint", "").find("`defer rows.Close()`"), std::string::npos) << s.dump();
  }
}

TEST(SitesE2E, CThreadsLeakingDistinctFilesAreOneSuspectAndStartupFdsAreHeld) {
  FDW_REQUIRE_ROOT();
  TempDir d;
  Traced r = fdwatch({kFixtures + "/sites_c", d.path()});
  ASSERT_EQ(r.status, 0) << r.err;
  const json* p = process_named(r.report, "sites_c");
  ASSERT_NE(p, nullptr) << r.out;
  const json& sus = (*p)["suspects"];
  ASSERT_EQ(sus.size(), 3u) << sus.dump(1);
  const json& leak = sus[0];
  EXPECT_EQ(leak["site"], site_at("write_report", "sites_c.c", "SITE-C reports"));
  EXPECT_EQ(leak["kind"], "file");
  EXPECT_EQ(leak["count"], 100);
  EXPECT_EQ(leak["verdict"], "leaking");
  EXPECT_EQ(leak["targets"]["pattern"], d.path() + "/report_*.txt");
  EXPECT_EQ(leak["targets"]["distinct"], 100);
  EXPECT_NE(leak.value("hint", "").find("`fopen` without `fclose`"), std::string::npos) << leak.dump();
  // The listener and the log file, opened once at start, are held (either order).
  std::vector<std::string> held;
  for (size_t i = 1; i < sus.size(); ++i) {
    EXPECT_EQ(sus[i]["verdict"], "held") << sus[i].dump();
    EXPECT_EQ(sus[i]["count"], 1);
    EXPECT_FALSE(sus[i].contains("hint")) << sus[i].dump();
    held.push_back(sus[i]["kind"].get<std::string>() + " " + sus[i]["site"].get<std::string>());
  }
  std::sort(held.begin(), held.end());
  EXPECT_EQ(held, (std::vector<std::string>{"file " + site_at("open_log", "sites_c.c", "SITE-C log"),
                                            "socket " + site_at("open_listener", "sites_c.c", "SITE-C listener")}));
}

TEST(SitesE2E, TextReportLeadsWithTheLeakAndItsHint) {
  FDW_REQUIRE_ROOT();
  TempDir d;
  Traced r = fdwatch({kFixtures + "/sites_c", d.path()}, false);
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, leak, hint;
  std::getline(lines, header);
  std::getline(lines, leak);
  std::getline(lines, hint);
  EXPECT_TRUE(starts_with(header, "fdwatch report: ")) << r.out;
  EXPECT_TRUE(starts_with(leak, "LEAK sites_c: 100 files from " +
                                    site_at("write_report", "sites_c.c", "SITE-C reports") + " -> " + d.path() +
                                    "/report_*.txt (100 distinct), +"))
      << r.out;
  EXPECT_TRUE(starts_with(hint, "  hint: `fopen` without `fclose`")) << r.out;
  EXPECT_NE(r.out.find("  held (open at exit, not growing):\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n    1 socket from " + site_at("open_listener", "sites_c.c", "SITE-C listener") + " -> tcp "),
            std::string::npos)
      << r.out;
}

TEST(SitesE2E, DemoReportLeadsWithTheLeakAndShowsTheListenerHeld) {
  FDW_REQUIRE_ROOT();
  const std::string demo = std::string(DEMO_DIR) + "/fdwatch_demo";
  Traced r = fdwatch({demo, "--limit", "64", "--rate", "1000", "--linger", "0"}, false);
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, summary, leak, hint;
  std::getline(lines, header);
  std::getline(lines, summary);
  // the backend's listener is held on purpose: only the facade exited leaking
  EXPECT_EQ(summary, "  1 leaking, 1 exited holding fds it opened") << r.out;
  std::getline(lines, leak);
  std::getline(lines, hint);
  EXPECT_TRUE(starts_with(leak, "LEAK facade: ")) << r.out;
  EXPECT_NE(leak.find(" sockets from dial (fdwatch_demo.c:"), std::string::npos) << r.out;
  EXPECT_NE(leak.find(" -> tcp ->127.0.0.1:"), std::string::npos) << r.out;
  EXPECT_NE(leak.find(", hit the limit (EMFILE "), std::string::npos) << r.out;
  EXPECT_TRUE(starts_with(hint, "  hint: `socket`/`accept` without `close`")) << r.out;
  EXPECT_EQ(r.out.find("LEAK backend"), std::string::npos) << r.out;
  // The backend's listener: held, in its own section.
  auto backend = r.out.find(" backend  (exited");
  ASSERT_NE(backend, std::string::npos) << r.out;
  auto held = r.out.find("  held (open at exit, not growing):\n    1 socket from run_backend (fdwatch_demo.c:", backend);
  EXPECT_NE(held, std::string::npos) << r.out;
}

// Four Python threads leaking from one function: each open runs with the
// GIL released, so the frames must be those of the calling thread's own
// thread state, found by its tid; one suspect, named by the function.
TEST(SitesE2E, PythonThreadsLeakingFromOneFunctionAreOneSuspect) {
  FDW_REQUIRE_ROOT();
  const std::string py = "/usr/bin/python3", script = std::string(SOURCE_DIR) + "/tests/e2e/fixtures/py/fx_pyleak.py";
  if (access(py.c_str(), X_OK) != 0) {
    if (fdw::test::in_ci()) FAIL() << "no " << py << ", and CI=true";
    GTEST_SKIP() << "no " << py;
  }
  TempDir d;
  Traced r = fdwatch({py, script, "threads", d.path(), "200"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json* p = process_named(r.report, "python3");
  ASSERT_NE(p, nullptr) << r.out;
  std::vector<const json*> groups;
  for (auto& s : (*p)["suspects"])
    if (starts_with(s["targets"]["pattern"], d.path() + "/")) groups.push_back(&s);
  ASSERT_EQ(groups.size(), 1u) << (*p)["suspects"].dump(1);
  EXPECT_EQ((*groups[0])["site"], site_at("worker_log", "py/fx_pyleak.py", "PY-SITE threads"));
  EXPECT_EQ((*groups[0])["count"], 200);
  EXPECT_EQ((*groups[0])["verdict"], "leaking");
}

// An interpreter of a CPython version without a layout (a fixture carrying
// _PyRuntime and Py_Version 3.14) is said once, however many processes run
// it, and its stacks stay C frames.
TEST(SitesE2E, UnknownPythonVersionIsNotedOnceAndKeepsCFrames) {
  FDW_REQUIRE_ROOT();
  TempDir d, bin;
  const std::string py = bin.path() + "/python3.14";
  {
    std::ifstream in(kFixtures + "/fx_fakepy", std::ios::binary);
    std::ofstream out(py, std::ios::binary);
    out << in.rdbuf();
  }
  ASSERT_EQ(chmod(py.c_str(), 0755), 0);
  Traced r = fdwatch({py, d.path(), "20"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string note = "fdwatch: note: pid ";
  auto at = r.err.find(note);
  ASSERT_NE(at, std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" runs CPython 3.14 (" + py + "), whose frames fdwatch cannot read: its call sites are C frames\n", at),
            std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(note, at + 1), std::string::npos) << r.err;  // once, not per process
  int leaked = 0;
  for (auto& p : r.report["processes"])
    for (auto& f : p["leaked_at_exit"]) {
      if (!starts_with(f["target"], d.path() + "/fake_")) continue;
      ++leaked;
      for (auto& fr : f["stack"]) EXPECT_EQ(fr.get<std::string>().find(".py:"), std::string::npos) << f.dump();
      EXPECT_FALSE(f["stack"].empty()) << f.dump();
    }
  EXPECT_EQ(leaked, 40);
}

// Python (Debian's /usr/bin/python3, 3.11): the Python frames are read at
// every open, so 200 files with distinct names from one function are one
// suspect named by that function and the line of its open() call, leaking,
// with the open() hint; os.open from another function is named by it and
// gets no hint; `with open()` leaves nothing.
TEST(SitesE2E, PythonLeakIsNamedByThePythonFunctionAndLine) {
  FDW_REQUIRE_ROOT();
  const std::string py = "/usr/bin/python3", script = std::string(SOURCE_DIR) + "/tests/e2e/fixtures/py/fx_pyleak.py";
  if (access(py.c_str(), X_OK) != 0) {
    if (fdw::test::in_ci()) FAIL() << "no " << py << ", and CI=true";
    GTEST_SKIP() << "no " << py;
  }
  const std::map<std::string, std::string> sites = {
      {"leak", site_at("rotate_log", "py/fx_pyleak.py", "PY-SITE leak")},
      {"os", site_at("rotate_log_os", "py/fx_pyleak.py", "PY-SITE os")}};
  for (std::string mode : {"leak", "os", "with"}) {
    SCOPED_TRACE(mode);
    TempDir d;
    Traced r = fdwatch({py, script, mode, d.path(), "200"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err.find("CPython"), std::string::npos) << r.err;  // a known version: no note
    const json* p = process_named(r.report, "python3");
    ASSERT_NE(p, nullptr) << r.out;
    const json* seg = nullptr;
    int groups = 0;
    for (auto& s : (*p)["suspects"])
      if (starts_with(s["targets"]["pattern"], d.path() + "/")) {
        seg = &s;
        ++groups;
      }
    if (mode == "with") {
      EXPECT_EQ(groups, 0) << p->dump();
      continue;
    }
    ASSERT_EQ(groups, 1) << (*p)["suspects"].dump(1);
    EXPECT_EQ((*seg)["site"], sites.at(mode));
    EXPECT_EQ((*seg)["count"], 200);
    EXPECT_EQ((*seg)["targets"]["pattern"], d.path() + "/segment_*.log");
    EXPECT_EQ((*seg)["targets"]["distinct"], 200);
    EXPECT_EQ((*seg)["verdict"], "leaking");
    if (mode == "leak")
      EXPECT_NE((*seg).value("hint", "").find("`with open(...) as f:`"), std::string::npos) << seg->dump();
    else
      EXPECT_FALSE(seg->contains("hint")) << seg->dump();
    // Every leaked fd has the Python frames; the C frames stay around them:
    // libc's open inside, the interpreter's main outside.  (Without
    // bpf_iter_task_vma the mappings come from /proc, which a Python just
    // started may not show complete yet: then some fds have Python frames
    // over an unsymbolized address, and the C frames are asserted for one.)
    int whole = 0, leaked = 0;
    for (auto& f : (*p)["leaked_at_exit"]) {
      if (!starts_with(f["target"], d.path() + "/")) continue;
      ++leaked;
      std::vector<std::string> stack = f["stack"];
      auto site = std::find(stack.begin(), stack.end(), sites.at(mode));
      ASSERT_NE(site, stack.end()) << f["stack"].dump();
      ASSERT_NE(std::next(site), stack.end()) << f["stack"].dump();
      EXPECT_EQ(*std::next(site), "main (fx_pyleak.py:" + std::to_string(marked_line("py/fx_pyleak.py", "PY-CALL")) + ")");
      whole += site != stack.begin() && stack[0].find("open") != std::string::npos &&
               std::find(site, stack.end(), "Py_BytesMain") != stack.end();
    }
    EXPECT_EQ(leaked, 200);
    const json& missing = r.report["kernel"]["missing"];
    if (std::find(missing.begin(), missing.end(), "bpf_iter_task_vma") == missing.end())
      EXPECT_EQ(whole, 200);
    else
      EXPECT_GT(whole, 0) << "no leaked fd with libc's open inside the Python frames and Py_BytesMain outside";
  }
}
