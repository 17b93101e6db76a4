// Debian's Prometheus scrapes `fdwatch exporter` every second on loopback
// while a fixture leaks; everything is asserted through Prometheus's HTTP
// API: the leaker's open-fd series rises, its opened-total rate is
// positive, its limit is the one /proc shows, and the shipped leak rule
// (deploy/prometheus/fdwatch-rules.yml) goes pending.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/http.h"
#include "common/require_root.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "sys/proc.h"

using fdw::test::free_port;
using fdw::test::http_get;
using fdw::test::Subprocess;
using fdw::test::TempDir;
using nlohmann::json;

namespace {

// Polls `probe` every 200 ms until it returns true or `seconds` pass.
bool eventually(double seconds, const std::function<bool()>& probe) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (probe()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return probe();
}

class Prometheus {
 public:
  Prometheus(const TempDir& dir, int exporter_port) : port_(free_port()) {
    std::ofstream(dir.file("prometheus.yml"))
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "rule_files:\n  - " << SOURCE_DIR << "/deploy/prometheus/fdwatch-rules.yml\n"
        << "scrape_configs:\n  - job_name: fdwatch\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << exporter_port << "']\n";
    proc_ = std::make_unique<Subprocess>(std::vector<std::string>{
        "/usr/bin/prometheus", "--config.file=" + dir.file("prometheus.yml"),
        "--storage.tsdb.path=" + dir.file("data"), "--web.listen-address=127.0.0.1:" + std::to_string(port_),
        "--log.level=warn"});
  }
  ~Prometheus() {
    proc_->signal(SIGTERM);
    proc_->wait(30);
  }
  bool ready(double seconds) {
    return eventually(seconds, [&] {
      auto r = http_get(port_, "/-/ready", "", 2);
      return r && r->status == 200;
    });
  }
  // The API's "data" of GET path, or null when the call failed.
  json api(const std::string& path) {
    auto r = http_get(port_, path, "", 5);
    if (!r || r->status != 200) return nullptr;
    json j = json::parse(r->body, nullptr, false);
    return j.is_object() && j.value("status", "") == "success" ? j["data"] : json(nullptr);
  }
  // Values of an instant query's vector, in result order.
  std::vector<double> query(const std::string& promql) {
    std::vector<double> out;
    json d = api("/api/v1/query?query=" + fdw::test::url_encode(promql));
    if (d.is_object() && d["resultType"] == "vector")
      for (auto& s : d["result"]) out.push_back(std::stod(s["value"][1].get<std::string>()));
    return out;
  }
  std::string log() const { return proc_->err(); }

 private:
  int port_;
  std::unique_ptr<Subprocess> proc_;
};

}  // namespace

TEST(PrometheusE2E, ScrapesALeakAndTheLeakRuleGoesPending) {
  FDW_REQUIRE_ROOT();
  TempDir dir;
  // 10 fds a second for 60 s under a soft limit of 2048, then waits
  std::vector<std::string> argv = {"/usr/bin/prlimit", "--nofile=2048:4096",
                                   std::string(FIXTURE_DIR) + "/fx_checkpoint"};
  for (int i = 0; i < 600; ++i) {
    argv.push_back("file:/dev/null");
    argv.push_back("sleep:0.1");
  }
  argv.push_back("wait");
  Subprocess leaker(argv);
  const std::string pid = std::to_string(leaker.pid());
  int exporter_port = free_port();
  Subprocess ex({FDWATCH_BIN, "exporter", "--listen", "127.0.0.1:" + std::to_string(exporter_port),
                 "-p", pid});
  ASSERT_TRUE(ex.wait_stderr("fdwatch: attached", 120)) << ex.err();
  Prometheus prom(dir, exporter_port);
  ASSERT_TRUE(prom.ready(60)) << prom.log();

  const std::string sel = "{job=\"fdwatch\",pid=\"" + pid + "\"}";
  // the open-fd series rises: two scrapes apart, the later one is higher
  std::vector<double> first;
  ASSERT_TRUE(eventually(60, [&] { return !(first = prom.query("fdwatch_process_open_fds" + sel)).empty(); }))
      << prom.log();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(eventually(30, [&] {
    auto now = prom.query("fdwatch_process_open_fds" + sel);
    return now.size() == 1 && now[0] >= first[0] + 5;
  }));
  EXPECT_TRUE(eventually(30, [&] {
    auto r = prom.query("rate(fdwatch_process_fds_opened_total" + sel + "[10s])");
    return r.size() == 1 && r[0] > 0;
  }));
  // the limit is what the kernel says
  auto proc_limit = fdw::read_nofile_limit(uint32_t(leaker.pid()));
  ASSERT_EQ(proc_limit, 2048u);
  EXPECT_EQ(prom.query("fdwatch_process_fd_limit" + sel), std::vector<double>{2048});
  // the shipped rule sees a leak that reaches 2048 within the hour
  bool pending = eventually(60, [&] {
    json d = prom.api("/api/v1/alerts");
    if (!d.is_object()) return false;
    for (auto& a : d["alerts"])
      if (a["labels"].value("alertname", "") == "FdLeakWillHitLimit" && a["labels"].value("pid", "") == pid)
        return a.value("state", "") == "pending";
    return false;
  });
  EXPECT_TRUE(pending) << prom.api("/api/v1/alerts").dump() << "\n" << prom.api("/api/v1/rules").dump();
  ex.signal(SIGTERM);
  EXPECT_EQ(ex.wait(30), 0) << ex.err();
}
