// views/metrics: the exporter's families from hand-built snapshots, the
// cardinality bound, and Accept-header negotiation.
#include "views/exposition.h"
#include "views/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace fdw {
namespace {

using prometheus::MetricFamily;

ProcView proc(uint32_t pid, std::string comm, uint64_t fds, double growth = 0,
              std::string container = "") {
  ProcView p;
  p.pid = pid;
  p.comm = std::move(comm);
  p.open_fds = fds;
  p.leak_rate_per_s = growth;
  p.container = container;
  p.cgroup = container.empty() ? "/user.slice" : "/system.slice/docker-" + container + ".scope";
  return p;
}

const MetricFamily& fam(const std::vector<MetricFamily>& v, const std::string& name) {
  for (auto& f : v)
    if (f.name == name) return f;
  throw std::runtime_error("no family " + name);
}

std::string text(const std::vector<MetricFamily>& v) {
  std::ostringstream o;
  prometheus::TextSerializer().Serialize(o, v);
  return o.str();
}

TEST(Metrics, EveryFamilyWithItsSamples) {
  ProcView leaker = proc(1234, "facade", 1017, 48.5, "c1");
  leaker.rlimit_nofile = 1024;
  leaker.time_to_limit_s = 0.125;
  leaker.opened = 5120;
  leaker.closed = 4106;
  leaker.failed = {{"EMFILE", 31}};
  Snapshot s;
  s.events = 9999;
  s.lost_events = 7;
  s.processes = {leaker, proc(20, "backend", 5, 0, "c1"), proc(1, "init", 40)};
  auto v = metric_families(s, MetricsOptions{200, "0.1.0", "6.18.0"});
  std::string t = text(v);
  const std::string l = "comm=\"facade\",container=\"c1\",cgroup=\"/system.slice/docker-c1.scope\"";
  for (const std::string& want : std::vector<std::string>{
           "# TYPE fdwatch_process_open_fds gauge\n",
           "fdwatch_process_open_fds{pid=\"1234\"," + l + "} 1017\n",
           "fdwatch_process_open_fds{pid=\"20\",comm=\"backend\",container=\"c1\",cgroup=\"/system.slice/docker-c1.scope\"} 5\n",
           "fdwatch_process_fd_limit{pid=\"1234\"," + l + "} 1024\n",
           "# TYPE fdwatch_process_fds_opened_total counter\n",
           "fdwatch_process_fds_opened_total{pid=\"1234\"," + l + "} 5120\n",
           "fdwatch_process_fds_closed_total{pid=\"1234\"," + l + "} 4106\n",
           "fdwatch_process_fd_errors_total{pid=\"1234\"," + l + ",errno=\"EMFILE\"} 31\n",
           "fdwatch_process_fd_growth_per_second{pid=\"1234\"," + l + "} 48.5\n",
           "fdwatch_process_seconds_to_fd_limit{pid=\"1234\"," + l + "} 0.125\n",
           "fdwatch_container_open_fds{container=\"c1\"} 1022\n",
           "fdwatch_container_open_fds{container=\"\"} 40\n",
           "fdwatch_events_total 9999\n",
           "fdwatch_events_lost_total 7\n",
           "fdwatch_build_info{version=\"0.1.0\",kernel=\"6.18.0\"} 1\n",
       })
    EXPECT_NE(t.find(want), std::string::npos) << want << "\nin:\n" << t;
  // absent, not 0, for what is not known or not growing
  EXPECT_EQ(fam(v, "fdwatch_process_fd_limit").metric.size(), 1u);
  EXPECT_EQ(fam(v, "fdwatch_process_seconds_to_fd_limit").metric.size(), 1u);
  EXPECT_EQ(fam(v, "fdwatch_process_fd_errors_total").metric.size(), 1u);
  EXPECT_EQ(fam(v, "fdwatch_process_open_fds").metric.size(), 3u);
}

// Over the bound: half the slots by growth, the rest by fds, and the others
// summed per container under comm="other" so no fd goes uncounted.
TEST(Metrics, CardinalityBoundKeepsFastestAndBiggest) {
  Snapshot s;
  s.processes = {proc(1, "big", 900), proc(2, "grow", 3, 2.0), proc(3, "mid", 500),
                 proc(4, "small", 10, 0, "c9"), proc(5, "tiny", 2, 0, "c9"), proc(6, "slow", 1, 0.5)};
  auto sel = metrics_selected(s, 4);
  std::vector<uint32_t> pids;
  for (auto* p : sel) pids.push_back(p->pid);
  EXPECT_EQ(pids, (std::vector<uint32_t>{1, 2, 3, 6}));
  // a kernel thread (no fds, no calls) stays in "other" even with room to spare
  s.processes.push_back(proc(7, "kworker/0:1", 0));
  EXPECT_EQ(metrics_selected(s, 100).size(), 6u);
  auto v = metric_families(s, MetricsOptions{4, "v", "k"});
  std::string t = text(v);
  EXPECT_NE(t.find("fdwatch_process_open_fds{pid=\"\",comm=\"other\",container=\"c9\",cgroup=\"\"} 12\n"),
            std::string::npos) << t;
  EXPECT_EQ(fam(v, "fdwatch_process_open_fds").metric.size(), 6u);  // 4 own, other for c9 and ""
  // the other bucket has no limit, growth or ETA of its own
  EXPECT_EQ(fam(v, "fdwatch_process_fd_growth_per_second").metric.size(), 4u);
  double sum = 0;
  for (auto& m : fam(v, "fdwatch_process_open_fds").metric) sum += m.gauge.value;
  EXPECT_EQ(sum, 900 + 3 + 500 + 10 + 2 + 1);
}

// A process watched too briefly has no rate: no growth sample, not a 0.
TEST(Metrics, UnknownRateHasNoGrowthSample) {
  ProcView fresh = proc(8, "fresh", 5);
  fresh.leak_rate_per_s.reset();
  Snapshot s;
  s.processes = {fresh, proc(9, "old", 5, 2.5)};
  auto v = metric_families(s, MetricsOptions{});
  const auto& g = fam(v, "fdwatch_process_fd_growth_per_second");
  ASSERT_EQ(g.metric.size(), 1u);
  EXPECT_EQ(g.metric[0].gauge.value, 2.5);
}

TEST(Metrics, ExitedProcessesCountZeroUntilTheAggregatorDropsThem) {
  ProcView gone = proc(7, "gone", 0);
  gone.exited = true;
  gone.opened = 3;
  gone.rlimit_nofile = 1024;
  Snapshot s;
  s.processes = {gone};
  std::string t = text(metric_families(s, MetricsOptions{}));
  EXPECT_NE(t.find("fdwatch_process_open_fds{pid=\"7\",comm=\"gone\",container=\"\",cgroup=\"/user.slice\"} 0\n"),
            std::string::npos) << t;
  EXPECT_NE(t.find("fdwatch_process_fds_opened_total{pid=\"7\",comm=\"gone\",container=\"\",cgroup=\"/user.slice\"} 3\n"),
            std::string::npos) << t;
}

TEST(Metrics, AcceptHeaderChoosesTheFormat) {
  // what Prometheus 2.42 sends: OpenMetrics preferred, text format accepted
  EXPECT_EQ(choose_exposition("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                              "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Exposition::OpenMetrics);
  EXPECT_EQ(choose_exposition("application/openmetrics-text; version=1.0.0"), Exposition::OpenMetrics);
  EXPECT_EQ(choose_exposition("text/plain;q=0.9, application/openmetrics-text;q=0.5"), Exposition::Text);
  EXPECT_EQ(choose_exposition("text/plain"), Exposition::Text);
  EXPECT_EQ(choose_exposition("*/*"), Exposition::Text);
  EXPECT_EQ(choose_exposition("text/*; q=0.2"), Exposition::Text);
  EXPECT_EQ(choose_exposition(""), Exposition::Text);
  EXPECT_EQ(choose_exposition("text/plain;q=0, application/json"), Exposition::NotAcceptable);
  EXPECT_EQ(choose_exposition("application/openmetrics-text;q=0"), Exposition::NotAcceptable);
}

TEST(Metrics, OpenMetricsTextOfEveryType) {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> fams(4);
  fams[0] = {"x_opened_total", "Fds \\ created\nso far", MetricType::Counter, {}};
  fams[0].metric.resize(1);
  fams[0].metric[0].label = {{"pid", "7"}, {"comm", "a\"b"}};
  fams[0].metric[0].counter.value = 3;
  fams[1] = {"x_open_fds", "", MetricType::Gauge, {}};
  fams[1].metric.resize(1);
  fams[1].metric[0].gauge.value = 0.5;
  fams[2] = {"x_latency", "L", MetricType::Summary, {}};
  fams[2].metric.resize(1);
  fams[2].metric[0].summary.sample_count = 2;
  fams[2].metric[0].summary.sample_sum = 9;
  fams[2].metric[0].summary.quantile = {{0.5, 4}};
  fams[3] = {"x_seen", "", MetricType::Untyped, {}};
  fams[3].metric.resize(1);
  fams[3].metric[0].untyped.value = std::numeric_limits<double>::infinity();
  EXPECT_EQ(openmetrics_text(fams),
            "# TYPE x_opened counter\n"
            "# HELP x_opened Fds \\\\ created\\nso far\n"
            "x_opened_total{pid=\"7\",comm=\"a\\\"b\"} 3\n"
            "# TYPE x_open_fds gauge\n"
            "x_open_fds 0.5\n"
            "# TYPE x_latency summary\n"
            "# HELP x_latency L\n"
            "x_latency{quantile=\"0.5\"} 4\n"
            "x_latency_sum 9\n"
            "x_latency_count 2\n"
            "# TYPE x_seen unknown\n"
            "x_seen +Inf\n"
            "# EOF\n");
}

}  // namespace
}  // namespace fdw
