// fdwatch as a tool: errors that come before any BPF work, doctor, record --
// CMD, and top -b widths, on the real binary.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "common/require_root.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "version.h"

using fdw::test::Subprocess;
using json = nlohmann::json;

namespace {

const std::string kFdwatch = FDWATCH_BIN;

// argv run as nobody with no capabilities: whatever needs privileges fails.
std::vector<std::string> as_nobody(std::vector<std::string> args) {
  std::vector<std::string> a = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                "--inh-caps=-all", "--bounding-set=-all", kFdwatch};
  a.insert(a.end(), args.begin(), args.end());
  return a;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

// Without privileges, the BPF object cannot even be opened, so an error that
// is not "tracing needs root" was found before any BPF work.
TEST(ToolE2E, UsageErrorsAndDeadPidsComeBeforeBpf) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  const std::string log = tmp.file("never.jsonl");
  chmod(tmp.path().c_str(), 0777);
  struct Case {
    std::vector<std::string> args;
    int rc;
    std::string err;
  };
  const std::vector<Case> cases = {
      {{"-p", "abc"}, 2, "fdwatch: --pid: 'abc' is not a process id\n"},
      {{"-p", "4194000"}, 1, "fdwatch: no such process: 4194000\n"},
      {{"-p", "1", "-p", "4194000"}, 1, "fdwatch: no such process: 4194000\n"},
      {{"-p", "1", "--duration", "-1"}, 2, "fdwatch: --duration: '-1' must be between 0 and 31536000 seconds\n"},
      {{"-p", "1", "-i", "fast"}, 2, "fdwatch: --interval: 'fast' is not a number of seconds\n"},
      {{"record", "-o", log, "-p", "4194000"}, 1, "fdwatch: no such process: 4194000\n"},
      {{"record", "-o", log, "-p", "x"}, 2, "fdwatch: --pid: 'x' is not a process id\n"},
      {{"top", "-n", "-3"}, 2, "fdwatch: --iterations: '-3' must be between 0 and 1000000000\n"},
      {{"top", "-b", "-d", "0"}, 2, "fdwatch: --delay: '0' must be between 0.1 and 3600 seconds\n"},
      {{"top", "-b", "--sort", "size"}, 2,
       "fdwatch: unknown sort column 'size'\nhint: one of: pid user comm fds limit %lim open/s close/s net/s eta err oldest\n"},
      {{"report", log, "-p", "0"}, 2, "fdwatch: --pid: '0' is not a process id\n"},
  };
  for (const Case& c : cases) {
    Subprocess fw(as_nobody(c.args));
    EXPECT_EQ(fw.wait(20), c.rc) << c.args[0] << " " << c.args[1];
    EXPECT_EQ(fw.err(), c.err);
    EXPECT_EQ(fw.out(), "");
  }
  EXPECT_NE(access(log.c_str(), F_OK), 0) << "record created its log before checking the pid";
}

TEST(ToolE2E, DoctorSaysTracingWorks) {
  FDW_REQUIRE_ROOT();
  Subprocess dj({kFdwatch, "doctor", "--json"});
  ASSERT_EQ(dj.wait(120), 0) << dj.err() << dj.out();
  json d = json::parse(dj.out());
  EXPECT_EQ(d["schema"], "fdwatch.doctor.v1");
  EXPECT_EQ(d["version"], FDWATCH_VERSION);
  EXPECT_EQ(d["tracing"], true);
  std::vector<std::string> names;
  for (auto& c : d["checks"]) {
    names.push_back(c["name"]);
    EXPECT_NE(c["status"], "fail") << c.dump();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"kernel", "btf", "tracefs", "privileges", "lockdown", "memlock", "bpf"}));
  utsname u{};
  uname(&u);
  EXPECT_EQ(d["checks"][0]["detail"].get<std::string>().rfind(u.release, 0), 0u) << d["checks"][0];
  EXPECT_NE(d["checks"][3]["detail"].get<std::string>().find("root"), std::string::npos);
  EXPECT_GT(d["load_s"].get<double>(), 0);

  Subprocess dt({kFdwatch, "doctor"});
  ASSERT_EQ(dt.wait(120), 0) << dt.err();
  auto lines = lines_of(dt.out());
  ASSERT_GE(lines.size(), 8u) << dt.out();
  EXPECT_EQ(lines.back(), "fdwatch " FDWATCH_VERSION ": tracing works on this host");
  EXPECT_EQ(lines[6].rfind("bpf        ok    the BPF object loads and attaches (", 0), 0u) << lines[6];
}

TEST(ToolE2E, DoctorWithoutPrivilegesSaysWhyAndFails) {
  FDW_REQUIRE_ROOT();
  Subprocess dj(as_nobody({"doctor", "--json"}));
  ASSERT_EQ(dj.wait(60), 1) << dj.err();
  json d = json::parse(dj.out());
  EXPECT_EQ(d["tracing"], false);
  EXPECT_TRUE(d["load_s"].is_null());
  std::map<std::string, json> by;
  for (auto& c : d["checks"]) by[c["name"]] = c;
  EXPECT_EQ(by["privileges"]["status"], "fail");
  EXPECT_EQ(by["privileges"]["detail"],
            "uid 65534, no tracing capabilities: tracing needs root (or CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH)");
  EXPECT_EQ(by["bpf"]["status"], "fail");
  EXPECT_EQ(by["bpf"]["detail"], "not tried: loading needs the privileges above");
  EXPECT_EQ(by["kernel"]["status"], "ok");
}

// record -- CMD: the command is recorded from its first syscall (the dynamic
// loader's open of ld.so.cache), with what it leaked, and fdwatch exits with
// the command's status.
TEST(ToolE2E, RecordCommandFromItsFirstSyscall) {
  FDW_REQUIRE_ROOT();
  fdw::test::TempDir tmp;
  const std::string log = tmp.file("sh.jsonl");
  Subprocess rec({kFdwatch, "record", "-o", log, "--", "/bin/sh", "-c", "exec 7</etc/hostname; exit 5"});
  ASSERT_EQ(rec.wait(120), 5) << rec.err();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(rec.err(), m, std::regex("recording /bin/sh \\(pid ([0-9]+)\\) and its children")))
      << rec.err();
  const int pid = std::stoi(m[1]);
  struct stat st{};
  ASSERT_EQ(stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  bool ld_cache = false, hostname = false, exited = false;
  std::ifstream in(log);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(json::parse(line)["version"], FDWATCH_VERSION);
  while (std::getline(in, line)) {
    json e = json::parse(line);
    if (e.value("pid", 0) != pid) continue;
    if (e["type"] == "open" && e.value("target", "") == "/etc/ld.so.cache") ld_cache = true;
    // sh opens the file, then moves it to fd 7 (dup2 or fcntl F_DUPFD)
    if ((e["type"] == "open" || e["type"] == "dup") && e.value("fd", -1) == 7) hostname = true;
    if (e["type"] == "exit") exited = e.value("value", -1) == 5;
  }
  EXPECT_TRUE(ld_cache) << "the loader's first open was not recorded";
  EXPECT_TRUE(hostname);
  EXPECT_TRUE(exited);

  Subprocess rep({kFdwatch, "report", log, "--json"});
  ASSERT_EQ(rep.wait(60), 0) << rep.err();
  json r = json::parse(rep.out());
  const json* p = nullptr;
  for (auto& q : r["processes"])
    if (q["pid"] == pid) p = &q;
  ASSERT_TRUE(p) << rep.out();
  EXPECT_EQ((*p)["exited"], true);
  ASSERT_EQ((*p)["leaked_at_exit"].size(), 1u) << p->dump();
  EXPECT_EQ((*p)["leaked_at_exit"][0]["fd"], 7);
  EXPECT_EQ((*p)["leaked_at_exit"][0]["target"], "/etc/hostname");
}

// top -b follows COLUMNS like top(1) even when piped, and -w overrides it.
TEST(ToolE2E, TopBatchHonoursColumnsAndWidth) {
  FDW_REQUIRE_ROOT();
  Subprocess wide({"/usr/bin/env", "COLUMNS=132", kFdwatch, "top", "-b", "-n", "1", "-d", "0.2"});
  ASSERT_EQ(wide.wait(120), 0) << wide.err();
  auto lines = lines_of(wide.out());
  ASSERT_GE(lines.size(), 4u) << wide.out();
  EXPECT_NE(lines[2].find("LIMIT"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("CLOSE/s"), std::string::npos) << lines[2];

  Subprocess narrow({"/usr/bin/env", "COLUMNS=132", kFdwatch, "top", "-b", "-n", "1", "-d", "0.2", "-w", "60"});
  ASSERT_EQ(narrow.wait(120), 0) << narrow.err();
  lines = lines_of(narrow.out());
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[2].find("CLOSE/s"), std::string::npos) << lines[2];
  for (auto& l : lines) EXPECT_LE(l.size(), 60u) << l;
}
