// fdwatch exporter against the real thing: /metrics of a fixture compared
// with /proc, held to the text-format grammar by promtool, the shipped
// rules checked and unit-tested by promtool, the systemd unit's capability
// set proven sufficient, and Debian's Prometheus scraping a leak and
// putting the leak alert in pending.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/http.h"
#include "common/require_root.h"
#include "version.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "core/container.h"

using fdw::test::free_port;
using fdw::test::http_get;
using fdw::test::Subprocess;
using fdw::test::TempDir;

namespace {

const std::string kDeploy = std::string(SOURCE_DIR) + "/deploy";
constexpr double kAttach = 120;  // loading the BPF object takes seconds

int count_fds(pid_t pid) {
  int n = 0;
  if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

std::string proc_cgroup(pid_t pid) {
  return fdw::parse_cgroup_v2(fdw::test::slurp("/proc/" + std::to_string(pid) + "/cgroup")).value_or("");
}

// The sample line of `metric` for `pid` in a /metrics body, "" when absent.
std::string sample_line(const std::string& body, const std::string& metric, pid_t pid) {
  std::string head = metric + "{pid=\"" + std::to_string(pid) + "\",";
  auto at = body.find("\n" + head);
  if (at == std::string::npos) return "";
  auto end = body.find('\n', at + 1);
  return body.substr(at + 1, end - at - 1);
}

// A fixture holding `n` extra fds under a soft limit of `limit`, waiting
// (checkpoint file written once they are open).
struct Holder {
  TempDir dir;
  std::unique_ptr<Subprocess> proc;
  Holder(int n, int limit, const std::vector<std::string>& prefix = {}) {
    // a fixture run as another user (prefix) writes its checkpoint here too
    if (!prefix.empty()) chmod(dir.path().c_str(), 0777);
    std::vector<std::string> argv = prefix;
    for (auto& a : std::vector<std::string>{"/usr/bin/prlimit", "--nofile=" + std::to_string(limit) + ":4096",
                                            std::string(FIXTURE_DIR) + "/fx_checkpoint",
                                            std::to_string(n) + "*file:/dev/null",
                                            "checkpoint:" + dir.file("ready"), "wait"})
      argv.push_back(a);
    proc = std::make_unique<Subprocess>(argv);
  }
  bool ready() { return fdw::test::wait_for_file(dir.file("ready"), 30); }
  pid_t pid() const { return proc->pid(); }
};

std::unique_ptr<Subprocess> exporter(int port, std::vector<std::string> args,
                                     std::vector<std::string> prefix = {}) {
  std::vector<std::string> argv = std::move(prefix);
  argv.push_back(FDWATCH_BIN);
  argv.push_back("exporter");
  argv.push_back("--listen");
  argv.push_back("127.0.0.1:" + std::to_string(port));
  for (auto& a : args) argv.push_back(a);
  return std::make_unique<Subprocess>(argv);
}

// Runs `sh -c script`; exit status, output in *out.
int shell(const std::string& script, std::string* out) {
  Subprocess sh({"/bin/sh", "-c", script});
  int rc = sh.wait(60);
  *out = sh.out() + sh.err();
  return rc;
}

}  // namespace

TEST(ExporterE2E, MetricsOfAFixtureMatchProcAndPassPromtool) {
  FDW_REQUIRE_ROOT();
  Holder h(7, 300);
  ASSERT_TRUE(h.ready());
  int port = free_port();
  auto ex = exporter(port, {"-p", std::to_string(h.pid())});
  ASSERT_TRUE(ex->wait_stderr("fdwatch: attached; serving http://127.0.0.1:" + std::to_string(port) +
                                  "/metrics (1 processes)",
                              kAttach))
      << ex->err();
  auto r = http_get(port, "/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // prometheus-cpp 1.0.1's content type; Prometheus reads it as text format 0.0.4
  EXPECT_EQ(r->header("Content-Type"), "text/plain; charset=utf-8");
  const std::string cg = proc_cgroup(h.pid());
  const std::string labels = "{pid=\"" + std::to_string(h.pid()) + "\",comm=\"fx_checkpoint\",container=\"" +
                             fdw::container_of(cg).id + "\",cgroup=\"" + cg + "\"}";
  EXPECT_EQ(sample_line(r->body, "fdwatch_process_open_fds", h.pid()),
            "fdwatch_process_open_fds" + labels + " " + std::to_string(count_fds(h.pid())));
  EXPECT_EQ(count_fds(h.pid()), 3 + 7);
  EXPECT_EQ(sample_line(r->body, "fdwatch_process_fd_limit", h.pid()),
            "fdwatch_process_fd_limit" + labels + " 300");
  // seeded fds were opened before the window: nothing opened or closed since
  EXPECT_EQ(sample_line(r->body, "fdwatch_process_fds_opened_total", h.pid()),
            "fdwatch_process_fds_opened_total" + labels + " 0");
  EXPECT_NE(r->body.find("\nfdwatch_build_info{version=\"" FDWATCH_VERSION "\",kernel=\""), std::string::npos);

  TempDir tmp;
  std::ofstream(tmp.file("metrics")) << r->body;
  std::string out;
  EXPECT_EQ(shell("promtool check metrics < " + tmp.file("metrics"), &out), 0) << out;
  EXPECT_EQ(out, "");

  // content negotiation: what Prometheus sends gets OpenMetrics, with the same samples
  auto om = http_get(port, "/metrics",
                     "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n");
  ASSERT_TRUE(om);
  EXPECT_EQ(om->status, 200);
  EXPECT_EQ(om->header("Content-Type"), "application/openmetrics-text; version=1.0.0; charset=utf-8");
  ASSERT_GE(om->body.size(), 6u);
  EXPECT_EQ(om->body.substr(om->body.size() - 6), "# EOF\n");
  EXPECT_NE(om->body.find("# TYPE fdwatch_process_fds_opened counter\n"), std::string::npos) << om->body;
  EXPECT_NE(om->body.find("\nfdwatch_process_open_fds" + labels + " 10\n"), std::string::npos) << om->body;
  EXPECT_NE(om->body.find("\nfdwatch_process_fds_opened_total" + labels + " 0\n"), std::string::npos) << om->body;
  auto json = http_get(port, "/metrics", "Accept: application/json\r\n");
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 406);

  ex->signal(SIGTERM);
  EXPECT_EQ(ex->wait(30), 0) << ex->err();
}

// The unit's CapabilityBoundingSet is enough, also for another user's process.
TEST(ExporterE2E, SystemdUnitCapabilitiesSuffice) {
  FDW_REQUIRE_ROOT();
  std::string unit = fdw::test::slurp(kDeploy + "/systemd/fdwatch-exporter.service");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(unit, m, std::regex("\nCapabilityBoundingSet=([A-Z_ ]+)\n")));
  std::string caps = "-all";
  std::istringstream in(m[1].str());
  for (std::string c; in >> c;) {
    for (char& ch : c) ch = char(tolower(ch));
    caps += ",+" + c.substr(4);  // "cap_bpf" -> "+bpf"
  }
  Holder h(5, 200, {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  ASSERT_TRUE(h.ready());
  int port = free_port();
  auto ex = exporter(port, {"-p", std::to_string(h.pid())},
                     {"/usr/bin/setpriv", "--bounding-set=" + caps, "--inh-caps=-all"});
  ASSERT_TRUE(ex->wait_stderr("fdwatch: attached", kAttach)) << caps << "\n" << ex->err();
  auto r = http_get(port, "/metrics");
  ASSERT_TRUE(r);
  std::string line = sample_line(r->body, "fdwatch_process_open_fds", h.pid());
  EXPECT_NE(line.find("} " + std::to_string(count_fds(h.pid()))), std::string::npos) << line;
  EXPECT_EQ(count_fds(h.pid()), 3 + 5);
  // capabilities really were limited: the exporter holds no CAP_SYS_ADMIN
  std::string status = fdw::test::slurp("/proc/" + std::to_string(ex->pid()) + "/status");
  std::smatch eff;
  ASSERT_TRUE(std::regex_search(status, eff, std::regex("\nCapEff:\t([0-9a-f]+)\n")));
  EXPECT_EQ(std::stoull(eff[1].str(), nullptr, 16) & (1ull << 21), 0u) << status;
  ex->signal(SIGTERM);
  EXPECT_EQ(ex->wait(30), 0) << ex->err();
}

TEST(ExporterE2E, BadListenAndTakenPortAreOneLineErrors) {
  Subprocess bad({FDWATCH_BIN, "exporter", "--listen", "localhost:9464"});
  EXPECT_EQ(bad.wait(30), 2);
  EXPECT_EQ(bad.err(),
            "fdwatch: --listen localhost:9464: not an IP address and port\n"
            "hint: e.g. --listen 127.0.0.1:9464 or --listen [::1]:9464\n");
  // a port someone already listens on fails before the probe is loaded
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::string addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  Subprocess taken({FDWATCH_BIN, "exporter", "--listen", addr});
  EXPECT_EQ(taken.wait(30), 1);
  EXPECT_EQ(taken.err().rfind("fdwatch: exporter: cannot listen on " + addr + ": ", 0), 0u) << taken.err();
  EXPECT_NE(taken.err().find("\nhint: "), std::string::npos) << taken.err();
  EXPECT_EQ(std::count(taken.err().begin(), taken.err().end(), '\n'), 2) << taken.err();
  close(fd);
}

TEST(ExporterRules, PromtoolChecksAndUnitTestsTheShippedRules) {
  std::string out;
  EXPECT_EQ(shell("promtool check rules " + kDeploy + "/prometheus/fdwatch-rules.yml", &out), 0) << out;
  EXPECT_NE(out.find("SUCCESS: 3 rules found"), std::string::npos) << out;
  EXPECT_EQ(shell("cd " + kDeploy + "/prometheus && promtool test rules fdwatch-rules.test.yml", &out), 0)
      << out;
}
