// fdwatch exporter: the live session as Prometheus metrics at /metrics.
// prometheus-cpp (civetweb) serves HTTP and serializes; views/metrics makes
// the families from the latest snapshot, which the session loop publishes
// once per interval.
#include <arpa/inet.h>
#include <malloc.h>
#include <sys/utsname.h>

#include <CivetServer.h>
#include <civetweb.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "cli/cli.h"
#include "probe/features.h"
#include "version.h"
#include "pipeline/live.h"
#include "views/exposition.h"
#include "views/metrics.h"

namespace fdw {

void setup_exporter(CLI::App& app, ExporterOptions& o) {
  app.add_option("--listen", o.listen, "ADDR:PORT to serve /metrics on (default 127.0.0.1:9464)");
  app.add_flag("-a,--all", o.all, "Export every process on the host (the default)");
  app.add_option("-p,--pid", o.pids, "Export only this process (repeatable)")->check(CLI::PositiveNumber);
  app.add_option("--cgroup", o.cgroup, kCgroupHelp);
  app.add_option("--max-processes", o.max_processes,
                 "Processes with series of their own; the rest are summed per container")
      ->check(CLI::Range(1, 100000));
  app.add_option("--grace", o.grace_s, "Seconds the series of an exited process stay (default 60)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("-i,--interval", o.interval_s, "Seconds between metric updates (default 1)")
      ->check(CLI::Range(0.05, 3600.0));
  app.footer(
      "Serves Prometheus text format 0.0.4 (docs/exporter.md lists the metrics).\n"
      "Examples:\n"
      "  sudo fdwatch exporter                         every process, 127.0.0.1:9464\n"
      "  sudo fdwatch exporter --listen 0.0.0.0:9464   reachable from other hosts\n"
      "  sudo fdwatch exporter -p $(pidof facade) --max-processes 50\n"
      "  sudo fdwatch exporter --cgroup kubepods.slice   the pods of a kubernetes node");
}

std::optional<ListenAddr> parse_listen(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) return std::nullopt;
  std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  unsigned long p = std::stoul(port);
  if (p > 65535) return std::nullopt;
  unsigned char buf[16];
  bool v6 = host.size() > 2 && host.front() == '[' && host.back() == ']';
  std::string bare = v6 ? host.substr(1, host.size() - 2) : host;
  if (inet_pton(v6 ? AF_INET6 : AF_INET, bare.c_str(), buf) != 1) return std::nullopt;
  return ListenAddr{host, uint16_t(p)};
}

Result<void> validate_exporter(const ExporterOptions& o) {
  if (o.all && !o.pids.empty())
    return Error{"-a and -p are exclusive", "see fdwatch exporter --help", 0, kExitUsage};
  if (!parse_listen(o.listen))
    return Error{"--listen " + o.listen + ": not an IP address and port",
                 "e.g. --listen 127.0.0.1:9464 or --listen [::1]:9464", 0, kExitUsage};
  return {};
}

namespace {

// What a scrape sees: the families of the snapshot published last.
class Published : public prometheus::Collectable {
 public:
  explicit Published(MetricsOptions o) : opts_(std::move(o)), snap_(std::make_shared<Snapshot>()) {}
  void publish(Snapshot s) {
    auto p = std::make_shared<const Snapshot>(std::move(s));
    std::lock_guard<std::mutex> l(mu_);
    snap_ = std::move(p);
  }
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::shared_ptr<const Snapshot> s;
    {
      std::lock_guard<std::mutex> l(mu_);
      s = snap_;
    }
    return metric_families(*s, opts_);
  }

 private:
  const MetricsOptions opts_;
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> snap_;
};

// The families scrapes are served from (one exporter per process).
Published* g_published = nullptr;

// prometheus-cpp 1.0.1 answers /metrics in text format 0.0.4; a client that
// prefers OpenMetrics (Prometheus does) gets it here instead, and one that
// accepts neither gets 406.
int negotiate(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  if (!ri || !ri->local_uri || std::strcmp(ri->local_uri, "/metrics") != 0) return 0;
  const char* accept = mg_get_header(conn, "Accept");
  switch (choose_exposition(accept ? accept : "")) {
    case Exposition::Text:
      return 0;
    case Exposition::NotAcceptable:
      mg_send_http_error(conn, 406, "%s", "fdwatch serves Prometheus text format 0.0.4 and OpenMetrics 1.0\n");
      return 1;
    case Exposition::OpenMetrics:
      break;
  }
  std::string body = openmetrics_text(g_published->Collect());
  mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            kOpenMetricsType, body.size());
  if (std::strcmp(ri->request_method, "HEAD") != 0) mg_write(conn, body.data(), body.size());
  return 1;
}

// Processes come and go for weeks: the heap's free pages between what they
// left are handed back now and then, or RSS creeps up with fragmentation.
constexpr uint64_t kTrimEveryNs = 30'000'000'000ull;

// Publishes a snapshot per interval, and hands free heap pages back now and then.
int serve(LiveDriver& d, Aggregator& agg, Published& pub) {
  uint64_t next_trim = monotonic_ns() + kTrimEveryNs;
  auto publish = [&](uint64_t now) -> Result<void> {
    pub.publish(agg.snapshot(monotonic_ns(), SnapshotOptions{false, false, {}}));
    if (now >= next_trim) {
      malloc_trim(0);
      next_trim = now + kTrimEveryNs;
    }
    return {};
  };
  if (auto r = d.run(publish); !r) return report_error(r.error());
  return kExitOk;
}

// Half the probe's default: the exporter only aggregates (no log to write, so
// it drains the ring at once), and the ring's pages count twice in its RSS
// (the data is mapped twice).  A storm that fills it is counted (lost events,
// inexact processes).
constexpr uint64_t kExporterRingBytes = 8 << 20;

// A scrape builds megabytes of series on an HTTP thread and frees them.  With
// glibc's defaults those blocks come from per-thread arenas that keep what
// they held (RSS grew 60 MiB in 90 s at 2,000 series); big blocks are mapped
// and unmapped (main() fixes the threshold), and two arenas are plenty for
// two threads.
void bound_allocator() { mallopt(M_ARENA_MAX, 2); }

}  // namespace

int run_exporter(const ExporterOptions& o) {
  if (auto r = check_pids_exist(o.pids); !r) return report_error(r.error());
  bound_allocator();
  LiveOptions lo;
  lo.session.pids = o.pids;
  lo.session.all = o.pids.empty();
  lo.session.ring_bytes = kExporterRingBytes;
  lo.interval_s = o.interval_s;
  lo.stop_when_targets_exit = false;
  lo.on_note = print_note;  // series of exited processes stay for grace_s
  if (auto r = apply_cgroup(o.cgroup, lo.session); !r) return report_error(r.error());
  install_stop_signals();
  MetricsOptions mo;
  mo.max_processes = o.max_processes;
  mo.version = FDWATCH_VERSION;
  mo.kernel = kernel_release();
  auto pub = std::make_shared<Published>(mo);
  g_published = pub.get();
  // Listen before loading the probe (seconds): a taken port fails at once,
  // and scrapes meanwhile see fdwatch_build_info and no processes.
  CivetCallbacks cb;
  cb.begin_request = negotiate;
  std::unique_ptr<prometheus::Exposer> http;
  try {
    http = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", o.listen, "num_threads", "2"}, &cb);
  } catch (const std::exception& e) {
    return report_error(Error{"exporter: cannot listen on " + o.listen + ": " + e.what(),
                              "is another exporter running? choose another port with --listen", 0,
                              kExitFailure});
  }
  http->RegisterCollectable(pub);
  AggOptions ao;
  ao.exited_ttl_s = o.grace_s;
  ao.exit_detail = false;  // a grace period's worth of exits: counters only
  Aggregator agg(ao);
  auto live = LiveDriver::open(lo, agg);
  if (!live) return report_error(live.error());
  if (auto r = (*live)->start(); !r) return report_error(r.error());
  pub->publish(agg.snapshot(monotonic_ns(), SnapshotOptions{false, false, {}}));
  auto ports = http->GetListeningPorts();
  std::string what = o.pids.empty() ? "every process" : std::to_string(o.pids.size()) + " processes";
  if (!lo.session.cgroup_path.empty()) what += " of cgroup " + lo.session.cgroup_path;
  ListenAddr la = *parse_listen(o.listen);
  fprintf(stderr, "fdwatch: attached; serving http://%s:%d/metrics (%s)\n", la.host.c_str(),
          ports.empty() ? la.port : ports[0],
          what.c_str());
  return serve(**live, agg, *pub);
}

}  // namespace fdw
