#include "views/metrics.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "util/escape.h"

namespace fdw {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// A series owner: one process, or the "other" bucket of a container.
struct Owner {
  std::vector<ClientMetric::Label> labels;
  const ProcView* proc = nullptr;  // null for "other"
  uint64_t open_fds = 0, opened = 0, closed = 0;
  std::map<std::string, uint64_t> failed;
};

// Label values are UTF-8 or the scrape fails: a comm or cgroup name that is
// not keeps its valid part and shows each stray byte as \xHH.
std::vector<ClientMetric::Label> proc_labels(const ProcView& p) {
  return {{"pid", std::to_string(p.pid)}, {"comm", escape_invalid_utf8(p.comm)},
          {"container", escape_invalid_utf8(p.container)}, {"cgroup", escape_invalid_utf8(p.cgroup)}};
}

std::vector<Owner> owners(const Snapshot& s, size_t max_processes) {
  std::vector<Owner> out;
  auto selected = metrics_selected(s, max_processes);
  std::set<uint32_t> own;
  for (const ProcView* p : selected) {
    own.insert(p->pid);
    out.push_back({proc_labels(*p), p, p->open_fds, p->opened, p->closed, p->failed});
  }
  std::map<std::string, Owner> other;  // by container
  for (const ProcView& p : s.processes) {
    if (own.count(p.pid)) continue;
    Owner& o = other[p.container];
    if (o.labels.empty())
      o.labels = {{"pid", ""}, {"comm", "other"}, {"container", escape_invalid_utf8(p.container)}, {"cgroup", ""}};
    o.open_fds += p.open_fds;
    o.opened += p.opened;
    o.closed += p.closed;
    for (auto& [e, n] : p.failed) o.failed[e] += n;
  }
  for (auto& [c, o] : other) out.push_back(std::move(o));
  return out;
}

ClientMetric sample(std::vector<ClientMetric::Label> labels, double v, MetricType t) {
  ClientMetric m;
  m.label = std::move(labels);
  (t == MetricType::Counter ? m.counter.value : m.gauge.value) = v;
  return m;
}

MetricFamily family(std::string name, std::string help, MetricType t) {
  return MetricFamily{std::move(name), std::move(help), t, {}};
}

}  // namespace

std::vector<const ProcView*> metrics_selected(const Snapshot& s, size_t max_processes) {
  // Kernel threads and the like (no fds, nothing done) are only in "other".
  std::vector<const ProcView*> all;
  for (const ProcView& p : s.processes)
    if (p.open_fds || p.opened || p.closed || !p.failed.empty()) all.push_back(&p);
  auto by = [](auto key) {
    return [key](const ProcView* a, const ProcView* b) {
      auto ka = key(*a), kb = key(*b);
      return ka != kb ? ka > kb : a->pid < b->pid;
    };
  };
  std::vector<const ProcView*> out;
  std::set<uint32_t> taken;
  auto take = [&](size_t until, auto pred) {
    for (const ProcView* p : all) {
      if (out.size() >= until) return;
      if (pred(*p) && taken.insert(p->pid).second) out.push_back(p);
    }
  };
  const size_t fast = max_processes / 2;
  std::sort(all.begin(), all.end(), by([](const ProcView& p) { return p.leak_rate_per_s.value_or(0); }));
  take(fast, [](const ProcView& p) { return p.leak_rate_per_s.value_or(0) > 0; });
  std::sort(all.begin(), all.end(), by([](const ProcView& p) { return p.open_fds; }));
  take(max_processes, [](const ProcView&) { return true; });
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->pid < b->pid; });
  return out;
}

std::vector<MetricFamily> metric_families(const Snapshot& s, const MetricsOptions& o) {
  auto open = family("fdwatch_process_open_fds", "Open file descriptors of the process", MetricType::Gauge);
  auto limit = family("fdwatch_process_fd_limit", "Soft RLIMIT_NOFILE of the process", MetricType::Gauge);
  auto opened = family("fdwatch_process_fds_opened_total",
                       "File descriptors created since fdwatch started watching the process",
                       MetricType::Counter);
  auto closed = family("fdwatch_process_fds_closed_total",
                       "File descriptors closed since fdwatch started watching the process",
                       MetricType::Counter);
  auto errors = family("fdwatch_process_fd_errors_total", "Failed fd-creating calls by errno",
                       MetricType::Counter);
  auto growth = family("fdwatch_process_fd_growth_per_second",
                       "Net growth of open fds per second (robust slope over the window); absent until known",
                       MetricType::Gauge);
  auto eta = family("fdwatch_process_seconds_to_fd_limit",
                    "Projected seconds until open fds reach the limit; absent when not growing",
                    MetricType::Gauge);
  for (Owner& w : owners(s, o.max_processes)) {
    open.metric.push_back(sample(w.labels, double(w.open_fds), MetricType::Gauge));
    opened.metric.push_back(sample(w.labels, double(w.opened), MetricType::Counter));
    closed.metric.push_back(sample(w.labels, double(w.closed), MetricType::Counter));
    for (auto& [e, n] : w.failed) {
      auto l = w.labels;
      l.push_back({"errno", e});
      errors.metric.push_back(sample(std::move(l), double(n), MetricType::Counter));
    }
    if (!w.proc) continue;
    if (w.proc->rlimit_nofile)
      limit.metric.push_back(sample(w.labels, double(*w.proc->rlimit_nofile), MetricType::Gauge));
    if (w.proc->leak_rate_per_s)
      growth.metric.push_back(sample(w.labels, *w.proc->leak_rate_per_s, MetricType::Gauge));
    if (w.proc->time_to_limit_s)
      eta.metric.push_back(sample(w.labels, *w.proc->time_to_limit_s, MetricType::Gauge));
  }
  auto containers = family("fdwatch_container_open_fds",
                           "Open file descriptors of all processes of a container (\"\": none)",
                           MetricType::Gauge);
  std::map<std::string, uint64_t> per_container;
  for (const ProcView& p : s.processes) per_container[p.container] += p.open_fds;
  for (auto& [c, n] : per_container)
    containers.metric.push_back(sample({{"container", escape_invalid_utf8(c)}}, double(n), MetricType::Gauge));
  auto events = family("fdwatch_events_total", "Events fdwatch applied", MetricType::Counter);
  events.metric.push_back(sample({}, double(s.events), MetricType::Counter));
  auto lost = family("fdwatch_events_lost_total",
                     "Events the kernel could not hand to fdwatch (ring buffer full)",
                     MetricType::Counter);
  lost.metric.push_back(sample({}, double(s.lost_events), MetricType::Counter));
  auto build = family("fdwatch_build_info", "fdwatch version and the running kernel", MetricType::Gauge);
  build.metric.push_back(sample({{"version", o.version}, {"kernel", o.kernel}}, 1, MetricType::Gauge));
  return {std::move(open), std::move(limit), std::move(opened), std::move(closed), std::move(errors),
          std::move(growth), std::move(eta), std::move(containers), std::move(events),
          std::move(lost), std::move(build)};
}

}  // namespace fdw
